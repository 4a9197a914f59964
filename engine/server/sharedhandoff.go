package server

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The hand-off of a shared task's values. A poll in one process claims a
// task of a run another process (the owner) executes; only the owner can
// resolve the task's secrets — through the run's boundary, as the run's
// principal, audited for the run and the task, registered with the run's
// masker so a worker echoing a value has it masked — so the poll asks it,
// now, over the owner's pub/sub channel ("handoff <id> <token> <worker>",
// the token being the claim's, recorded in the task's hash). The owner
// resolves (engine.RemoteTask.Resolve), marks the task IN_PROGRESS (its
// clocks start) and pushes the values, sealed and bound to the task id and
// the claim's token, onto a list that exists only for this claim; the
// poll pops it at once (BLPOP) and answers the worker. The owner pushes
// only while the task is still claimed under that token, so a poll that
// gave up (it put the task back, then deletes the list) leaves nothing
// behind, and the list expires on its own regardless.
//
// When the owner cannot resolve (a missing, expired or forbidden secret)
// it fails the task with the reason and answers "failed": the poll hands
// the task to nobody. When it no longer has the task ("gone": its attempt
// ended, or the run moved), or does not answer within handOffWait (it
// died: the process that takes the run over offers the task again), the
// poll puts the task back in the queue.

const (
	// handOffWait is how long a poll waits for the owner's hand-off.
	handOffWait = 10 * time.Second
	// handOffTTL bounds the life of a hand-off list nobody popped.
	handOffTTL = 2 * handOffWait
	// handOffKind is what a hand-off is sealed as (with the task id and
	// the claim's token).
	handOffKind                = "shared queue hand-off"
	handOffFailed, handOffGone = "failed", "gone"
	// handOffsAtOnce bounds the hand-offs one poll waits for together.
	handOffsAtOnce = 8
)

// handOff is what the owner hands over for one claim (sealed).
type handOff struct {
	Input     json.RawMessage   `json:"input"`
	Meta      map[string]string `json:"meta,omitempty"`
	PollCount int               `json:"pollCount"`
}

func (s *sharedQueue) handOffKey(id, token string) string {
	return sharedPrefix + "handoff:" + id + ":" + token
}

// KEYS: task hash, hand-off list. ARGV: token, value, ttl (ms).
var pushHandOff = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') == 'claimed' and redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0`)

// answer pushes the owner's answer for the claim token of task id: the
// sealed hand-off, or handOffFailed / handOffGone (no value). It reports
// whether the claim was still there to take it.
func (s *sharedQueue) answer(ctx context.Context, id, token string, value []byte) bool {
	n, err := pushHandOff.Run(ctx, s.c, []string{s.taskKey(id), s.handOffKey(id, token)}, token, value, handOffTTL.Milliseconds()).Int()
	if err == nil && n == 0 && (string(value) == handOffFailed || string(value) == handOffGone) {
		// The task's hash is gone (the failed attempt was dropped): the
		// poll still waits for a word.
		pipe := s.c.TxPipeline()
		pipe.RPush(ctx, s.handOffKey(id, token), value)
		pipe.PExpire(ctx, s.handOffKey(id, token), handOffTTL)
		_, err = pipe.Exec(ctx)
		return err == nil
	}
	return err == nil && n == 1
}

