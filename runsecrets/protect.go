package runsecrets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
)

// Protect turns data a run is about to keep (a task's input or output, the
// workflow input, variables or output) into its two forms:
//
//   - mem, for the run's own use: registered values masked everywhere except
//     inside `_secrets` subtrees (and maskedFields), which stay in clear so a
//     later task can read ${ref.output._secrets.x};
//   - stored, for the run store: mem with every `_secrets` subtree (and
//     maskedFields value) sealed as one string, bound to the run id and to
//     its JSON pointer (ptr + the path to the member).
//
// Every string or number leaf of a `_secrets` subtree or a maskedFields
// value is registered first, so the same value anywhere else — in this
// document or in a later one — is masked. The keys are recognised decoded:
// "\u005fsecrets" is "_secrets". The leaves of `_masked` subtrees are
// remembered for View. ptr is the stable JSON pointer of data inside the
// run ("/input", "/tasks/<taskId>/outputData"); maskedFields apply at
// "/input" and "/output".
func (r *Run) Protect(data []byte, ptr string) (mem, stored []byte, err error) {
	return r.protect(data, ptr, false)
}

// ProtectResolved is Protect for data known to be valid JSON, which is not
// validated again: the stored form Resolve returned (possibly with members
// added by encoding/json; a compiled template's output is valid by
// construction: interpolate checks every fragment it splices, and its fuzz
// target holds it to that), or an executor's output it built valid
// (tasks.Result.OutputValid). Masking and sealing are Protect's.
func (r *Run) ProtectResolved(data []byte, ptr string) (mem, stored []byte, err error) {
	return r.protect(data, ptr, true)
}

func (r *Run) protect(data []byte, ptr string, valid bool) (mem, stored []byte, err error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	top := r.sealedTopKeys(ptr, data)
	if masking.MayHoldKey(data, masking.MaskedKey) {
		r.noteMasked(data)
	}
	var v any
	if top != nil || masking.MayHoldKey(data, masking.SecretsKey) {
		if v, err = decodeJSON(data); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", ptr, err)
		}
	}
	if top == nil && (v == nil || !hasKey(v, masking.SecretsKey)) {
		if r.unmaskedJSON(data, valid) {
			return data, data, nil
		}
		mem, err = r.reg.masker.MaskJSON(data)
		if err != nil {
			return nil, nil, fmt.Errorf("mask %s: %w", ptr, err)
		}
		return mem, mem, nil
	}
	if leaves := secretLeaves(v, top); len(leaves) > 0 {
		r.register(leaves...)
	}
	if mem, stored, ok, err := r.protectInPlace(data, ptr, top); ok || err != nil {
		return mem, stored, err
	}
	return r.protectDecoded(v, ptr, top)
}

// protectDecoded is Protect over the decoded document, re-encoded (sorted
// keys): for the documents protectInPlace leaves to it.
func (r *Run) protectDecoded(v any, ptr string, top map[string]bool) (mem, stored []byte, err error) {
	mv := r.maskOutsideSecrets(v, top)
	mem, err = encodeJSON(mv)
	if err != nil {
		return nil, nil, err
	}
	sv, err := r.sealSecrets(mv, ptr, top)
	if err != nil {
		return nil, nil, err
	}
	stored, err = encodeJSON(sv)
	return mem, stored, err
}

// Unseal is the inverse of Protect's stored form, for a run read back from
// storage: every sealed member is authenticated (run id and place) and
// opened, and its leaves are registered again, as Protect did.
func (r *Run) Unseal(stored []byte, ptr string) ([]byte, error) {
	if len(stored) == 0 {
		return stored, nil
	}
	if masking.MayHoldKey(stored, masking.MaskedKey) {
		r.noteMasked(stored)
	}
	top := r.sealedTopKeys(ptr, stored)
	if top == nil && !masking.MayHoldKey(stored, masking.SecretsKey) {
		return stored, nil
	}
	v, err := decodeJSON(stored)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ptr, err)
	}
	out, err := r.openSecrets(v, ptr, top)
	if err != nil {
		return nil, err
	}
	if leaves := secretLeaves(out, top); len(leaves) > 0 {
		r.register(leaves...)
	}
	return encodeJSON(out)
}

// hasKey reports whether a decoded document has a member named key.
func hasKey(v any, key string) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if k == key || hasKey(c, key) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if hasKey(c, key) {
				return true
			}
		}
	}
	return false
}

// IsSecretsKey reports whether a decoded object key marks a `_secrets`
// subtree. Raw (still escaped) keys go through masking.KeyIs.
func IsSecretsKey(key string) bool { return key == masking.SecretsKey }

