package runsecrets

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

// SealedPrefix starts every sealed string this package stores: the sealed
// JSON, base64, after the prefix. The seal's associated data is the run id
// and the JSON pointer of the place the string is stored at, so a sealed
// value copied to another run or another place does not open.
const SealedPrefix = "wfrun-sealed:v1:"

// AttestPrefix starts an Attest text: it holds no data, sealed or not.
const AttestPrefix = "wfrun-attest:v1:"

// journalPointer is where Journal's output is bound (its AAD).
const journalPointer = "/registeredValues"

// Journal returns the values registered so far, sealed for storage with the
// run (in the run document). Restore gives them back to the masker of a
// resumed run, which then masks exactly what the uninterrupted run masked:
// values resolved from templates, HTTP auth credentials, EXEC bundles, both
// sides of an UPDATE_SECRET — including a value the store no longer holds.
// It returns "" when nothing was registered, and the same text until a new
// value is registered.
func (r *Run) Journal() (string, error) {
	reg := r.reg
	reg.mu.Lock()
	n := len(reg.values)
	if n == 0 {
		reg.mu.Unlock()
		return "", nil
	}
	if j, ok := reg.journals[r.id]; ok && j.n == n {
		reg.mu.Unlock()
		return j.text, nil
	}
	plain, err := json.Marshal(reg.values)
	reg.mu.Unlock()
	if err != nil {
		return "", err
	}
	s, err := r.sealString(plain, journalPointer)
	if err != nil {
		return "", err
	}
	reg.mu.Lock()
	if reg.journals == nil {
		reg.journals = map[string]journal{}
	}
	reg.journals[r.id] = journal{n: n, text: s}
	reg.mu.Unlock()
	return s, nil
}

// JournalSince is Journal in pieces, for a store that appends rather than
// rewrites: it seals the values registered after the first from (a count
// an earlier call returned, 0 at first) for storage at ptr, a JSON pointer
// the caller chooses per piece (its position in the run's log, say), and
// returns how many values are registered now. A piece opens only at its
// ptr in this run (RestoreAt), so a piece moved to another position or
// another run does not open. It returns "" when nothing was registered
// since from. The values are counted over the masker the run shares with
// its parent and children (ChildOf).
func (r *Run) JournalSince(from int, ptr string) (sealed string, n int, err error) {
	reg := r.reg
	reg.mu.Lock()
	n = len(reg.values)
	if from < 0 || from > n {
		reg.mu.Unlock()
		return "", n, fmt.Errorf("journal: %d values registered, not %d", n, from)
	}
	if from == n {
		reg.mu.Unlock()
		return "", n, nil
	}
	plain, err := json.Marshal(reg.values[from:n])
	reg.mu.Unlock()
	if err != nil {
		return "", n, err
	}
	sealed, err = r.sealString(plain, ptr)
	return sealed, n, err
}

// Registered is how many values are registered with the run's masker (the
// count JournalSince takes): after the pieces of a resumed run are
// restored, what the next piece starts from.
func (r *Run) Registered() int {
	r.reg.mu.Lock()
	defer r.reg.mu.Unlock()
	return len(r.reg.values)
}

// RestoreAt registers the values of a JournalSince piece stored at ptr.
// The piece is authenticated: one that was edited, truncated, or sealed
// for another position or run is an error wrapping ErrSealed.
func (r *Run) RestoreAt(sealed, ptr string) error {
	plain, err := r.openString(sealed, ptr)
	if err != nil {
		return err
	}
	var values []string
	if err := json.Unmarshal(plain, &values); err != nil {
		return fmt.Errorf("%s: %w: not a list of values", ptr, ErrSealed)
	}
	r.register(values...)
	return nil
}

type journal struct {
	n    int
	text string
}

// Restore registers the values of a Journal text read back from storage.
// The text is authenticated: one that was edited, or that belongs to
// another run, is an error wrapping ErrSealed.
func (r *Run) Restore(text string) error {
	if text == "" {
		return nil
	}
	plain, err := r.openString(text, journalPointer)
	if err != nil {
		return err
	}
	var values []string
	if err := json.Unmarshal(plain, &values); err != nil {
		return fmt.Errorf("%s: %w: not a list of values", journalPointer, ErrSealed)
	}
	r.register(values...)
	return nil
}

func (r *Run) aad(ptr string) []byte { return []byte(r.id + "|" + ptr) }

// sealString seals plain for storage at ptr.
func (r *Run) sealString(plain []byte, ptr string) (string, error) {
	return r.sealAAD(SealedPrefix, plain, ptr, r.aad(ptr))
}

func (r *Run) sealAAD(prefix string, plain []byte, ptr string, aad []byte) (string, error) {
	ct, err := r.ring.Seal(plain, aad)
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", ptr, err)
	}
	return prefix + base64.StdEncoding.EncodeToString(ct), nil
}

// openString opens a sealString result stored at ptr.
func (r *Run) openString(s, ptr string) ([]byte, error) {
	return r.openAAD(SealedPrefix, s, ptr, r.aad(ptr))
}

