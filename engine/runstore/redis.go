package runstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/internal/redisurl"
)

// Redis is a Store over a go-redis UniversalClient. All keys share the hash
// tag {wfrun-runs} so that the MULTI/EXEC of Commit and Archive touches one
// Cluster slot. A primary record is one hash (fields head, input, output,
// variables, taskDefs, testMocks, def, t:<seq> and l:<pos>), a definition
// one string under its hash, a lease one string with a TTL.
type Redis struct {
	c       redis.UniversalClient
	prefix  string
	owned   bool
	gc      groupCommit[redisOp]
	commits atomic.Int64
	bytes   atomic.Int64
	// presence keeps the presence keys of this store's lease owners
	// (presence.go).
	presence presence
}

// redisOp queues one write's commands in the shared MULTI/EXEC and returns
// how to read its result once the transaction ran.
type redisOp func(p redis.Pipeliner) (result func() error)

var _ Store = (*Redis)(nil)

// NewRedis returns a Store over an existing client (not closed by Close).
func NewRedis(c redis.UniversalClient) *Redis {
	return &Redis{c: c, prefix: "wfrun:{wfrun-runs}:"}
}

// OpenRedis parses a redis:// or rediss:// URL and returns a Store that owns
// its client.
func OpenRedis(url string) (*Redis, error) {
	opt, err := redisurl.Parse(url)
	if err != nil {
		return nil, fmt.Errorf("run store: bad Redis URL: %w", err)
	}
	r := NewRedis(redis.NewClient(opt))
	r.owned = true
	return r, nil
}

func (r *Redis) key(kind, id string) string { return r.prefix + kind + ":" + id }
func (r *Redis) indexKey() string           { return r.prefix + "index" }

// Stats implements StatsReporter.
func (r *Redis) Stats() Stats { return Stats{Commits: r.commits.Load(), Bytes: r.bytes.Load()} }

func unavailable(err error) error {
	var le *LeasedError
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotEnded) || errors.Is(err, ErrArchived) || errors.As(err, &le) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: redis: %v", ErrUnavailable, err)
}

func taskField(seq int) string { return paddedField('t', seq) }

func logField(pos int) string { return paddedField('l', pos) }

// refField is the field of an entry of the run's reference index; its
// value is the seq in decimal.
func refField(ref string) string { return "r:" + ref }

// paddedField is tag ":" n with n zero-padded to ten digits (fmt's
// "%010d", without its allocations).
func paddedField(tag byte, n int) string {
	if n < 0 || n > 9999999999 {
		return fmt.Sprintf("%c:%010d", tag, n)
	}
	b := [12]byte{tag, ':', '0', '0', '0', '0', '0', '0', '0', '0', '0', '0'}
	for i := len(b) - 1; n > 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[:])
}

// changeFields are the fields a change sets in a primary record's hash.
func changeFields(ch *Change) []any {
	return appendChangeFields(make([]any, 0, 2*changeFieldCount(ch)), ch)
}

// changeFieldCount is how many fields a change sets.
func changeFieldCount(ch *Change) int {
	n := len(ch.Tasks) + len(ch.Log)
	for _, r := range ch.Refs {
		if r.Ref != "" && r.Seq > 0 {
			n++
		}
	}
	for _, v := range [...][]byte{ch.Head, ch.Input, ch.Output, ch.Variables, ch.TaskDefs, ch.Mocks} {
		if v != nil {
			n++
		}
	}
	if ch.DefinitionHash != "" {
		n++
	}
	return n
}

// appendChangeFields appends the field/value pairs a change sets.
func appendChangeFields(fields []any, ch *Change) []any {
	for _, kv := range [...]struct {
		k string
		v []byte
	}{{"head", ch.Head}, {"input", ch.Input}, {"output", ch.Output}, {"variables", ch.Variables}, {"taskDefs", ch.TaskDefs}, {"testMocks", ch.Mocks}} {
		if kv.v != nil {
			fields = append(fields, kv.k, kv.v)
		}
	}
	for _, t := range ch.Tasks {
		fields = append(fields, taskField(t.Seq), t.Doc)
	}
	for _, e := range ch.Log {
		fields = append(fields, logField(e.Pos), e.Doc)
	}
	for _, r := range ch.Refs {
		if r.Ref != "" && r.Seq > 0 {
			fields = append(fields, refField(r.Ref), strconv.Itoa(r.Seq))
		}
	}
	if ch.DefinitionHash != "" {
		fields = append(fields, "def", ch.DefinitionHash)
	}
	return fields
}