// sealedTopKeys returns the maskedFields present in data when data is the
// workflow input or output, else nil.
func (r *Run) sealedTopKeys(ptr string, data []byte) map[string]bool {
	if (ptr != "/input" && ptr != "/output") || len(r.maskedFields) == 0 {
		return nil
	}
	var top map[string]bool
	for _, f := range r.maskedFields {
		if masking.MayHoldKey(data, f) {
			if top == nil {
				top = map[string]bool{}
			}
			top[f] = true
		}
	}
	return top
}

// unmaskedJSON reports whether MaskJSON would return data unchanged,
// without its walk: with no escape in the text, every JSON string reads as
// its raw bytes, so a registered value can only occur in data as it is, and
// one scan of the whole text decides. Invalid JSON is left to MaskJSON;
// valid says data is known to be valid.
func (r *Run) unmaskedJSON(data []byte, valid bool) bool {
	if bytes.IndexByte(data, '\\') >= 0 {
		return false
	}
	m := r.reg.masker.Mask(data)
	if len(m) != len(data) || &m[0] != &data[0] {
		return false
	}
	if valid {
		return true
	}
	if len(data) <= 10000 {
		return gjson.ValidBytes(data)
	}
	return json.Valid(data)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: data after the top-level value")
	}
	return v, nil
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// SecretLeaves lists the string and number leaves under `_secrets` keys of
// v, a JSON value decoded with UseNumber: the values the boundary registers
// (sealed strings and secret references are not values).
func SecretLeaves(v any) []string { return secretLeaves(v, nil) }

// secretLeaves lists the string and number leaves under `_secrets` keys of
// v and under the top-level keys in top.
func secretLeaves(v any, top map[string]bool) []string {
	var leaves []string
	collectLeaves(v, false, masking.SecretsKey, &leaves)
	if m, ok := v.(map[string]any); ok {
		for k := range top {
			if c, ok := m[k]; ok {
				collectLeaves(c, true, masking.SecretsKey, &leaves)
			}
		}
	}
	return leaves
}

// collectLeaves appends the leaves of v found under a key named key (or all
// of them when in is true). Sealed strings are not values, nor is the name
// of UPDATE_SECRET's shape (updateSecretName).
func collectLeaves(v any, in bool, key string, dst *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if k == key && key == masking.SecretsKey {
				if m, ok := c.(map[string]any); ok && updateSecretName(m) {
					for mk, mc := range m {
						if mk != "secretKey" {
							collectLeaves(mc, true, key, dst)
						}
					}
					continue
				}
			}
			collectLeaves(c, in || k == key, key, dst)
		}
	case []any:
		for _, c := range x {
			collectLeaves(c, in, key, dst)
		}
	case string:
		if in && !strings.HasPrefix(x, SealedPrefix) && !isSecretReference(x) {
			*dst = append(*dst, x)
		}
	case json.Number:
		if in {
			*dst = append(*dst, x.String())
		}
	}
}

// updateSecretName reports whether m, the object under a `_secrets` key,
// has UPDATE_SECRET's shape {secretKey, secretValue}: its secretKey is the
// name of the secret written (SPEC §4: a static name, like
// ${workflow.secrets.NAME}), not a value. Registered, the name would be
// masked wherever it appears in the run ("rotated_token was rotated" shown
// "*** was rotated"); it is still sealed in storage and shown "***" in
// views with the rest of `_secrets`.
func updateSecretName(m map[string]any) bool {
	name, ok := m["secretKey"].(string)
	_, hasValue := m["secretValue"]
	return ok && hasValue && store.ValidateName(name) == nil
}

func (r *Run) maskOutsideSecrets(v any, top map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			if IsSecretsKey(k) || top[k] {
				out[k] = c
				continue
			}
			out[r.reg.masker.MaskString(k)] = r.maskOutsideSecrets(c, nil)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = r.maskOutsideSecrets(c, nil)
		}
		return out
	case string:
		return r.reg.masker.MaskString(x)
	case json.Number:
		if m := r.reg.masker.MaskString(x.String()); m != x.String() {
			return m
		}
	}
	return v
}

func (r *Run) sealSecrets(v any, ptr string, top map[string]bool) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			p := ptr + "/" + escapePointer(k)
			if IsSecretsKey(k) || top[k] {
				plain, err := encodeJSON(c)
				if err != nil {
					return nil, err
				}
				s, err := r.sealString(plain, p)
				if err != nil {
					return nil, err
				}
				out[k] = s
				continue
			}
			s, err := r.sealSecrets(c, p, nil)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, c := range x {
			s, err := r.sealSecrets(c, ptr+"/"+strconv.Itoa(i), nil)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	return v, nil
}