func (r *Run) openAAD(prefix, s, ptr string, aad []byte) ([]byte, error) {
	if !strings.HasPrefix(s, prefix) {
		return nil, fmt.Errorf("%s: %w: not a sealed value", ptr, ErrSealed)
	}
	ct, err := base64.StdEncoding.DecodeString(s[len(prefix):])
	if err != nil {
		return nil, fmt.Errorf("%s: %w: damaged encoding", ptr, ErrSealed)
	}
	plain, err := r.ring.Open(ct, aad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", ptr, ErrSealed, err)
	}
	return plain, nil
}

// Attest returns a seal over data that keeps none of it: a text of a few
// dozen bytes, stored at ptr beside data (which stays in clear), that
// Verify accepts only for this run, ptr and the same bytes. It is for what
// storage holds in clear but must not be changed, such as the members of
// a run's head that say what the run may read.
func (r *Run) Attest(ptr string, data []byte) (string, error) {
	b, err := r.AppendAttest(nil, ptr, data)
	return string(b), err
}

// AppendAttest appends Attest(ptr, data) to dst (data may be dst itself:
// it is read before dst grows). Its buffers are reused, so an attestation
// per record written costs no allocation of its own.
func (r *Run) AppendAttest(dst []byte, ptr string, data []byte) ([]byte, error) {
	bp := attestBufs.Get().(*[]byte)
	aad := r.appendAttestAAD((*bp)[:0], ptr, data)
	n := len(aad)
	// The ciphertext (id, nonce, tag) goes after the associated data, in
	// the same buffer: they do not overlap.
	buf, err := r.ring.AppendSeal(aad, nil, aad[:n:n])
	if err == nil {
		dst = base64.StdEncoding.AppendEncode(append(dst, AttestPrefix...), buf[n:])
	} else {
		err = fmt.Errorf("seal %s: %w", ptr, err)
	}
	if cap(buf) <= maxAttestBuf {
		*bp = buf[:0]
		attestBufs.Put(bp)
	}
	return dst, err
}

// attestBufs holds buffers for AppendAttest; one larger than maxAttestBuf
// (a record holding a large output) is not kept.
var attestBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxAttestBuf = 64 << 10

// Verify checks an Attest text stored at ptr against data: anything else
// (another run, another place, other bytes, another keyring) is an error
// wrapping ErrSealed that names ptr only.
func (r *Run) Verify(attestation, ptr string, data []byte) error {
	bp := attestBufs.Get().(*[]byte)
	aad := r.appendAttestAAD((*bp)[:0], ptr, data)
	plain, err := r.openAAD(AttestPrefix, attestation, ptr, aad)
	if cap(aad) <= maxAttestBuf {
		*bp = aad[:0]
		attestBufs.Put(bp)
	}
	if err == nil && len(plain) != 0 {
		err = fmt.Errorf("%s: %w: not an attestation", ptr, ErrSealed)
	}
	return err
}

// attestAAD starts with a NUL, which no run id (nor so Seal's data)
// starts with: an attestation is never a seal's.
func (r *Run) appendAttestAAD(aad []byte, ptr string, data []byte) []byte {
	aad = append(append(append(append(aad, attestTag...), r.id...), '|'), ptr...)
	return append(append(aad, '|'), data...)
}

const attestTag = "\x00attest\x00"

// Seal seals plain for storage at ptr (a JSON pointer inside the run): it
// opens only with Open for the same run and pointer.
func (r *Run) Seal(plain []byte, ptr string) (string, error) { return r.sealString(plain, ptr) }

// Open opens a Seal result stored at ptr; anything else (another run,
// another place, edited bytes) is an error wrapping ErrSealed.
func (r *Run) Open(sealed, ptr string) ([]byte, error) { return r.openString(sealed, ptr) }

// SealCompletion seals the output of an externally completed task (wfrun
// task complete, an API) at the moment it is written, so it never rests in
// clear in the run store while it waits for the runner. ref is the task's
// exact reference name; it is bound into the seal.
func (r *Run) SealCompletion(ref string, output []byte) (string, error) {
	return r.sealString(output, completionPointer(ref))
}

// OpenCompletion opens a SealCompletion text for task ref. The runner then
// stores the output through Protect (which registers its `_secrets`
// leaves and masks the rest), like any task output.
func (r *Run) OpenCompletion(ref, sealed string) ([]byte, error) {
	return r.openString(sealed, completionPointer(ref))
}

// SealCompletionReason seals the reasonForIncompletion of an externally
// updated task (or of a signal named ref) at the moment it is written:
// like its output, a reason may quote a value the run protects, and the
// process writing it has no masker for the run. It opens only with
// OpenCompletionReason for the same run and ref, not as an output.
func (r *Run) SealCompletionReason(ref, reason string) (string, error) {
	return r.sealString([]byte(reason), completionReasonPointer(ref))
}

// OpenCompletionReason opens a SealCompletionReason text for ref. The
// runner masks the reason (Excerpt) where it stores or tells it.
func (r *Run) OpenCompletionReason(ref, sealed string) (string, error) {
	b, err := r.openString(sealed, completionReasonPointer(ref))
	return string(b), err
}

func completionPointer(ref string) string { return "/signals/" + escapePointer(ref) + "/output" }

func completionReasonPointer(ref string) string {
	return "/signals/" + escapePointer(ref) + "/reason"
}
