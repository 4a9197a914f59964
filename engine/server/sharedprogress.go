package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wfrun/wfrun/engine"
)

// An IN_PROGRESS update of a shared task answered through a process that
// does not execute its run. Only the owner keeps the task's clocks and
// applies such an update (its final answers travel through the run
// store), so the process the worker answered tells the owner over the
// owner's pub/sub channel: "progress <id> <token> <update>", the update
// being the whole TaskResult the worker sent as the local path takes it
// (status, outputData, reasonForIncompletion, callbackAfterSeconds),
// sealed through runsecrets.Transit and bound to the task id and the
// token. The owner applies it as it applies an update made there
// (queue.complete, which returns once it is stored) and answers on a list
// that exists for that token only: the update's answer is given once the
// owner stored it, or with the owner's refusal, as Conductor's updateTask
// answers once the task is stored. No answer within handOffWait (the
// owner died, or Redis is away) is an update not stored: the worker sends
// it again. An owner of an older wfrun, told "progress <id> <seconds>",
// takes the callbackAfterSeconds only.

// progressKind is what an update sent to a task's owner is sealed as
// (with the task id and the token).
const progressKind = "shared queue progress"

// progressReply is the owner's answer to an update it was told of.
type progressReply struct {
	// Kind is "" (stored), "ended" (the attempt is no longer the
	// owner's: it ended), "notStored" (the write failed) or "refused"
	// (an update the task cannot take; Error says why, masked).
	Kind  string `json:"kind,omitempty"`
	Error string `json:"error,omitempty"`
}

func (s *sharedQueue) progressKey(id, token string) string {
	return sharedPrefix + "progress:" + id + ":" + token
}

// progress tells owner of update res of its task id and returns once the
// owner answered: nil when it stored it. told is false when the owner is
// not listening (it stopped).
func (s *sharedQueue) progress(ctx context.Context, owner, id string, res workerResult) (told bool, err error) {
	plain, err := json.Marshal(res)
	if err != nil {
		return false, err
	}
	token := newRunID()
	sealed, err := s.transit.Seal(plain, progressKind, id+" "+token)
	if err != nil {
		return false, err
	}
	key := s.progressKey(id, token)
	bg := context.WithoutCancel(ctx)
	defer s.c.Del(bg, key)
	if !s.tell(ctx, owner, "progress", id, token+" "+base64.StdEncoding.EncodeToString(sealed)) {
		return false, nil
	}
	got, err := s.c.BLPop(ctx, handOffWait, key).Result()
	if err != nil || len(got) != 2 {
		return true, fmt.Errorf("%w: IN_PROGRESS update of task %s: the server executing its run did not answer", engine.ErrNotStored, id)
	}
	var reply progressReply
	if err := json.Unmarshal([]byte(got[1]), &reply); err != nil {
		return true, fmt.Errorf("%w: IN_PROGRESS update of task %s: the server executing its run answered what is no answer", engine.ErrNotStored, id)
	}
	switch reply.Kind {
	case "":
		return true, nil
	case "ended":
		return true, fmt.Errorf("%w: task %s", errTaskEnded, id)
	case "notStored":
		return true, fmt.Errorf("%w: IN_PROGRESS update of task %s: %s", engine.ErrNotStored, id, reply.Error)
	}
	return true, errors.New(reply.Error)
}

// progressTold is the owner's side: another process was sent update arg
// ("<token> <sealed update>") of task id. A message of an older wfrun
// (arg: the callbackAfterSeconds alone) is taken as it was.
func (q *queue) progressTold(id, arg string) {
	token, blob, ok := strings.Cut(arg, " ")
	if !ok {
		_ = q.complete(context.Background(), id, workerResult{Status: "IN_PROGRESS", CallbackSecs: atoiOr(arg, 0)})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), handOffWait)
	defer cancel()
	var res workerResult
	sealed, err := base64.StdEncoding.DecodeString(blob)
	var plain []byte
	if err == nil {
		plain, err = q.shared.transit.Open(sealed, progressKind, id+" "+token)
	}
	if err == nil {
		err = json.Unmarshal(plain, &res)
	}
	if err != nil {
		// Not sealed for this task and token (another keyring, or
		// damaged): applied to nothing, and the sender hears nothing
		// of what it was.
		q.warnf("shared task queue: an update sent for a task cannot be opened", "taskId", id)
		return
	}
	if res.Status != "IN_PROGRESS" && res.Status != "SCHEDULED" {
		// Final answers travel through the run store.
		q.replyProgress(ctx, id, token, progressReply{Kind: "refused", Error: "status " + res.Status + " is not sent to the server executing the run"})
		return
	}
	err = q.complete(ctx, id, res)
	var reply progressReply
	switch {
	case err == nil:
	case errors.Is(err, ErrUnknownTask):
		reply.Kind = "ended"
	case errors.Is(err, engine.ErrNotStored):
		reply = progressReply{Kind: "notStored", Error: q.maskText(err.Error())}
	default:
		reply = progressReply{Kind: "refused", Error: q.maskText(err.Error())}
	}
	q.replyProgress(ctx, id, token, reply)
}

// replyProgress pushes the owner's answer for the update token of task id.
func (q *queue) replyProgress(ctx context.Context, id, token string, reply progressReply) {
	b, _ := json.Marshal(reply)
	key := q.shared.progressKey(id, token)
	pipe := q.shared.c.TxPipeline()
	pipe.RPush(ctx, key, b)
	pipe.PExpire(ctx, key, handOffTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		q.warnf("shared task queue: the answer to an update was not sent", "taskId", id)
	}
}

// maskText masks text with the values the server knows (q.mask, set by
// the server; unmasked text is never sent: "" without one).
func (q *queue) maskText(text string) string {
	if q.mask == nil {
		return ""
	}
	return q.mask(text)
}
