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
	buf  []byte
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
	if len(w.buf) == 0 {
		return nil
	}
	a := w.m.ac.Load()
	var cut int
	if final || a == nil {
		cut = len(w.buf)
	} else {
		// No occurrence that ends beyond the data seen so far can start
		// before len-(maxLen-1).
		cut = max(len(w.buf)-(a.maxLen-1), 0)
	}
	w.sp = a.spans(w.buf, w.sp[:0])
	// Keep a masked range that straddles the cut whole: it may still grow
	// (merge with a later match) and must not be written half in clear.
	n := 0
	for _, s := range w.sp {
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
		out = w.buf[:cut]
	} else {
		out = redact(w.buf[:cut], w.sp[:n])
		if a.hasStar {
			out = a.mask(out)
		}
	}
	if _, err := w.w.Write(out); err != nil {
		w.err = err
		return err
	}
	// Keep the tail; compact so the buffer does not grow without bound.
	rest := copy(w.buf, w.buf[cut:])
	w.buf = w.buf[:rest]
	return nil
}