// handOffTo is the owner's side: a poll of another process claimed task
// id under token for worker.
func (q *queue) handOffTo(id, token, worker string) {
	ctx, cancel := context.WithTimeout(context.Background(), handOffWait)
	defer cancel()
	q.mu.Lock()
	d := q.byID[id]
	q.mu.Unlock()
	if d == nil {
		q.shared.answer(ctx, id, token, []byte(handOffGone))
		return
	}
	h, ok := q.handOut(d)
	if !ok {
		q.shared.answer(ctx, id, token, []byte(handOffFailed))
		return
	}
	q.mu.Lock()
	d.polled, d.workerID = q.now(), worker
	d.pollCount++
	count := d.pollCount
	q.mu.Unlock()
	if !q.shared.dropPolled.Load() {
		// Before the values leave: a worker's IN_PROGRESS report, which
		// can only follow them, comes after.
		_ = d.t.Polled(d.ctx, worker)
		// The poll answers the worker once it has the values: the task
		// is stored polled first, as Conductor's poll stores it.
		q.pollStored(ctx, []handed{{delivery: d}})
	}
	plain, err := json.Marshal(handOff{Input: h.input, Meta: h.meta, PollCount: count})
	var sealed []byte
	if err == nil {
		sealed, err = q.shared.transit.Seal(plain, handOffKind, id+" "+token)
	}
	if err != nil {
		q.warnf("shared task queue: sealing a hand-off failed; the poll puts the task back", "taskId", id, "error", err.Error())
		return
	}
	if !q.shared.answer(ctx, id, token, sealed) {
		// The poll gave up (it put the task back) or Redis is away: the
		// task is offered again, and a later poll gets a hand-off of its own.
		q.warnf("shared task queue: a hand-off was not taken", "taskId", id)
	}
}

func (q *queue) warnf(msg string, args ...any) {
	if q.warn != nil {
		q.warn(msg, args...)
	}
}

// handOverFrom is the polling side: it asks the owners of the claimed
// tasks cs for their hand-offs, all at once, and returns the tasks it got
// (in claim order). A task whose owner answers nothing in time, or no
// longer has it, goes back to the queue; one whose owner failed it is
// handed to nobody.
func (q *queue) handOverFrom(ctx context.Context, name, workerID string, now time.Time, cs []claimed) []handed {
	if len(cs) == 0 {
		return nil
	}
	got := make([]*handed, len(cs))
	var wg sync.WaitGroup
	// Each wait holds a Redis connection: a large batch waits a few at a time.
	slots := make(chan struct{}, handOffsAtOnce)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			ho, ok := q.shared.handOverFrom(ctx, name, c, workerID)
			if !ok {
				return
			}
			got[i] = &handed{delivery: &delivery{id: c.id, t: c.task.Task, scheduled: time.UnixMilli(c.task.Scheduled),
				polled: now, workerID: workerID, pollCount: max(ho.PollCount, 1)}, input: ho.Input, meta: ho.Meta}
		}()
	}
	wg.Wait()
	out := make([]handed, 0, len(cs))
	for _, h := range got {
		if h != nil {
			out = append(out, *h)
		}
	}
	return out
}

func (s *sharedQueue) handOverFrom(ctx context.Context, name string, c claimed, workerID string) (handOff, bool) {
	bg := context.WithoutCancel(ctx)
	key := s.handOffKey(c.id, c.token)
	giveBack := func() {
		// Pending again, unannounced: announcing it would wake this very
		// poll at once, which would ask the same silent owner again.
		s.back.Run(bg, s.c, []string{s.taskKey(c.id), s.pendingKey(name), s.seqKey(), s.delayedKey(name)}, c.id)
		s.c.Del(bg, key) // an answer pushed before the task went back
	}
	if !s.tell(bg, c.owner, "handoff", c.id, c.token+" "+workerID) {
		giveBack() // its owner is not listening (it stopped): offered again by the process that takes the run over
		if s.ownerGone != nil {
			s.ownerGone()
		}
		return handOff{}, false
	}
	res, err := s.c.BLPop(ctx, handOffWait, key).Result()
	if err != nil || len(res) != 2 {
		giveBack()
		return handOff{}, false
	}
	switch res[1] {
	case handOffFailed:
		return handOff{}, false
	case handOffGone:
		giveBack()
		return handOff{}, false
	}
	plain, err := s.transit.Open([]byte(res[1]), handOffKind, c.id+" "+c.token)
	var ho handOff
	if err == nil {
		err = json.Unmarshal(plain, &ho)
	}
	if err != nil {
		// Not the owner's (another keyring, damaged, or moved from another
		// claim): nothing for a worker; the owner's clocks time it out.
		return handOff{}, false
	}
	return ho, true
}
