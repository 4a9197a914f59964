package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Audit trail. Every secret operation — a read for a run (with the run id
// and task ref from ForRun), set, delete, tag, list, history, sweep, rekey;
// allowed or denied — appends one AuditEvent. Events never hold a value.
// Each event carries the hash of the one before it, and the sealed m/audit
// record holds the last sequence number and hash, so VerifyAudit detects an
// event that was edited, inserted or removed, including at the end. bolt
// keeps the events in the store file; Redis in a stream.

// Audit operations.
const (
	OpGet     = "get"
	OpSet     = "set"
	OpDelete  = "delete"
	OpTag     = "tag"
	OpList    = "list"
	OpHistory = "history"
	OpSweep   = "sweep"
	OpRekey   = "rekey"
	OpExport  = "export"
	OpImport  = "import"
)

// Audit outcomes.
const (
	OutcomeAllowed  = "allowed"
	OutcomeDenied   = "denied"
	OutcomeNotFound = "not-found"
	OutcomeExpired  = "expired"
	OutcomeFailed   = "failed"
)

// AuditEvent is one audit record.
type AuditEvent struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Principal string    `json:"principal"`
	Op        string    `json:"op"`
	Scope     string    `json:"scope,omitempty"`
	Name      string    `json:"name,omitempty"`
	Version   int64     `json:"version,omitempty"`
	Outcome   string    `json:"outcome"`
	Run       string    `json:"run,omitempty"`
	Task      string    `json:"task,omitempty"`
	Prev      string    `json:"prev"`
	Hash      string    `json:"hash"`
}

// ErrAuditBroken reports an audit trail that fails verification.
var ErrAuditBroken = errors.New("audit trail does not verify")

type ctxKey int

const (
	ctxRun ctxKey = iota
	ctxPrincipal
)

type runInfo struct{ run, task string }

// runCtx is context.WithValue(parent, ctxRun, &info) in one allocation:
// every task of a run is marked once (ForRun), on the engine's hot path.
type runCtx struct {
	context.Context
	info runInfo
}

func (c *runCtx) Value(key any) any {
	if k, ok := key.(ctxKey); ok && k == ctxRun {
		return &c.info
	}
	return c.Context.Value(key)
}

func (c *runCtx) String() string { return fmt.Sprintf("%v.WithValue(store.ForRun)", c.Context) }

// ForRun returns ctx carrying the run id and task ref a secret read is made
// for; the store's audit trail records them with the read.
func ForRun(ctx context.Context, runID, taskRef string) context.Context {
	return &runCtx{Context: ctx, info: runInfo{runID, taskRef}}
}

// runInfoOf is what ForRun put in ctx (empty when nothing).
func runInfoOf(ctx context.Context) runInfo {
	if ri, _ := ctx.Value(ctxRun).(*runInfo); ri != nil {
		return *ri
	}
	return runInfo{}
}

// RunOf returns the run id and task ref ForRun put in ctx ("" when none).
func RunOf(ctx context.Context) (runID, taskRef string) {
	ri := runInfoOf(ctx)
	return ri.run, ri.task
}

func withPrincipal(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, ctxPrincipal, name)
}

// outcomeOf classifies an operation's error for the audit trail.
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return OutcomeAllowed
	case errors.Is(err, ErrForbidden):
		return OutcomeDenied
	case errors.Is(err, ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, ErrExpired):
		return OutcomeExpired
	}
	return OutcomeFailed
}

// auditor is implemented by stores that keep an audit trail (the Barrier,
// and wrappers that pass events down to one).
type auditor interface {
	auditEvents(ctx context.Context, evs ...AuditEvent) error
}

// audit records evs in s's trail when s keeps one.
func audit(ctx context.Context, s Store, evs ...AuditEvent) error {
	if a, ok := s.(auditor); ok && len(evs) > 0 {
		return a.auditEvents(ctx, evs...)
	}
	return nil
}

func (s *Barrier) auditEvents(ctx context.Context, evs ...AuditEvent) error {
	return s.sh.audit.append(ctx, evs...)
}

// auditedReader is a store that can read keys and record the reads' audit
// events in one step: the events are committed on condition that the
// records read are unchanged, so the read takes effect when its audit
// record does (no write can slip in between).
type auditedReader interface {
	readAudited(ctx context.Context, keys []Key, decide func(map[Key]*Secret, map[Key]error) []AuditEvent) error
}

// readAudited reads keys from s, lets decide turn the result into audit
// events, and records them.
func readAudited(ctx context.Context, s Store, keys []Key, decide func(map[Key]*Secret, map[Key]error) []AuditEvent) error {
	if ar, ok := s.(auditedReader); ok {
		return ar.readAudited(ctx, keys, decide)
	}
	found, errs, err := GetKeys(ctx, s, keys)
	if err != nil {
		return err
	}
	return audit(ctx, s, decide(found, errs)...)
}