// deletedFields are the fields a change deletes from a primary record's
// hash: its deleted task records and reference index entries.
func deletedFields(ch *Change) []string {
	var del []string
	for _, seq := range ch.DeleteTasks {
		del = append(del, taskField(seq))
	}
	for _, r := range ch.Refs {
		if r.Ref != "" && r.Seq <= 0 {
			del = append(del, refField(r.Ref))
		}
	}
	return del
}

// queueChange queues a change's commands (Restore's, after the record and
// the archive were deleted) and returns them; sumJS is its encoded
// summary.
func (r *Redis) queueChange(ctx context.Context, p redis.Pipeliner, id string, ch *Change, sumJS []byte) []redis.Cmder {
	var cmds []redis.Cmder
	fields := changeFields(ch)
	if ch.DefinitionHash != "" {
		if ch.Definition != nil {
			cmds = append(cmds, p.SetNX(ctx, r.key("def", ch.DefinitionHash), ch.Definition, 0))
		}
		cmds = append(cmds, p.Del(ctx, r.key("run", id))) // a document of an earlier version
	}
	if len(fields) > 0 {
		cmds = append(cmds, p.HSet(ctx, r.key("p", id), fields...))
	}
	if ch.RunTag != "" { // taskindex.go
		cmds = append(cmds, p.SAdd(ctx, r.taggedKey(ch.RunTag), id), p.HSet(ctx, r.runTagsKey(), id, ch.RunTag))
	}
	if del := deletedFields(ch); len(del) > 0 {
		cmds = append(cmds, p.HDel(ctx, r.key("p", id), del...))
	}
	return append(cmds, p.HSet(ctx, r.indexKey(), id, sumJS))
}

// commitGuard ends Commit's share of the MULTI/EXEC, after the plain HSET
// and HDEL of the change's fields: a MULTI/EXEC cannot make a command
// depend on what a key holds, so the script looks at the archive after
// those commands ran and undoes them when it exists. Not archived: it
// writes the summary to the index (and for a change that carries the
// definition deletes the document of an earlier version and stores the
// definition) and answers 1. Archived: it deletes the primary record, the
// one those commands wrote to (none is kept beside an archive: one an
// earlier version wrote after the archive goes too, as Load would return
// it instead of the archive), and answers 0. The transaction runs as one
// step, so no client ever sees the undone writes. The script travels as
// text (EVAL), never by its hash: a server that does not know the hash
// (new, restarted, its scripts flushed) would answer NOSCRIPT to the
// script alone and leave the writes before it in place, unguarded.
// A commit that finds the runs' index empty also marks the task index
// complete (taskindex.go): no run is in the store that it missed.
// KEYS: the archive, the primary record, the index, the task index's
// mark and, with the definition, the document of an earlier version and
// the definition. ARGV: the run id, its summary and the definition's text
// to store when it has none yet.
const commitGuard = `if redis.call('EXISTS',KEYS[1])==1 then redis.call('DEL',KEYS[2]) return 0 end
if KEYS[5] then redis.call('DEL',KEYS[5]) if ARGV[3] then redis.call('SET',KEYS[6],ARGV[3],'NX') end end
if redis.call('HLEN',KEYS[3])==0 then redis.call('SET',KEYS[4],'1','NX') end
redis.call('HSET',KEYS[3],ARGV[1],ARGV[2]) return 1`

