package engine

import (
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/runsecrets"
)

// A run's head says what the run is and what it may read: its definition
// (by hash: the definition is a part of the stored run of its own), its
// principal and scopes, project and environment, its parent. Storage is not
// trusted with them: someone who can write the run store (a Redis shared by
// several hosts) could otherwise point a stored run at another definition or
// widen its scopes, and the next process to resume it would read the
// secrets the edited run names. Every head carries HeadSeal, an attestation
// (runsecrets.Run.Attest) of those members as encoded (appendHeadStatic)
// and of the run's log length (and of its start request's members,
// headRequest, once RequestSealed says so, and of its failure members,
// appendHeadFailures, once FailuresSealed does), bound to the run's id: a run loads only if
// it verifies with the engine's keyring and the stored definition's hash is
// the attested one. A head edited, copied from another run, stripped of its
// seal or written by a wfrun that did not seal heads (before 2026-12) is
// refused with one line naming the run; nothing in it is believed.
//
// What the seal cannot tell: the run put back as a whole to an earlier
// write of itself (its own earlier head, seal and parts), which storage
// alone cannot tell from the latest.

// ErrHeadNotAuthentic: a stored run's head does not verify (headseal.go).
var ErrHeadNotAuthentic = errors.New("stored run head is not authentic")

// headSealPointer is where a head's attestation is bound.
const headSealPointer = "/headSeal"

// headAttested is what HeadSeal attests: the head's static members as
// encoded, its other attested members (headSealedMembers) and its log length.
func headAttested(static, members []byte, logLength int) []byte {
	b := make([]byte, 0, len(static)+len(members)+24)
	b = append(append(append(b, static...), members...), `,"runLogLength":`...)
	return strconv.AppendInt(b, int64(logLength), 10)
}

// headSealedMembers is what HeadSeal attests of h besides its static members:
// its start request's (headRequest) and its failure members
// (headFailures), each as its flags say.
func headSealedMembers(h *runHead) []byte {
	return appendHeadFailures(headRequest(h), h)
}

// appendHeadFailures appends what HeadSeal attests of h's failure
// members, when h says they are attested (FailuresSealed; nothing: a head
// an earlier wfrun wrote): failureOf, a failure run's gate, and
// restartedFailures, the failure runs of a failed run's ends a restart
// replaced (failure.go). Unattested, whoever can write the run store
// would remove a failure run's gate and have it execute for an end never
// stored, or name a failure run among a run's restarted ones to let it
// through its gate; or set a gate to have a run dropped unexecuted.
func appendHeadFailures(b []byte, h *runHead) []byte {
	if !h.FailuresSealed {
		return b
	}
	b = appendOptStr(b, "failureOf", h.FailureOf)
	return appendOptStr(b, "restartedFailures", h.RestartedFailures)
}

// headRequest is what HeadSeal attests of h's start request: its
// priority, taskToDomain, idempotencyKey and test mark as encoded, when h
// says they are attested (RequestSealed; nil: a head an earlier wfrun
// wrote, whose seal does not cover them). Unattested, they would let
// whoever can write the run store send the run's worker tasks, and the
// secrets in their input, to the queue of a domain their worker polls,
// or strip a test run's mark and have its mocked tasks run for real.
func headRequest(h *runHead) []byte {
	if !h.RequestSealed {
		return nil
	}
	return appendHeadRequest(nil, h)
}

// checkHead authenticates d, a head read from the run store for run id, and
// its definition. d.headChecked records that it did, so a caller that
// replaces the definition after the check (a restart on the latest
// definition) is not refused for it.
func (e *Engine) checkHead(id string, d *runDoc) error {
	if d.headChecked {
		return nil
	}
	if err := e.verifyHeadSeal(id, d); err != nil {
		return err
	}
	if d.DefinitionHash == "" || defHash(d.WorkflowDefinition) != d.DefinitionHash {
		return fmt.Errorf("%w: run %s: its stored definition is not the one its head names", ErrHeadNotAuthentic, id)
	}
	d.headChecked = true
	return nil
}

// verifyHeadSeal checks d's HeadSeal against its members (not its
// definition: an archived run's is found again first, by the hash the seal
// attests).
func (e *Engine) verifyHeadSeal(id string, d *runDoc) error {
	if d.HeadSeal == "" {
		if e.unsealedHeads {
			return nil
		}
		return fmt.Errorf("%w: run %s: its head carries no seal (stored by a wfrun before heads were sealed, or written into the store by hand); to resume runs an earlier wfrun stored, once, on a store nobody else writes: --trust-unsealed-runs (engine.WithUnsealedHeads)", ErrHeadNotAuthentic, id)
	}
	sec, err := e.newRunSecrets(id, nil)
	if err != nil {
		return err
	}
	if err := sec.Verify(d.HeadSeal, headSealPointer, headAttested(appendHeadStatic(nil, &d.runHead), headSealedMembers(&d.runHead), d.RunLogLength)); err != nil {
		why := "its members were edited, it was copied from another run, or it was sealed with another keyring"
		if e.ownKey {
			why = "this engine made its own keyring at New: every engine sharing a run store needs the same one, engine.WithKeyring"
		}
		return fmt.Errorf("%w: run %s: its head does not verify (%s): %v", ErrHeadNotAuthentic, id, why, err)
	}
	return nil
}

// resealMaskedRequest is doc, a run document about to be archived from
// head, with its HeadSeal made again when the archive masked a start
// request's member the seal attests (maskRunHead: a value the run
// registered in its idempotencyKey or taskToDomain), so the archived run
// still verifies as archived.
func resealMaskedRequest(doc []byte, head *runHead, sec *runsecrets.Run) ([]byte, error) {
	if !head.RequestSealed {
		return doc, nil
	}
	h := *head
	h.IdempotencyKey = gjson.GetBytes(doc, "idempotencyKey").Str
	if d := gjson.GetBytes(doc, "taskToDomain"); d.IsObject() {
		h.TaskToDomain = map[string]string{}
		d.ForEach(func(k, v gjson.Result) bool { h.TaskToDomain[k.Str] = v.Str; return true })
	}
	if h.IdempotencyKey == head.IdempotencyKey && maps.Equal(h.TaskToDomain, head.TaskToDomain) {
		return doc, nil
	}
	seal, err := sec.Attest(headSealPointer, headAttested(appendHeadStatic(nil, &h), headSealedMembers(&h), h.RunLogLength))
	if err != nil {
		return nil, err
	}
	return sjson.SetBytes(doc, "headSeal", seal)
}
