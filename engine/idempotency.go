package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// Idempotent starts (the start request's, or a SUB_WORKFLOW's
// subWorkflowParam idempotencyKey and idempotencyStrategy), as Orkes
// Conductor enforces them (Conductor OSS forwards them without acting on
// them): a key is scoped to the workflow name and held by the run started
// with it for as long as that run is stored. A start with a key somebody
// holds:
//
//   - FAIL (the default): is refused, whatever the holder's status;
//   - RETURN_EXISTING: starts nothing and answers the holder's id, once
//     the holder is stored (a holder still being started is waited for);
//   - FAIL_ON_RUNNING: is refused while the holder is RUNNING or PAUSED,
//     and otherwise starts a run that takes the key over.
//
// The claims live in the run store (runstore.KeyClaimer: bolt and Redis),
// so they hold across serve processes and restarts, and a claim is atomic:
// of two concurrent starts with one key, one run starts.

// Idempotency strategies.
const (
	IdempotencyFail           = "FAIL"
	IdempotencyReturnExisting = "RETURN_EXISTING"
	IdempotencyFailOnRunning  = "FAIL_ON_RUNNING"
)

// ErrIdempotencyConflict: a start whose idempotency key another run holds.
var ErrIdempotencyConflict = errors.New("idempotency key in use")

// IdempotencyConflictError names the run holding the key.
type IdempotencyConflictError struct {
	Workflow, Key, RunID, Status, Strategy string
}

func (e *IdempotencyConflictError) Error() string {
	return fmt.Sprintf("workflow %s with idempotencyKey %q already exists: %s is %s (idempotencyStrategy %s)",
		e.Workflow, e.Key, e.RunID, e.Status, e.Strategy)
}

// Unwrap makes errors.Is(err, ErrIdempotencyConflict) hold.
func (e *IdempotencyConflictError) Unwrap() error { return ErrIdempotencyConflict }

// CheckIdempotencyStrategy reports a strategy that is not one of the three
// ("" is FAIL).
func CheckIdempotencyStrategy(s string) error {
	switch s {
	case "", IdempotencyFail, IdempotencyReturnExisting, IdempotencyFailOnRunning:
		return nil
	}
	return fmt.Errorf("idempotencyStrategy %q: want FAIL, RETURN_EXISTING or FAIL_ON_RUNNING", s)
}

// WithIdempotencyKey records the key the run was started with (claimed
// before with ClaimIdempotencyKey).
func WithIdempotencyKey(key string) RunOption { return func(c *runConfig) { c.idempotencyKey = key } }

// claimStarting is how long a claim whose run is not stored yet counts as
// a run being started (RUNNING); after that the key is free again (its run
// never got stored, or was deleted).
const claimStarting = time.Minute

// claimPollMin and claimPollMax bound the wait between two looks at a
// claim whose run is being started (RETURN_EXISTING waits for it).
const (
	claimPollMin = 5 * time.Millisecond
	claimPollMax = 250 * time.Millisecond
)

// localKeys holds the claims when the run store keeps none (a store of
// another package): they then hold in this process only.
type localKeys struct {
	once sync.Once
	mem  *runstore.Memory
}

func (e *Engine) keyClaimer() runstore.KeyClaimer {
	if kc, ok := e.runs.(runstore.KeyClaimer); ok {
		return kc
	}
	e.idem.once.Do(func() { e.idem.mem = runstore.NewMemory() })
	return e.idem.mem
}