// commitOp queues Commit's change: the HSET and HDEL of the primary
// record as they are, then commitGuard.
func (r *Redis) commitOp(ctx context.Context, id string, ch *Change, sumJS []byte) redisOp {
	var pk any = r.key("p", id) // boxed once for both commands and the guard
	archive, index := r.key("archive", id), r.indexKey()
	var guard []any
	if ch.DefinitionHash == "" {
		guard = []any{"eval", commitGuard, 4, archive, pk, index, r.taskDoneKey(), id, sumJS}
	} else {
		guard = []any{"eval", commitGuard, 6, archive, pk, index, r.taskDoneKey(), r.key("run", id), r.key("def", ch.DefinitionHash), id, sumJS, ch.Definition}
		if ch.Definition == nil {
			guard = guard[:len(guard)-1]
		}
	}
	var set []any
	if n := changeFieldCount(ch); n > 0 {
		set = appendChangeFields(append(make([]any, 0, 2+2*n), "hset", pk), ch)
	}
	var del []any
	if fields := deletedFields(ch); len(fields) > 0 {
		del = make([]any, 0, 2+len(fields))
		del = append(del, "hdel", pk)
		for _, f := range fields {
			del = append(del, f)
		}
	}
	return func(p redis.Pipeliner) func() error {
		var setCmd, delCmd, hsetCmd, saddCmd *redis.Cmd
		if set != nil {
			setCmd = p.Do(ctx, set...)
		}
		if del != nil {
			delCmd = p.Do(ctx, del...)
		}
		if ch.RunTag != "" { // taskindex.go
			saddCmd = p.Do(ctx, "sadd", r.taggedKey(ch.RunTag), id)
			hsetCmd = p.Do(ctx, "hset", r.runTagsKey(), id, ch.RunTag)
		}
		guardCmd := p.Do(ctx, guard...)
		return func() error {
			for _, c := range [4]*redis.Cmd{setCmd, delCmd, hsetCmd, saddCmd} {
				if c != nil && c.Err() != nil {
					return c.Err()
				}
			}
			n, err := guardCmd.Int64()
			switch {
			case err != nil:
				return err
			case n == 0:
				return archivedError(id)
			}
			return nil
		}
	}
}

// firstErr is the result of a write: the first error of its commands.
func firstErr(cmds []redis.Cmder) func() error {
	return func() error {
		for _, c := range cmds {
			if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
		}
		return nil
	}
}

// write runs op in a MULTI/EXEC shared with the concurrent writes of this
// process (group commit): concurrent runs share round trips. A cancelled
// ctx does not interrupt a transaction that was sent.
func (r *Redis) write(ctx context.Context, id string, once bool, size int, op redisOp) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return unavailable(r.gc.do(r.runBatch(ctx), newReq(id, once, size, op)))
}

func (r *Redis) runBatch(ctx context.Context) func([]*commitReq[redisOp]) {
	return func(batch []*commitReq[redisOp]) {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		results := make([]func() error, len(batch))
		_, err := r.c.TxPipelined(tctx, func(p redis.Pipeliner) error {
			for i, req := range batch {
				results[i] = req.op(p)
			}
			return nil
		})
		if err != nil && !isCommandError(err) {
			// The transaction did not run (connection, timeout): every
			// write of the batch fails with it.
			for _, req := range batch {
				req.done <- err
			}
			return
		}
		r.commits.Add(1)
		for i, req := range batch {
			err := results[i]()
			if err == nil {
				r.bytes.Add(int64(req.size))
			}
			req.done <- err
		}
	}
}

// isCommandError reports an error of one command inside a transaction that
// ran (the others' results stand).
func isCommandError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !strings.HasPrefix(re.Error(), "EXECABORT")
}

// Commit implements Store: one MULTI/EXEC, shared with concurrent writes,
// in which commitGuard keeps the change unless the run is archived; a
// lease to take is checked by a script first (and let go again when the
// run is archived).
func (r *Redis) Commit(ctx context.Context, id string, ch *Change) error {
	if err := CheckRunID(id); err != nil {
		return err
	}
	sumJS, err := encodeSummary(id, ch.Summary, false)
	if err != nil {
		return err
	}
	if ch.Lease != nil {
		if err := r.AcquireLease(ctx, id, *ch.Lease, ch.LeaseTTL); err != nil {
			return err
		}
	}
	err = r.write(ctx, id, false, ch.Size(), r.commitOp(ctx, id, ch, sumJS))
	if errors.Is(err, ErrArchived) && ch.Lease != nil {
		_ = r.ReleaseLease(context.WithoutCancel(ctx), id, ch.Lease.Owner)
	}
	return err
}

