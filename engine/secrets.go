package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// sealedPrefix marks a persisted `_secrets` subtree: the subtree's JSON,
// sealed with the run's keyring, AAD = run id + JSON pointer of the subtree.
const sealedPrefix = "wfrun-sealed:v1:"

var secretsKey = []byte(`"_secrets"`)

// protect turns data produced by a task (or a workflow input, or variables)
// into its in-memory form and its persisted form:
//
//   - every string/number leaf under a `_secrets` key is registered with the
//     run's masker (so the same value anywhere else is masked too);
//   - everything outside `_secrets` subtrees is masked;
//   - mem keeps `_secrets` subtrees in clear (a later task may read
//     ${ref.output._secrets.x}); stored has them sealed.
//
// base is the stable JSON pointer of data inside the run ("/input",
// "/tasks/<taskId>/outputData"), bound into each seal's AAD.
//
// The definition's maskedFields (keys of the workflow input and output) are
// handled like `_secrets` subtrees: registered, kept in clear in memory,
// sealed in the primary store (so a resumed run still has them), and copies
// of their values elsewhere are masked.
func (r *runState) protect(data []byte, base string) (mem, stored []byte, err error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	top := r.sealedTopKeys(base, data)
	if top == nil && !bytes.Contains(data, secretsKey) {
		if r.unmaskedJSON(data) {
			return data, data, nil
		}
		mem, err = r.masker.MaskJSON(data)
		if err != nil {
			return nil, nil, fmt.Errorf("mask %s: %w", base, err)
		}
		return mem, mem, nil
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", base, err)
	}
	var leaves []string
	collectSecretLeaves(v, false, &leaves)
	m, _ := v.(map[string]any)
	for k := range top {
		if c, ok := m[k]; ok {
			collectSecretLeaves(c, true, &leaves)
		}
	}
	if len(leaves) > 0 {
		r.register(leaves...)
	}
	mv := r.maskOutsideSecrets(v, top)
	mem, err = encodeJSON(mv)
	if err != nil {
		return nil, nil, err
	}
	sv, err := r.sealSecrets(mv, base, top)
	if err != nil {
		return nil, nil, err
	}
	stored, err = encodeJSON(sv)
	return mem, stored, err
}

// unmaskedJSON reports whether MaskJSON would return data unchanged,
// without its walk: with no escape in the text, every JSON string reads as
// its raw bytes, so a registered value can only occur in data as it is, and
// one scan of the whole text (the masker returns data itself when nothing
// matched) decides. Most task outputs carry no secret, and this check is a
// fraction of the walk's cost. Invalid JSON is left to MaskJSON's error.
func (r *runState) unmaskedJSON(data []byte) bool {
	if bytes.IndexByte(data, '\\') >= 0 {
		return false
	}
	m := r.masker.Mask(data)
	if len(m) != len(data) || &m[0] != &data[0] {
		return false
	}
	// json.Valid, faster: up to encoding/json's nesting limit in bytes, a
	// document cannot nest too deep for gjson's recursive validator, which
	// there accepts exactly what json.Valid does.
	if len(data) <= 10000 {
		return gjson.ValidBytes(data)
	}
	return json.Valid(data)
}

// unseal is the inverse of protect's stored form, used when a run is loaded.
func (r *runState) unseal(stored []byte, base string) ([]byte, error) {
	top := r.sealedTopKeys(base, stored)
	if len(stored) == 0 || (top == nil && !bytes.Contains(stored, secretsKey)) {
		return stored, nil
	}
	v, err := decodeJSON(stored)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	out, err := r.openSecrets(v, base, top)
	if err != nil {
		return nil, err
	}
	var leaves []string
	collectSecretLeaves(out, false, &leaves)
	if m, ok := out.(map[string]any); ok {
		for k := range top {
			if c, ok := m[k]; ok {
				collectSecretLeaves(c, true, &leaves)
			}
		}
	}
	if len(leaves) > 0 {
		r.register(leaves...)
	}
	return encodeJSON(out)
}

// sealedTopKeys returns the maskedFields present in data when data is the
// workflow input or output, else nil.
func (r *runState) sealedTopKeys(base string, data []byte) map[string]bool {
	if (base != "/input" && base != "/output") || len(r.def.MaskedFields) == 0 {
		return nil
	}
	var top map[string]bool
	for _, f := range r.def.MaskedFields {
		if bytes.Contains(data, []byte(`"`+f+`"`)) {
			if top == nil {
				top = map[string]bool{}
			}
			top[f] = true
		}
	}
	return top
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
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

func collectSecretLeaves(v any, inSecrets bool, dst *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			collectSecretLeaves(c, inSecrets || k == "_secrets", dst)
		}
	case []any:
		for _, c := range x {
			collectSecretLeaves(c, inSecrets, dst)
		}
	case string:
		if inSecrets && !strings.HasPrefix(x, sealedPrefix) {
			*dst = append(*dst, x)
		}
	case json.Number:
		if inSecrets {
			*dst = append(*dst, x.String())
		}
	}
}

func (r *runState) maskOutsideSecrets(v any, top map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			if k == "_secrets" || top[k] {
				out[k] = c
				continue
			}
			out[r.masker.MaskString(k)] = r.maskOutsideSecrets(c, nil)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = r.maskOutsideSecrets(c, nil)
		}
		return out
	case string:
		return r.masker.MaskString(x)
	}
	return v
}

func (r *runState) aad(ptr string) []byte { return []byte(r.id + "|" + ptr) }

func (r *runState) sealSecrets(v any, ptr string, top map[string]bool) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			p := ptr + "/" + pointerEscape(k)
			if k == "_secrets" || top[k] {
				plain, err := encodeJSON(c)
				if err != nil {
					return nil, err
				}
				ct, err := r.e.keyring.Seal(plain, r.aad(p))
				if err != nil {
					return nil, fmt.Errorf("seal %s: %w", p, err)
				}
				out[k] = sealedPrefix + base64.StdEncoding.EncodeToString(ct)
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
			s, err := r.sealSecrets(c, ptr+"/"+itoa(i), nil)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	return v, nil
}

func (r *runState) openSecrets(v any, ptr string, top map[string]bool) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := ptr + "/" + pointerEscape(k)
			if s, ok := c.(string); ok && (k == "_secrets" || top[k]) && strings.HasPrefix(s, sealedPrefix) {
				ct, err := base64.StdEncoding.DecodeString(s[len(sealedPrefix):])
				if err != nil {
					return nil, fmt.Errorf("%s: damaged sealed value", p)
				}
				plain, err := r.e.keyring.Open(ct, r.aad(p))
				if err != nil {
					return nil, fmt.Errorf("%s: cannot unseal: %w", p, err)
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
			o, err := r.openSecrets(c, ptr+"/"+itoa(i), nil)
			if err != nil {
				return nil, err
			}
			x[i] = o
		}
		return x, nil
	}
	return v, nil
}
