package engine

import (
	"context"
	"time"

	"github.com/tidwall/gjson"
)

// Waiting for the process executing a run. Pause, ResumePaused and
// UpdateVariables of a run another process executes store a signal for it
// and wait for the outcome: the runner applies the signal within a lease
// renewal (at once when told: signalnudge.go) and, when it cannot, leaves
// an answer in a slot of its own (answerSlot); meanwhile the caller looks
// at the stored run. One loop for both, polling the store with a backoff:
// quick for a runner told at once, no more than ten looks a second for one
// that takes its signals at its next renewal.

// answerPollFirst and answerPollMax bound the wait between two looks.
const (
	answerPollFirst = 20 * time.Millisecond
	answerPollMax   = 100 * time.Millisecond
)

// answerKey is the member of its slot the runner's answer is stored under.
const answerKey = "outcome"

// answerSlot is where the process executing run id answers the request it
// took from the run's signals under key (a signal slot of its own: the
// runner takes every signal of the run itself).
func answerSlot(id, key string) string { return id + "/" + key }

// awaitAnswer looks, until look is done (or fails) or ctx ends, at the
// answer to the request stored for run id under key (answered: one is
// there, taken) and lets look check the store.
func (e *Engine) awaitAnswer(ctx context.Context, id, key string, look func(answer []byte, answered bool) (done bool, err error)) error {
	slot := answerSlot(id, key)
	wait := answerPollFirst
	for {
		answers, err := e.runs.TakeSignals(ctx, slot)
		if err != nil {
			return err
		}
		answer, answered := answers[answerKey]
		if done, err := look(answer, answered); done || err != nil {
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
// nobody would take, and which would outlive the run.
const goneKey = "gone"

// leaveAnswer tells the runner that the caller of request key of run id
// waits no more: an answer already there is taken, else the slot is
// marked (goneKey). An answer the runner writes between the two (it took
// the slot before the mark and writes after it) stays until the run
// store removes the run's slots.
func (e *Engine) leaveAnswer(ctx context.Context, id, key string) {
	slot := answerSlot(id, key)
	answers, err := e.runs.TakeSignals(ctx, slot)
	if _, answered := answers[answerKey]; err != nil || answered {
		return
	}
	_ = e.runs.PutSignal(ctx, slot, goneKey, []byte(`{}`))
}

// answerTo stores answer in the slot of request key of run id, unless its
// caller left (leaveAnswer): its mark is taken, and nothing is written.
func (e *Engine) answerTo(ctx context.Context, id, key string, answer []byte) {
	slot := answerSlot(id, key)
	if marks, err := e.runs.TakeSignals(ctx, slot); err == nil {
		if _, gone := marks[goneKey]; gone {
			return
		}
	}
	_ = e.runs.PutSignal(ctx, slot, answerKey, answer)
}