// Load implements Store.
func (r *Redis) Load(ctx context.Context, id string) ([]byte, bool, error) {
	var prim *redis.MapStringStringCmd
	var arch, legacy *redis.StringCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		prim = p.HGetAll(ctx, r.key("p", id))
		arch = p.Get(ctx, r.key("archive", id))
		legacy = p.Get(ctx, r.key("run", id))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, unavailable(err)
	}
	if m := prim.Val(); len(m) > 0 {
		pt := parts{tasks: map[int][]byte{}}
		for k, v := range m {
			switch {
			case strings.HasPrefix(k, "t:"):
				n, err := strconv.Atoi(k[2:])
				if err == nil {
					pt.tasks[n] = []byte(v)
				}
			case strings.HasPrefix(k, "l:"):
				n, err := strconv.Atoi(k[2:])
				if err == nil {
					if pt.log == nil {
						pt.log = map[int][]byte{}
					}
					pt.log[n] = []byte(v)
				}
			case k == "head":
				pt.head = []byte(v)
			case k == "input":
				pt.input = []byte(v)
			case k == "output":
				pt.output = []byte(v)
			case k == "variables":
				pt.variables = []byte(v)
			case k == "taskDefs":
				pt.taskDefs = []byte(v)
			case k == "testMocks":
				pt.mocks = []byte(v)
			case k == "def":
				pt.defHash = v
			}
		}
		def, err := r.c.Get(ctx, r.key("def", pt.defHash)).Bytes()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, false, unavailable(err)
		}
		doc, err := pt.assemble(def)
		if err != nil {
			return nil, false, fmt.Errorf("run %s: %w", id, err)
		}
		return doc, false, nil
	}
	if s, err := legacy.Bytes(); err == nil {
		return s, false, nil
	}
	if s, err := arch.Bytes(); err == nil {
		return s, true, nil
	}
	return nil, false, ErrNotFound
}

// List implements Store.
func (r *Redis) List(ctx context.Context, opt ListOptions) ([]Summary, error) {
	m, err := r.c.HGetAll(ctx, r.indexKey()).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	all := make([]Summary, 0, len(m))
	var running []int
	for _, v := range m {
		var s Summary
		if json.Unmarshal([]byte(v), &s) == nil {
			if !s.Archived {
				running = append(running, len(all))
			}
			all = append(all, s)
		}
	}
	if len(running) > 0 {
		keys := make([]string, len(running))
		for i, n := range running {
			keys[i] = r.key("lease", all[n].ID)
		}
		vals, err := r.c.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, unavailable(err)
		}
		for i, v := range vals {
			if s, ok := v.(string); ok {
				if l, ok := decodeLease([]byte(s)); ok {
					all[running[i]].Lease = &l
				}
			}
		}
		leases := make([]*Lease, len(running))
		for i, n := range running {
			leases[i] = all[n].Lease
		}
		if err := r.markLapsed(ctx, leases); err != nil {
			return nil, err
		}
	}
	return sortSummaries(all, opt), nil
}

// archiveScript is Archive's write unless the run is archived already
// with no primary record (then it writes nothing and answers "archived":
// another process ended the run first). KEYS: the archive, the primary
// record, the document of an earlier version, the signals, the lease, the
// index, the set of the run's answer slots, then the slots' hashes. ARGV:
// the run id, the archived document, its summary, then the slots' keys
// (slots.go: a slot holding an answer stays).
var archiveScript = redis.NewScript(archiveSrc)

var archiveSrc = `
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('EXISTS', KEYS[2], KEYS[3]) == 0 then return 'archived' end` +
	slotsScriptPart(7, 8, 4, true) + `
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('HSET', KEYS[6], ARGV[1], ARGV[3])` + slotsScriptDel(7, 8, 4) + `
return 'ok'`

