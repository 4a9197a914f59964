package masking

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Keys whose values are sensitive at any depth of a run document (Orkes).
const (
	// SecretsKey marks data that is shown as "***" and destroyed on archive.
	SecretsKey = "_secrets"
	// MaskedKey marks data that is shown as "***" but kept on archive.
	MaskedKey = "_masked"
)

// View returns the display form of a run document: the value of every
// "_secrets" and "_masked" member, at any depth, and of every key of the
// top-level "input" and "output" objects named in maskedFields, becomes
// "***". doc is never modified; the result is always a new slice.
func View(doc []byte, maskedFields []string) ([]byte, error) {
	return redactMembers(doc, maskedFields, true)
}

// Archive returns the archived form of a run document: "_secrets" values at
// any depth and maskedFields values are replaced by "***"; "_masked" values
// are kept, so restarting an archived run keeps that data. The caller stores
// the result in place of the primary record; doc is never modified.
func Archive(doc []byte, maskedFields []string) ([]byte, error) {
	return redactMembers(doc, maskedFields, false)
}

func redactMembers(doc []byte, maskedFields []string, masked bool) ([]byte, error) {
	w := walker{src: doc, out: make([]byte, 0, len(doc))}
	w.redactMember = func(w *walker, key []byte) bool {
		if KeyIs(key, SecretsKey) || (masked && KeyIs(key, MaskedKey)) {
			return true
		}
		if len(w.path) == 1 && len(maskedFields) > 0 {
			if p := w.path[0].key; p != nil && (keyIs(p, "input") || keyIs(p, "output")) {
				k := keyString(key)
				for _, f := range maskedFields {
					if f == k {
						return true
					}
				}
			}
		}
		return false
	}
	if err := w.document(); err != nil {
		return nil, err
	}
	return w.out, nil
}

// ArchivedSecretsNeeded lists, as JSON pointers (RFC 6901) in document order,
// the "_secrets" members of an archived run document whose values Archive
// destroyed and that restarting or retrying the run would read again:
//
//   - under the workflow "input": a restart runs the workflow again from the
//     stored input;
//   - under "variables": a retry resumes with the stored variables;
//   - under "outputData" of a task whose status is COMPLETED or
//     COMPLETED_WITH_ERRORS: a retry keeps completed tasks, and later tasks
//     read their outputs (${ref.output._secrets.x});
//   - under "inputData" of any other task (FAILED, TIMED_OUT, CANCELED, …):
//     a retry schedules it again with its stored input.
//
// Not listed: "_secrets" under the workflow "output" or under other task
// fields (nothing reads them back), inputData of completed tasks (a retry
// does not rerun them; a restart recomputes every input from its template),
// and "_masked" data, which Archive keeps. Only members whose value is the
// string "***" count. The engine fails a restart or retry with these
// pointers as the reason when the list is not empty. Invalid JSON yields nil.
//
// maskedFields values in "input" are also destroyed by Archive; use
// ArchivedFieldsNeeded for them.
func ArchivedSecretsNeeded(archived []byte) []string {
	var found []string
	var statuses []gjson.Result // read once, only if a task needs it
	// Muted: only the hook's observations matter, nothing is written.
	w := walker{src: archived, mute: 1}
	w.redactMember = func(w *walker, key []byte) bool {
		if !keyIs(key, SecretsKey) || !isRedactedAt(w.src, w.pos) {
			return false
		}
		if statuses == nil {
			statuses = []gjson.Result{}
			gjson.GetBytes(archived, "tasks").ForEach(func(_, t gjson.Result) bool {
				statuses = append(statuses, t.Get("status"))
				return true
			})
		}
		if needsOnRestart(statuses, w.path) {
			found = append(found, pointer(w.path, key))
		}
		return false
	}
	if w.document() != nil {
		return nil
	}
	return found
}

// ArchivedFieldsNeeded lists the JSON pointers of maskedFields members of
// the workflow "input" whose archived value is "***": a restart would run
// with "***" in their place.
func ArchivedFieldsNeeded(archived []byte, maskedFields []string) []string {
	in := gjson.GetBytes(archived, "input")
	if !in.IsObject() {
		return nil
	}
	var found []string
	in.ForEach(func(k, v gjson.Result) bool {
		for _, f := range maskedFields {
			if k.String() == f && v.Type == gjson.String && v.Str == Redacted {
				found = append(found, "/input/"+escapePointer(f))
				break
			}
		}
		return true
	})
	return found
}

func isRedactedAt(doc []byte, pos int) bool {
	return strings.HasPrefix(string(doc[pos:min(pos+5, len(doc))]), `"`+Redacted+`"`)
}

func needsOnRestart(statuses []gjson.Result, path []seg) bool {
	if len(path) == 0 || path[0].key == nil {
		return false
	}
	switch keyString(path[0].key) {
	case "input", "variables":
		return true
	case "tasks":
		if len(path) < 3 || path[1].key != nil || path[2].key == nil {
			return false
		}
		status := ""
		if i := path[1].index; i < len(statuses) {
			status = statuses[i].String()
		}
		completed := status == "COMPLETED" || status == "COMPLETED_WITH_ERRORS"
		switch keyString(path[2].key) {
		case "outputData":
			return completed
		case "inputData":
			return !completed
		}
	}
	return false
}

func pointer(path []seg, key []byte) string {
	var sb strings.Builder
	for _, s := range path {
		sb.WriteByte('/')
		if s.key == nil {
			sb.WriteString(strconv.Itoa(s.index))
		} else {
			sb.WriteString(escapePointer(keyString(s.key)))
		}
	}
	sb.WriteByte('/')
	sb.WriteString(escapePointer(keyString(key)))
	return sb.String()
}

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