func (r *Run) openSecrets(v any, ptr string, top map[string]bool) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := ptr + "/" + escapePointer(k)
			if s, ok := c.(string); ok && (IsSecretsKey(k) || top[k]) && strings.HasPrefix(s, SealedPrefix) {
				plain, err := r.openString(s, p)
				if err != nil {
					return nil, err
				}
				dv, err := decodeJSON(plain)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", p, err)
				}
				x[k] = dv
				continue
			}
			o, err := r.openSecrets(c, p, nil)
			if err != nil {
				return nil, err
			}
			x[k] = o
		}
		return x, nil
	case []any:
		for i, c := range x {
			o, err := r.openSecrets(c, ptr+"/"+strconv.Itoa(i), nil)
			if err != nil {
				return nil, err
			}
			x[i] = o
		}
		return x, nil
	}
	return v, nil
}

// escapePointer escapes one JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// isSecretReference reports a string that is one secret reference as a
// stored task input keeps it (${workflow.secrets.X}, $<workflow.secrets.X>):
// the name of a secret, not a value, so it is not registered (it would mask
// the references themselves).
func isSecretReference(s string) bool {
	if len(s) < 20 || s[0] != '$' {
		return false
	}
	var body string
	switch {
	case strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}"):
		body = s[2 : len(s)-1]
	case strings.HasPrefix(s, "$<") && strings.HasSuffix(s, ">"):
		body = s[2 : len(s)-1]
	default:
		return false
	}
	body = strings.TrimSpace(body)
	return (strings.HasPrefix(body, "workflow.secrets.") || strings.HasPrefix(body, "workflow.secrets[")) &&
		!strings.ContainsAny(body, "${}<>")
}

// Generation grows each time a value (or an encoded form) is registered.
// A stored form produced at an older generation may hold a value
// registered since — a workflow input later read into `_secrets` — and
// needs Remask before it is written again.
func (r *Run) Generation() int { return r.reg.masker.Len() }

// Remask masks a stored form again with every value registered so far;
// sealed members stay as they are. ptr is the form's pointer in the run
// (as Protect took it: the maskedFields of "/input" and "/output" are
// sealed members too). Invalid JSON is returned unchanged.
// Re-masking every stored form after each new value costs the whole run
// per value: NewRemaskIndex lists the forms a new value may be in.
func (r *Run) Remask(stored []byte, ptr string) []byte {
	return r.remaskStored(stored, ptr, r.reg.masker.MaskJSON)
}

// remaskStored masks a stored form with mask, around its sealed members:
// a sealed string is random base64 in which a registered value can occur,
// and masking a piece of it would lose the member. The members are
// replaced by placeholders, the form is masked, and they are put back
// (maskAroundMembers). A form with a member that is not sealed (never one
// Protect wrote: it seals every member) is masked whole: when in doubt,
// mask. Invalid JSON is returned unchanged.
func (r *Run) remaskStored(stored []byte, ptr string, mask func([]byte) ([]byte, error)) []byte {
	if len(stored) == 0 {
		return stored
	}
	top := r.sealedTopKeys(ptr, stored)
	if top != nil || masking.MayHoldKey(stored, masking.SecretsKey) {
		members, _, ok := findSealed(stored, ptr, top, maxStoredDepth)
		if ok && len(members) > 0 && allSealed(members) {
			masked, at, ok, err := maskAroundMembers(stored, ptr, top, members, mask)
			if err != nil {
				return stored
			}
			if ok {
				raws := make([]string, len(members))
				for i, m := range members {
					raws[i] = m.raw
				}
				if out, ok := spliceRaw(masked, at, raws); ok {
					return out
				}
			}
		}
	}
	return remaskWhole(stored, mask)
}

// allSealed reports whether every member holds a sealed value.
func allSealed(members []sealedMember) bool {
	for _, m := range members {
		if !strings.HasPrefix(m.raw, `"`+SealedPrefix) {
			return false
		}
	}
	return true
}

func remaskWhole(stored []byte, mask func([]byte) ([]byte, error)) []byte {
	if m, err := mask(stored); err == nil {
		return m
	}
	return stored
}

// NewRemaskIndex returns an index of a run's stored forms (JSON, as
// Remask takes them), each under a key of the caller's choice: after
// values are registered, Candidates(since, nil) — since being Generation
// when the forms were last all masked — lists the only forms Remask could
// change. Set a form again (SetJSON) whenever it is replaced or re-masked,
// and Delete it when it goes. The index is in memory and not safe for
// concurrent use; a resumed run builds it again from its stored forms.
func NewRemaskIndex[K comparable](r *Run) *masking.Index[K] {
	return masking.NewIndex[K](r.reg.masker)
}