// scriptWrite is a write made by script sc in the shared MULTI/EXEC, sent
// by its hash and, once per server (and after its scripts were flushed),
// by its text, which caches it. A result "archived" is refused(id).
func (r *Redis) scriptWrite(ctx context.Context, id string, once bool, size int, sc *redis.Script, keys []string, args []any, refused func(string) error) error {
	write := func(sha bool) error {
		return r.gc.do(r.runBatch(ctx), newReq(id, once, size, redisOp(func(p redis.Pipeliner) func() error {
			var cmd *redis.Cmd
			if sha {
				cmd = sc.EvalSha(ctx, p, keys, args...)
			} else {
				cmd = sc.Eval(ctx, p, keys, args...)
			}
			return func() error {
				res, err := cmd.Text()
				switch {
				case err != nil:
					return err
				case res == "archived":
					return refused(id)
				case res == slotsStale:
					return errSlotsStale
				}
				return nil
			}
		})))
	}
	err := ctx.Err()
	if err == nil {
		if err = write(true); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			err = write(false)
		}
	}
	return err
}

// Archive implements Store with a script in one MULTI/EXEC (shared like
// Commit's) that writes nothing when the run is archived already with no
// primary record. The run's slots are read first (runSlots), and again
// while the script finds their set changed meanwhile.
func (r *Redis) Archive(ctx context.Context, id string, archived []byte, sum Summary) error {
	r.dropRun(id) // its lease goes with it
	sumJS, err := encodeSummary(id, sum, true)
	if err != nil {
		return err
	}
	for range slotsRetries {
		hashes, slots, err := r.runSlots(ctx, id)
		if err != nil {
			return err
		}
		keys := append([]string{r.key("archive", id), r.key("p", id), r.key("run", id), r.key("signals", id), r.key("lease", id), r.indexKey(), r.slotSet(id)}, hashes...)
		err = r.scriptWrite(ctx, id, true, len(archived), archiveScript, keys, append([]any{id, archived, sumJS}, slots...), archiveRefused)
		if !errors.Is(err, errSlotsStale) {
			return unavailable(err)
		}
	}
	return unavailable(errSlotsStale)
}

// errSlotsStale is a script's answer slotsStale (slots.go).
var errSlotsStale = errors.New("the run's answer slots kept changing")

// Restore implements Store with one MULTI/EXEC.
func (r *Redis) Restore(ctx context.Context, id string, ch *Change) error {
	sumJS, err := encodeSummary(id, ch.Summary, false)
	if err != nil {
		return err
	}
	if ch.Lease != nil {
		if err := r.AcquireLease(ctx, id, *ch.Lease, ch.LeaseTTL); err != nil {
			return err
		}
	}
	return r.write(ctx, id, false, ch.Size(), func(p redis.Pipeliner) func() error {
		del := p.Del(ctx, r.key("p", id), r.key("run", id), r.key("archive", id))
		return firstErr(append([]redis.Cmder{del}, r.queueChange(ctx, p, id, ch, sumJS)...))
	})
}

// deleteScript removes an ended run: refused while a primary record
// exists. KEYS[8] is the set of the run's answer slots, KEYS[9...] their
// hashes, ARGV[2...] their keys (slots.go).
var deleteScript = redis.NewScript(deleteSrc)

var deleteSrc = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 'running' end
if redis.call('EXISTS', KEYS[3]) == 0 then return 'missing' end` +
	slotsScriptPart(8, 9, 2, false) + `
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[7])
redis.call('HDEL', KEYS[6], ARGV[1])` + slotsScriptDel(8, 9, 2) + `
return 'ok'`

// Delete implements Store.
func (r *Redis) Delete(ctx context.Context, id string) error {
	r.dropRun(id)
	for range slotsRetries {
		hashes, slots, err := r.runSlots(ctx, id)
		if err != nil {
			return err
		}
		res, err := deleteScript.Run(ctx, r.c, append([]string{
			r.key("p", id), r.key("run", id), r.key("archive", id), r.key("signals", id), r.key("lease", id), r.indexKey(),
			r.key("taskLogs", id), // tasklogs.go
			r.slotSet(id),
		}, hashes...), append([]any{id}, slots...)...).Text()
		if err != nil {
			return unavailable(err)
		}
		switch res {
		case "running":
			return ErrNotEnded
		case "missing":
			return ErrNotFound
		case slotsStale:
			continue
		}
		return r.untag(ctx, id) // taskindex.go
	}
	return unavailable(errSlotsStale)
}

// putSignalScript is PutSignal: nothing is written for an archived run.
// KEYS: the signals, the run's archive. ARGV: the key, the payload.
var putSignalScript = redis.NewScript(putSignalSrc)

var putSignalSrc = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`

