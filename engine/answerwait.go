package engine

import (
	"context"
	"time"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine/runstore"
)

// Waiting for the process executing a run. CompleteTaskStored, Pause,
// ResumePaused and UpdateVariables of a run another process executes store
// a signal for it and wait for the outcome: the runner applies the signal
// within a lease renewal (at once when told: signalnudge.go) and answers
// in a slot of the request's own (answerSlot; runstore.Store.PutSlot);
// meanwhile the caller looks at the stored run. One loop for all, polling
// the store with a backoff: quick for a runner told at once, no more than
// ten looks a second for one that takes its signals at its next renewal.
// A caller that stops waiting leaves the slot (leaveAnswer), and the store
// meets its mark and the runner's answer in one step, whichever comes
// first. The run's archive removes its slots but those holding an answer
// not taken yet (runstore's slots.go): a run that answers and then ends is
// archived at once, and its caller, in this process or another, still
// takes the answer after the archive (awaitAnswer looks once more when the
// run ended); Delete removes what a caller that died left.

// answerPollFirst and answerPollMax bound the wait between two looks.
const (
	answerPollFirst = 20 * time.Millisecond
	answerPollMax   = 100 * time.Millisecond
)

// answerKey is the member of its slot the runner's answer is stored under
// (an answer outlives the run's archive in its slot).
const answerKey = runstore.SlotAnswer

// answerSlot is where the process executing run id answers the request it
// took from the run's signals under key (a signal slot of its own: the
// runner takes every signal of the run itself; runstore.SlotID).
func answerSlot(id, key string) string { return runstore.SlotID(id, key) }

// awaitAnswer looks, until look is done (or fails) or ctx ends, at the
// answer to the request stored for run id under key (answered: one is
// there, taken) and lets look check the store. Returning without an
// answer, it leaves the slot (leaveAnswer): the answer the runner may
// still write is not kept for nobody.
func (e *Engine) awaitAnswer(ctx context.Context, id, key string, look func(answer []byte, answered bool) (done bool, err error)) error {
	wait := answerPollFirst
	answered := false
	defer func() {
		if !answered {
			e.leaveAnswer(context.WithoutCancel(ctx), id, key)
		}
	}()
	for {
		answers, err := e.runs.TakeSlot(ctx, id, key)
		if err != nil {
			return err
		}
		var answer []byte
		answer, answered = answers[answerKey]
		if done, err := look(answer, answered); done || err != nil {
			if answered || ctx.Err() != nil {
				return err
			}
			if last, lerr := e.runs.TakeSlot(ctx, id, key); lerr == nil {
				if answer, answered = last[answerKey]; answered {
					_, err = look(answer, true)
				}
			}
			return err
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, answerPollMax)
	}
}

// docStatus is the status member of a stored run document, read
// without decoding the rest.
func docStatus(doc []byte) string { return gjson.GetBytes(doc, "status").Str }

// goneKey is the member of its slot a caller that stopped waiting leaves
// (leaveAnswer): the runner then writes no answer there (answerTo), which
// nobody would take, and which would stay until the run is deleted.
const goneKey = "gone"

// leaveAnswerWait bounds leaveAnswer (its caller's context has ended).
const leaveAnswerWait = 5 * time.Second

// leaveAnswer tells the runner that the caller of request key of run id
// waits no more: the slot is marked (goneKey), unless the answer is there
// already — then the slot is emptied. The store does either in one step
// (runstore.Store.PutSlot), as it writes the runner's answer unless the
// slot is marked (answerTo): whichever comes second finds the other and
// empties the slot, so nothing stays, also after the run's archive (the
// store writes no slot for an archived run, but empties a met one).
func (e *Engine) leaveAnswer(ctx context.Context, id, key string) {
	ctx, cancel := context.WithTimeout(ctx, leaveAnswerWait)
	defer cancel()
	_, _ = e.runs.PutSlot(ctx, id, key, goneKey, []byte(`{}`), answerKey)
}

// answerTo stores answer in the slot of request key of the run, unless
// its caller left (leaveAnswer): the slot is emptied then, and nothing is
// written. The answer outlives the run's archive until taken.
func (r *runState) answerTo(ctx context.Context, key string, answer []byte) {
	_, _ = r.e.runs.PutSlot(ctx, r.id, key, answerKey, answer, goneKey)
}