func (s *Barrier) readAudited(ctx context.Context, keys []Key, decide func(map[Key]*Secret, map[Key]error) []AuditEvent) error {
	if rc, ok := s.sh.st.(ReadCommitter); ok {
		if done, err := s.readAuditedOnce(ctx, rc, keys, decide); done {
			return err
		}
	}
	for range 100 {
		found, errs, conds, err := s.getKeys(ctx, keys)
		if err != nil {
			return err
		}
		evs := decide(found, errs)
		if len(evs) == 0 {
			return nil
		}
		err = s.sh.audit.commitWith(ctx, conds, nil, evs...)
		if errors.Is(err, ErrConflict) {
			continue // a record changed since it was read: read again
		}
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		return nil
	}
	return fmt.Errorf("audit: %w: the secrets kept changing while being read", ErrConflict)
}

type auditLog struct {
	b  *barrier
	mu sync.Mutex // one appender per process: no CAS retries among our own goroutines
	// The head this process last wrote or read: an append commits against
	// it without reading it first, and re-reads only when another process
	// appended meanwhile (the commit's condition fails).
	cached     bool
	headData   []byte
	headRecord auditHead

	flush sync.Mutex // held by the caller committing the queue
	qmu   sync.Mutex
	queue []*pendingAudit
}

const auditHeadKey = "m/audit"

type auditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	// NameKey keys the fingerprints of names no secret holds (blindName).
	// It lives in the sealed head, so rekey seals it again with the head
	// and every process appending to the trail shares it.
	NameKey []byte `json:"nameKey,omitempty"`
}

func auditKey(seq int64) string { return fmt.Sprintf("%s%016x", auditPrefix, seq) }