// PutSignal implements Store.
func (r *Redis) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	return unavailable(putSignalScript.Run(ctx, r.c, []string{r.key("signals", id), r.key("archive", id)}, key, payload).Err())
}

// TakeSignals implements Store (HGETALL + DEL in one MULTI/EXEC).
func (r *Redis) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	return r.takeHash(ctx, r.key("signals", id), nil)
}

// takeHash returns and deletes hash key, in one MULTI/EXEC with what also
// queues (nil: nothing more).
func (r *Redis) takeHash(ctx context.Context, key string, also func(p redis.Pipeliner)) (map[string][]byte, error) {
	var get *redis.MapStringStringCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.HGetAll(ctx, key)
		p.Del(ctx, key)
		if also != nil {
			also(p)
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	m := get.Val()
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}

// acquireScript takes or renews a lease unless another owner holds it; it
// returns the holder's lease when it does. Expiry is Redis's own TTL.
// With KEYS[2] (RenewLease: the run's archive) it answers "archived" and
// writes nothing when the run is archived.
var acquireScript = redis.NewScript(`
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return 'archived' end
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[4] then
  local ok, l = pcall(cjson.decode, cur)
  if ok and type(l) == 'table' and l.owner ~= ARGV[1] then return cur end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 'ok'`)

var releaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, l = pcall(cjson.decode, cur)
  if ok and type(l) == 'table' and l.owner == ARGV[1] then redis.call('DEL', KEYS[1]) end
end
return 'ok'`)

// AcquireLease implements Leaser.
func (r *Redis) AcquireLease(ctx context.Context, id string, l Lease, ttl time.Duration) error {
	return r.takeLease(ctx, id, l, ttl, false)
}

// RenewLease implements Leaser.
func (r *Redis) RenewLease(ctx context.Context, id string, l Lease, ttl time.Duration) error {
	return r.takeLease(ctx, id, l, ttl, true)
}

// takeLease is AcquireLease, or RenewLease (renew).
func (r *Redis) takeLease(ctx context.Context, id string, l Lease, ttl time.Duration, renew bool) error {
	keys := []string{r.key("lease", id)}
	if renew {
		keys = append(keys, r.key("archive", id))
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	if err := r.keepPresence(ctx, l.Owner); err != nil {
		return err
	}
	now := time.Now()
	l.Heartbeat, l.Expires, l.Presence = millis(now), millis(now.Add(ttl)), true
	js, err := json.Marshal(l)
	if err != nil {
		return err
	}
	// ARGV[4] is a holder known to be dead (a process of this host that
	// no longer exists): its lease is replaced like an expired one.
	stale := ""
	for range 2 {
		res, err := acquireScript.Run(ctx, r.c, keys, l.Owner, js, ttl.Milliseconds(), stale).Text()
		if err != nil {
			return unavailable(err)
		}
		if res == "archived" {
			return leaseArchived(id)
		}
		if res == "ok" {
			r.held(l.Owner, id, true)
			return nil
		}
		holder, _ := decodeLease([]byte(res))
		if err := r.markLapsed(ctx, []*Lease{&holder}); err != nil {
			return err
		}
		if holder.Live(now) {
			return &LeasedError{RunID: id, Holder: holder}
		}
		stale = res
	}
	return fmt.Errorf("%w: lease of run %s changed hands while taking it", ErrUnavailable, id)
}

// ReleaseLease implements Leaser.
func (r *Redis) ReleaseLease(ctx context.Context, id, owner string) error {
	r.held(owner, id, false)
	return unavailable(releaseScript.Run(ctx, r.c, []string{r.key("lease", id)}, owner).Err())
}

// GetLease implements Leaser.
func (r *Redis) GetLease(ctx context.Context, id string) (Lease, bool, error) {
	b, err := r.c.Get(ctx, r.key("lease", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, unavailable(err)
	}
	l, ok := decodeLease(b)
	if ok {
		if err := r.markLapsed(ctx, []*Lease{&l}); err != nil {
			return Lease{}, false, err
		}
	}
	return l, ok, nil
}

// Close implements Store.
func (r *Redis) Close() error {
	r.closePresence()
	if r.owned {
		return r.c.Close()
	}
	return nil
}
