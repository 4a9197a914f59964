package masking

import "io"

// Writer masks a byte stream. A registered value split across Write calls is
// still masked: the Writer holds back the last (longest pattern − 1) bytes,
// which is the most a partial occurrence can span, plus any masked range that
// crosses that boundary. Everything before is masked and written through.
//
// Call Flush or Close to write what is held back. A Writer is not safe for
// concurrent use (the Masker it uses is).
type Writer struct {
	m    *Masker
	w    io.Writer
	buf  []byte // buf[:keep] was written already and is only context
	keep int
	sp   []span
	err  error
	done bool
}

// NewWriter returns a Writer that writes the masked stream to w.
func (m *Masker) NewWriter(w io.Writer) *Writer {
	return &Writer{m: m, w: w}
}

// Write masks and writes p, holding back a bounded tail. It returns len(p)
// unless the underlying writer failed; after an error every call returns it.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, io.ErrClosedPipe
	}
	w.buf = append(w.buf, p...)
	if err := w.emit(false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush masks and writes everything held back. Values that continue in a
// later Write are no longer recognised across the flush point.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	return w.emit(true)
}

// Close flushes the Writer. It does not close the underlying writer. Writes
// after Close fail.
func (w *Writer) Close() error {
	err := w.Flush()
	w.done = true
	return err
}

func (w *Writer) emit(final bool) error {
	if len(w.buf) == w.keep {
		return nil
	}
	mt := w.m.snap.Load()
	hold := -1
	if !final && !mt.empty() {
		// No occurrence that ends beyond the data seen so far can start
		// more than maxLen-1 bytes before the end of any view of it; the
		// slack covers an escape or a line break whose decoding the next
		// bytes may still change.
		hold = mt.maxLen - 1 + viewSlack
	}
	var cut int
	w.sp, cut = mt.scan(w.buf, w.sp[:0], hold)
	w.m.noteScan(mt, len(w.buf)-w.keep)
	if cut <= w.keep {
		return nil
	}
	// Spans are relative to the data not written yet; the context before
	// it was written (masked) already.
	sp := w.sp[:0]
	for _, s := range w.sp {
		if s.end <= w.keep {
			continue
		}
		s.start = max(s.start, w.keep) - w.keep
		s.end -= w.keep
		sp = append(sp, s)
	}
	cut -= w.keep
	pending := w.buf[w.keep:]
	// Keep a masked range that straddles the cut whole: it may still grow
	// (merge with a later match) and must not be written half in clear.
	n := 0
	for _, s := range sp {
		if s.start >= cut {
			break
		}
		if s.end > cut {
			cut = s.start
			break
		}
		n++
	}
	if cut == 0 {
		return nil
	}
	var out []byte
	if n == 0 {
		out = pending[:cut]
	} else {
		out = redact(pending[:cut], sp[:n])
		if mt.hasStar {
			out = mt.mask(out)
		}
	}
	if _, err := w.w.Write(out); err != nil {
		w.err = err
		return err
	}
	// Keep the tail and a little written context before it (whether a view
	// joins a line break depends on the text before it); compact so the
	// buffer does not grow without bound.
	cut += w.keep
	from := max(cut-writerContext, 0)
	rest := copy(w.buf, w.buf[from:])
	w.buf = w.buf[:rest]
	w.keep = cut - from
	return nil
}

// writerContext is how much already written text a Writer keeps in front
// of what it holds back, so that views of the rest are built as in the
// whole stream (see joinBreaks, which looks back minJoinRun view bytes).
const writerContext = 256