// hashEvent is the hex SHA-256 of e's JSON with Hash empty.
func hashEvent(e AuditEvent) string {
	e.Hash = ""
	b, _ := json.Marshal(e)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (l *auditLog) head(ctx context.Context) ([]byte, auditHead, error) {
	got, err := l.b.st.Get(ctx, auditHeadKey)
	if err != nil || got[0] == nil {
		return nil, auditHead{}, err
	}
	h, err := l.openHead(got[0])
	if err != nil {
		return nil, auditHead{}, err
	}
	return got[0], h, nil
}

// openHead authenticates and decodes the sealed head record data (nil: the
// trail is empty).
func (l *auditLog) openHead(data []byte) (auditHead, error) {
	if data == nil {
		return auditHead{}, nil
	}
	pt, err := l.b.ring.Open(data, recordAAD(auditHeadKey))
	if err != nil {
		return auditHead{}, fmt.Errorf("%w: the audit head record %q does not open", ErrAuditBroken, auditHeadKey)
	}
	var h auditHead
	if err := json.Unmarshal(pt, &h); err != nil {
		return auditHead{}, fmt.Errorf("%w: the audit head record is malformed", ErrAuditBroken)
	}
	return h, nil
}

// record appends one event, best effort, for operations whose result is
// already committed.
func (l *auditLog) record(ctx context.Context, e AuditEvent) { _ = l.append(ctx, e) }

// append adds evs to the chain and returns once they are committed.
// Concurrent appends are committed together (group commit): the first
// caller to get the appender's lock commits every event queued so far, so
// many concurrent reads cost one storage commit, not one each.
func (l *auditLog) append(ctx context.Context, evs ...AuditEvent) error {
	principal, _ := ctx.Value(ctxPrincipal).(string)
	ri := runInfoOf(ctx)
	for i := range evs {
		if evs[i].Principal == "" {
			evs[i].Principal = principal
		}
		if evs[i].Run == "" {
			evs[i].Run, evs[i].Task = ri.run, ri.task
		}
	}
	me := &pendingAudit{evs: evs, done: make(chan error, 1)}
	l.qmu.Lock()
	l.queue = append(l.queue, me)
	l.qmu.Unlock()

	l.flush.Lock()
	select {
	case err := <-me.done: // committed by another caller's flush
		l.flush.Unlock()
		return err
	default:
	}
	l.qmu.Lock()
	batch := l.queue
	l.queue = nil
	l.qmu.Unlock()
	var all []AuditEvent
	for _, p := range batch {
		all = append(all, p.evs...)
	}
	err := l.commitWith(ctx, nil, nil, all...)
	if err != nil {
		err = fmt.Errorf("audit: %w", err)
	}
	for _, p := range batch {
		p.done <- err
	}
	l.flush.Unlock()
	return <-me.done
}

type pendingAudit struct {
	evs  []AuditEvent
	done chan error
}

// commitWith commits writes under conds together with evs appended to the
// chain, so a change and its audit record are one atomic commit. A conflict
// on the chain's head alone (another process appended) is retried; a
// conflict on conds is returned (ErrConflict).
func (l *auditLog) commitWith(ctx context.Context, conds []Cond, writes []Write, evs ...AuditEvent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	principal, _ := ctx.Value(ctxPrincipal).(string)
	ri := runInfoOf(ctx)
	now := l.b.now().UTC().Truncate(time.Millisecond)
	for range 100 {
		if !l.cached {
			data, h, err := l.head(ctx)
			if err != nil {
				return err
			}
			l.cached, l.headData, l.headRecord = true, data, h
		}
		headData := l.headData
		chain, h, hdata, err := l.chain(l.headRecord, now, principal, ri, evs)
		if err != nil {
			return err
		}
		all := append(append([]Write(nil), writes...), chain...)
		err = l.b.st.Commit(ctx, append([]Cond{{auditHeadKey, headData}}, conds...), all)
		if errors.Is(err, ErrConflict) {
			data, fresh, herr := l.head(ctx)
			if herr != nil {
				l.cached = false
				return herr
			}
			if string(data) == string(headData) {
				return err // the caller's condition failed, not the chain's
			}
			l.headData, l.headRecord = data, fresh // another process appended: again
			continue
		}
		if err != nil {
			l.cached = false
			return err
		}
		l.headData, l.headRecord = hdata, h
		l.b.remember(all)
		return nil
	}
	return fmt.Errorf("%w: gave up after 100 concurrent audit appends", ErrConflict)
}

// chain links evs after head h: it returns the writes of the events and of
// the new sealed head (last), the new head and its sealed data.
func (l *auditLog) chain(h auditHead, now time.Time, principal string, ri runInfo, evs []AuditEvent) (_ []Write, _ auditHead, _ []byte, err error) {
	all := make([]Write, 0, len(evs)+1)
	for _, e := range evs {
		if e.Principal == "" {
			e.Principal = principal
		}
		if e.Run == "" {
			e.Run, e.Task = ri.run, ri.task
		}
		if blindName(e) {
			if h.NameKey == nil {
				if h.NameKey, err = newNameKey(); err != nil {
					return nil, h, nil, err
				}
			}
			e.Name = nameFingerprint(h.NameKey, e.Name)
		}
		e.Time = now
		e.Seq = h.Seq + 1
		e.Prev = h.Hash
		e.Hash = hashEvent(e)
		data, err := json.Marshal(e)
		if err != nil {
			return nil, h, nil, err
		}
		all = append(all, Write{auditKey(e.Seq), data})
		h.Seq, h.Hash = e.Seq, e.Hash
	}
	pt, _ := json.Marshal(h)
	hdata, err := l.b.ring.Seal(pt, recordAAD(auditHeadKey))
	if err != nil {
		return nil, h, nil, err
	}
	return append(all, Write{auditHeadKey, hdata}), h, hdata, nil
}

// AuditFilter selects events for ReadAudit.
type AuditFilter struct {
	Name string // only events about this secret name (or its fingerprint)
	Run  string // only events for this run id
}

// ReadAudit returns the events matching f, oldest first. A name filter
// also matches the events that record the name by its fingerprint.
func (s *Barrier) ReadAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	fp := ""
	if f.Name != "" {
		_, h, err := s.sh.audit.head(ctx)
		if err != nil {
			return nil, err
		}
		if h.NameKey != nil {
			fp = nameFingerprint(h.NameKey, f.Name)
		}
	}
	var out []AuditEvent
	err := s.sh.audit.each(ctx, func(_ string, e AuditEvent, _ error) error {
		if (f.Name == "" || e.Name == f.Name || (fp != "" && e.Name == fp)) && (f.Run == "" || e.Run == f.Run) {
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func (l *auditLog) each(ctx context.Context, fn func(key string, e AuditEvent, decodeErr error) error) error {
	after := ""
	for {
		keys, err := l.b.st.List(ctx, auditPrefix, after, 500)
		if err != nil || len(keys) == 0 {
			return err
		}
		got, err := l.b.st.Get(ctx, keys...)
		if err != nil {
			return err
		}
		for i, k := range keys {
			var e AuditEvent
			derr := json.Unmarshal(got[i], &e)
			if err := fn(k, e, derr); err != nil {
				return err
			}
		}
		after = keys[len(keys)-1]
	}
}

// VerifyAudit checks the whole chain: every event's hash, its link to the
// one before, consecutive sequence numbers, and the sealed head (so a
// removed last event is found too). It returns how many events it checked;
// a failure names the first event that does not verify. Then it checks the
// secrets against the trail (checkRecords): a current record an older
// sealed copy of itself replaced, or one put back after its delete, is an
// ErrIntegrity naming the secret.
func (s *Barrier) VerifyAudit(ctx context.Context) (int, error) {
	l := s.sh.audit
	_, h, err := l.head(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	prev := ""
	last := map[Key]AuditEvent{}
	err = l.each(ctx, func(k string, e AuditEvent, derr error) error {
		if derr == nil {
			noteWrite(last, e)
		}
		n++
		where := fmt.Sprintf("record %d (%s)", n, k)
		switch {
		case derr != nil:
			return fmt.Errorf("%w: %s is not an audit record", ErrAuditBroken, where)
		case k != auditKey(e.Seq) || e.Seq != n:
			return fmt.Errorf("%w: %s: expected sequence %d, found %d (a record was inserted or removed before it)", ErrAuditBroken, where, n, e.Seq)
		case e.Prev != prev:
			return fmt.Errorf("%w: %s (seq %d): its link to the previous record is broken (a record was edited, inserted or removed before it)", ErrAuditBroken, where, e.Seq)
		case hashEvent(e) != e.Hash:
			return fmt.Errorf("%w: %s (seq %d, %s %q): its content was edited", ErrAuditBroken, where, e.Seq, e.Op, e.Name)
		}
		prev = e.Hash
		return nil
	})
	if err != nil {
		return int(n), err
	}
	if h.Seq != n || h.Hash != prev {
		return int(n), fmt.Errorf("%w: the trail ends at record %d but the head says %s; records were removed from the end or added after it", ErrAuditBroken, n, strconv.FormatInt(h.Seq, 10))
	}
	return int(n), s.checkRecords(ctx, last)
}

// noteWrite keeps, by secret, the last event of the trail that wrote or
// removed its current record.
func noteWrite(last map[Key]AuditEvent, e AuditEvent) {
	if e.Outcome != OutcomeAllowed {
		return
	}
	switch e.Op {
	case OpSet, OpTag, OpImport, OpDelete, OpSweep:
	default:
		return
	}
	sc, err := ParseScopeKey(e.Scope)
	if err != nil {
		return
	}
	last[Key{sc, e.Name}] = e
}

// checkRecords compares every current record with the trail's last write
// of it. Each record opens only under its own key, but storage could still
// hold an older sealed copy of a record put back in its place (a rotated
// token restored, a deleted secret brought back): the record's version then
// is not the one the trail wrote last. The read path does not look (it
// would cost a read of the trail per read); this check does. What it
// cannot see: the trail and the records put back together to an earlier
// state of the whole store (SECURITY.md).
func (s *Barrier) checkRecords(ctx context.Context, last map[Key]AuditEvent) error {
	seen := map[Key]bool{}
	err := s.sh.eachCurrent(ctx, func(k Key, sec *Secret) error {
		seen[k] = true
		e, ok := last[k]
		switch {
		case !ok:
			return fmt.Errorf("%w: secret %q (%s) is stored at version %d, which the audit trail never wrote: written around the store", ErrIntegrity, k.Name, k.Scope, sec.Version)
		case e.Op == OpDelete || e.Op == OpSweep:
			return fmt.Errorf("%w: secret %q (%s) is stored at version %d, but the audit trail deleted it (record %d): a deleted secret was put back", ErrIntegrity, k.Name, k.Scope, sec.Version, e.Seq)
		case e.Version != sec.Version:
			return fmt.Errorf("%w: secret %q (%s) is stored at version %d, but the audit trail last wrote version %d (record %d): an older copy of the record was put back", ErrIntegrity, k.Name, k.Scope, sec.Version, e.Version, e.Seq)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k, e := range last {
		if !seen[k] && e.Op != OpDelete && e.Op != OpSweep {
			return fmt.Errorf("%w: secret %q (%s): the audit trail wrote version %d (record %d), the store holds none: removed around the store", ErrIntegrity, k.Name, k.Scope, e.Version, e.Seq)
		}
	}
	return nil
}

// Auditor is a store that keeps an audit trail (every Barrier, and a
// layered store holding one).
type Auditor interface {
	ReadAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	VerifyAudit(ctx context.Context) (int, error)
}

var _ Auditor = (*Barrier)(nil)

// AuditorOf returns the store in s that keeps the audit trail.
func AuditorOf(s Store) (Auditor, bool) {
	switch v := s.(type) {
	case Auditor:
		return v, true
	case *layered:
		for _, l := range v.layers {
			if a, ok := AuditorOf(l); ok {
				return a, true
			}
		}
	}
	return nil, false
}