func idempotencyStoreKey(workflow, key string) string {
	sum := sha256.Sum256([]byte("idempotency\x00" + workflow + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// ClaimIdempotencyKey claims key of workflow for the run runID about to
// start, as strategy says. It returns "" when runID holds the key now (start
// it, WithIdempotencyKey), the holder's id when strategy is RETURN_EXISTING
// and another run holds it (start nothing; the holder is stored: one being
// started is waited for, until ctx ends), or an *IdempotencyConflictError.
// When the start then fails before its run is stored, ReleaseIdempotencyKey.
func (e *Engine) ClaimIdempotencyKey(ctx context.Context, workflow, key, strategy, runID string) (string, error) {
	if err := CheckIdempotencyStrategy(strategy); err != nil {
		return "", err
	}
	if strategy == "" {
		strategy = IdempotencyFail
	}
	kc, k := e.keyClaimer(), idempotencyStoreKey(workflow, key)
	prev, wait := "", claimPollMin
	for tries := 0; tries < 8; {
		holder, at, err := kc.ClaimKey(ctx, k, runID, prev)
		if err != nil {
			return "", fmt.Errorf("idempotency key: %w", err)
		}
		if holder == runID {
			return "", nil
		}
		status, err := e.runStatus(ctx, holder)
		if err != nil {
			return "", fmt.Errorf("idempotency key: run %s: %w", holder, err)
		}
		if status == "" && time.Since(at) < claimStarting && strategy == IdempotencyReturnExisting {
			// The holder is being started (claimed, not stored yet): its
			// id is answered once it is stored, as the caller reads it
			// right away (a SUB_WORKFLOW follows it, a client GETs it).
			// A start that fails releases the key, which this start then
			// takes.
			if err := sleepCtx(ctx, wait); err != nil {
				return "", err
			}
			prev, wait = "", min(2*wait, claimPollMax)
			continue
		}
		tries++
		if status == "" {
			if time.Since(at) < claimStarting {
				status = StatusRunning // being started
			} else {
				prev = holder // never stored, or deleted: the key is free
				continue
			}
		}
		conflict := &IdempotencyConflictError{Workflow: workflow, Key: key, RunID: holder, Status: status, Strategy: strategy}
		switch strategy {
		case IdempotencyReturnExisting:
			return holder, nil
		case IdempotencyFailOnRunning:
			if status == StatusRunning || status == StatusPaused {
				return "", conflict
			}
			prev = holder
			continue
		default:
			return "", conflict
		}
	}
	return "", fmt.Errorf("idempotency key %q of workflow %s: too many concurrent starts", key, workflow)
}

// ReleaseIdempotencyKey gives up the claim of runID (its start failed).
func (e *Engine) ReleaseIdempotencyKey(ctx context.Context, workflow, key, runID string) error {
	return e.keyClaimer().ReleaseKey(ctx, idempotencyStoreKey(workflow, key), runID)
}

// releaseDeletedKey gives up the idempotency key the deleted run id held
// (head: its stored document), so that a start with the key does not
// wait for it as for a run being started.
func (e *Engine) releaseDeletedKey(ctx context.Context, id string, head []byte) error {
	var h struct {
		WorkflowType   string `json:"workflowType"`
		IdempotencyKey string `json:"idempotencyKey"`
	}
	if json.Unmarshal(head, &h) != nil || h.IdempotencyKey == "" {
		return nil
	}
	return e.ReleaseIdempotencyKey(ctx, h.WorkflowType, h.IdempotencyKey, id)
}

// runStatus is a stored run's status, "" when it is not stored.
func (e *Engine) runStatus(ctx context.Context, id string) (string, error) {
	doc, _, err := e.runs.Load(ctx, id)
	if errors.Is(err, runstore.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var h struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(doc, &h); err != nil || strings.TrimSpace(h.Status) == "" {
		return "", fmt.Errorf("damaged run document")
	}
	return h.Status, nil
}

// errSecretKey: an idempotency key that holds a secret value.
var errSecretKey = errors.New("holds a secret value: an idempotency key is stored in clear and shown (build it from non-secret input)")

// plainKey refuses a key resolved from a secret (a `_secrets` output, say):
// the key is stored in clear in the run's head and the key claims, and
// quoted in conflict answers, where no value may go.
func (r *runState) plainKey(key string) error {
	if r.sec.Text(key) != key {
		return errSecretKey
	}
	return nil
}
