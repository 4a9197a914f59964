package engine

import (
	"context"
	"fmt"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/runsecrets"
)

// The start request's members of a run's head — correlationId,
// idempotencyKey, taskToDomain — are stored as they were given: a
// correlated search and a SUB_WORKFLOW child read the correlationId, and
// deleting a run gives up its idempotency key by the key it stored. A
// value the run registers may be in them all the same (a client that
// correlates runs by a token), and a value registered after the head was
// written is not masked in it. So every view masks them with the run's
// values (Show: what the API, `wfrun show` and the searches answer), and
// the archive keeps them masked for good, as it keeps `_secrets`. The
// summaries a search reads mask the correlationId when they are written.

// headMembers are the head members masked in views.
var headMembers = [...]string{"correlationId", "idempotencyKey", "taskToDomain"}

// hasHeadMembers reports whether doc's head holds one of them.
func hasHeadMembers(doc []byte) bool {
	for _, r := range gjson.GetManyBytes(doc, headMembers[:]...) {
		if r.Exists() && r.Raw != `""` && r.Raw != "{}" && r.Type != gjson.Null {
			return true
		}
	}
	return false
}

// maskRunHead masks the head members of doc with sec's values (sec nil:
// each wholly, when the run's values cannot be had).
func maskRunHead(doc []byte, sec *runsecrets.Run) ([]byte, error) {
	for _, k := range headMembers {
		r := gjson.GetBytes(doc, k)
		var err error
		switch {
		case r.Type == gjson.String && sec == nil && r.Str != "":
			doc, err = sjson.SetBytes(doc, k, "***")
		case r.Type == gjson.String && sec != nil:
			if m := sec.Text(r.Str); m != r.Str {
				doc, err = sjson.SetBytes(doc, k, m)
			}
		case r.IsObject() && sec == nil:
			m := map[string]string{}
			r.ForEach(func(key, _ gjson.Result) bool { m[key.String()] = "***"; return true })
			doc, err = sjson.SetBytes(doc, k, m)
		case r.IsObject():
			if m := sec.Remask([]byte(r.Raw), "/"+k); string(m) != r.Raw {
				doc, err = sjson.SetRawBytes(doc, k, m)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// maskArchivedDefinition masks the run document's copy of its definition
// with every value the run registered: a definition is stored as written,
// and one that holds a secret's value written out (pasted in place of a
// reference) would otherwise keep it in the archive. A restart finds the
// definition as it ran by its hash (intactDefinition), or is refused.
func maskArchivedDefinition(doc []byte, sec *runsecrets.Run) ([]byte, error) {
	// A view's task definitions (taskdefview.go) likewise.
	for _, k := range []string{"workflowDefinition", taskDefsMember, mappedDefsMember} {
		def := gjson.GetBytes(doc, k)
		if !def.IsObject() {
			continue
		}
		if m := sec.Remask([]byte(def.Raw), "/"+k); string(m) != def.Raw {
			var err error
			if doc, err = sjson.SetRawBytes(doc, k, m); err != nil {
				return nil, err
			}
		}
	}
	return doc, nil
}

// maskRunCopies masks, with sec's values, what a run document keeps as it
// was given: with head, its head members (maskRunHead; sec nil: each
// wholly); with defs, its copies of its definitions (maskArchivedDefinition;
// sec required). The archive masks both for good (archive), a view what
// may hold a run's value (showRunHead).
func maskRunCopies(doc []byte, sec *runsecrets.Run, head, defs bool) ([]byte, error) {
	var err error
	if defs {
		if doc, err = maskArchivedDefinition(doc, sec); err != nil {
			return nil, err
		}
	}
	if head {
		return maskRunHead(doc, sec)
	}
	return doc, nil
}

// showRunHead is doc, a stored run read for Show, with the task
// definitions it applies (withTaskDefs) and its copies masked
// (maskRunCopies) with the values of the run as this process executes it,
// or as its stored run log and its ancestors' hold them: its head members,
// and its definitions (a value pasted into them is masked in a view as in
// the archive). The run's secrets, when a mask needs them, also open its
// task definitions: one handle a view. An archived run's head and
// definition were masked when it was archived.
//
// The fork records' forkedTaskDefs then take the definitions their
// mappings took from the masked view (withMappedDefs).
func (e *Engine) showRunHead(ctx context.Context, id string, doc []byte, archived bool) ([]byte, error) {
	doc, err := e.maskedRunHead(ctx, id, doc, archived)
	if err != nil {
		return nil, err
	}
	return withMappedDefs(doc), nil
}

// maskedRunHead is showRunHead but for the fork records' definitions.
func (e *Engine) maskedRunHead(ctx context.Context, id string, doc []byte, archived bool) ([]byte, error) {
	if archived {
		return e.withTaskDefs(id, doc, nil, true), nil
	}
	head, def := hasHeadMembers(doc), mayHoldRunValues(doc) || e.isActive(id)
	if !head && !def {
		return e.withTaskDefs(id, doc, nil, false), nil
	}
	sec, err := e.chainMaskerFrom(ctx, id, doc, true)
	if err != nil {
		sec = nil // when in doubt, mask
	}
	if def && sec == nil {
		return nil, fmt.Errorf("masking its definition: %w", err)
	}
	return maskRunCopies(e.withTaskDefs(id, doc, sec, false), sec, head, def)
}

// mayHoldRunValues reports whether a stored, unarchived run may have
// registered values a masker built from its store would know: it keeps a
// journal of them or a run log, or a parent passes it its own.
func mayHoldRunValues(doc []byte) bool {
	for _, r := range gjson.GetManyBytes(doc, "registeredValues", "runLog", "parentWorkflowId") {
		if r.Exists() && r.Raw != `""` && r.Raw != "[]" && r.Type != gjson.Null {
			return true
		}
	}
	return false
}
