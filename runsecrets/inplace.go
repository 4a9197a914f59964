package runsecrets

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tidwall/gjson"
)

// sealedMember is a `_secrets` subtree (or maskedFields value) of a
// document: its gjson/sjson path, its JSON pointer, its raw JSON and where
// that starts in the document.
type sealedMember struct {
	path, ptr string
	raw       string
	at        int
}

// protectInPlace is Protect's usual path: each sealed member is replaced in
// place and the rest is masked by MaskJSON, so the stored and in-memory
// forms keep the document's bytes — member order, spacing, number
// spellings — everywhere else. ok is false when the document needs the
// decoding path instead: a repeated key (a decoder keeps the last one, an
// in-place edit the first), a masked key on a member's path, nesting
// deeper than gjson should recurse, a member masking removed.
//
// Masking comes before sealing: a sealed string is random base64, and a
// registered value (or one of its encoded forms) can occur in it, so
// masking a document that already holds one can rewrite a piece of the
// ciphertext and lose the member (maskAroundMembers).
//
// The members are spliced in one pass over the document, not set one at
// a time (each sjson set copies the whole document): a DO_WHILE's output
// holds a `_secrets` member per iteration, and one set per member made
// protecting it quadratic in the loop's length.
func (r *Run) protectInPlace(data []byte, ptr string, top map[string]bool) (mem, stored []byte, ok bool, err error) {
	members, keys, ok := findSealed(data, ptr, top, maxWalkDepth)
	if !ok {
		return nil, nil, false, nil
	}
	sealed := make([]string, len(members))
	raws := make([]string, len(members))
	for i, m := range members {
		var plain bytes.Buffer
		if err := json.Compact(&plain, []byte(m.raw)); err != nil {
			return nil, nil, false, nil
		}
		if sealed[i], err = r.sealString(plain.Bytes(), m.ptr); err != nil {
			return nil, nil, false, err
		}
		sealed[i] = `"` + sealed[i] + `"`
		raws[i] = m.raw
	}
	masked, at, ok, err := maskAroundMembers(data, ptr, top, members, r.reg.masker.MaskJSON)
	if !ok || err != nil {
		return nil, nil, false, err
	}
	// A member's sealed string is bound to its pointer: a key on its
	// path that masking changed would move it. The masker only grows, so
	// a key MaskJSON masked is masked here too.
	for _, k := range keys {
		if r.reg.masker.MaskString(k) != k {
			return nil, nil, false, nil
		}
	}
	if stored, ok = spliceRaw(masked, at, sealed); !ok {
		return nil, nil, false, nil
	}
	if mem, ok = spliceRaw(masked, at, raws); !ok {
		return nil, nil, false, nil
	}
	return mem, stored, true, nil
}

// placeholder stands for a sealed member while its document is masked: an
// empty string, which no registered value (none is shorter than
// masking's minimum length) can match, and no piece of ciphertext.
const placeholder = `""`

// maskAroundMembers masks data with mask, leaving members (found in data
// by findSealed) out of it: each is replaced by placeholder, the document
// is masked, and the placeholders are found again in the masked document,
// at the same paths: at lists them there, for spliceRaw. ok is false when
// a member is not where the walk said, or masking moved or removed one
// (a masked key on its path, a value across tokens masked as a whole).
func maskAroundMembers(data []byte, ptr string, top map[string]bool, members []sealedMember, mask func([]byte) ([]byte, error)) (masked []byte, at []sealedMember, ok bool, err error) {
	holes := make([]string, len(members))
	for i := range holes {
		holes[i] = placeholder
	}
	held, ok := spliceRaw(data, members, holes)
	if !ok {
		return nil, nil, false, nil
	}
	if masked, err = mask(held); err != nil {
		return nil, nil, false, err
	}
	at, _, ok = findSealed(masked, ptr, top, maxStoredDepth)
	if !ok || len(at) != len(members) {
		return nil, nil, false, nil
	}
	for i, m := range at {
		if m.raw != placeholder || m.path != members[i].path {
			return nil, nil, false, nil
		}
	}
	return masked, at, true, nil
}

// spliceRaw is data with each member's raw JSON replaced by raws[i] (raw
// JSON), in one pass. ok is false when a member is not at the place the
// walk gave it.
func spliceRaw(data []byte, members []sealedMember, raws []string) ([]byte, bool) {
	n, from := len(data), 0
	for i, m := range members {
		if m.at < from || m.at+len(m.raw) > len(data) || string(data[m.at:m.at+len(m.raw)]) != m.raw {
			return nil, false
		}
		from = m.at + len(m.raw)
		n += len(raws[i]) - len(m.raw)
	}
	out := make([]byte, 0, n)
	from = 0
	for i, m := range members {
		out = append(out, data[from:m.at]...)
		out = append(out, raws[i]...)
		from = m.at + len(m.raw)
	}
	return append(out, data[from:]...), true
}

// maxWalkDepth is the nesting Protect's in-place path walks (deeper
// documents take the decoding path); maxStoredDepth is the nesting a
// stored form can have (encoding/json's limit), walked when it is masked
// again.
const (
	maxWalkDepth   = 100
	maxStoredDepth = 10000
)

// findSealed lists the members Protect seals, in document order, and the
// keys (decoded) on the paths to them. ok is false for a repeated key or
// nesting deeper than maxDepth.
func findSealed(data []byte, ptr string, top map[string]bool, maxDepth int) ([]sealedMember, []string, bool) {
	var members []sealedMember
	var keys []string
	onPath := map[string]bool{}
	var stack []string // the keys from the root to the value walked
	ok := true
	var walk func(v gjson.Result, path, jptr string, depth int, isTop bool)
	walk = func(v gjson.Result, path, jptr string, depth int, isTop bool) {
		if !ok {
			return
		}
		if depth > maxDepth {
			ok = false
			return
		}
		switch {
		case v.IsObject():
			seen := map[string]bool{}
			v.ForEach(func(k, c gjson.Result) bool {
				key := k.String()
				if seen[key] {
					ok = false
					return false
				}
				seen[key] = true
				p := joinPath(path, gjson.Escape(key))
				jp := jptr + "/" + escapePointer(key)
				stack = append(stack, key)
				defer func() { stack = stack[:len(stack)-1] }()
				if IsSecretsKey(key) || (isTop && top[key]) {
					members = append(members, sealedMember{path: p, ptr: jp, raw: c.Raw, at: c.Index})
					for _, k := range stack {
						if !onPath[k] {
							onPath[k] = true
							keys = append(keys, k)
						}
					}
					return true
				}
				walk(c, p, jp, depth+1, false)
				return ok
			})
		case v.IsArray():
			i := 0
			v.ForEach(func(_, c gjson.Result) bool {
				walk(c, joinPath(path, strconv.Itoa(i)), jptr+"/"+strconv.Itoa(i), depth+1, false)
				i++
				return ok
			})
		}
	}
	root := gjson.ParseBytes(data)
	// Parse leaves the root's Index at 0; its members' offsets count
	// from it.
	root.Index = len(data) - len(bytes.TrimLeft(data, " \t\r\n"))
	walk(root, "", ptr, 0, true)
	return members, keys, ok
}

func joinPath(path, part string) string {
	if path == "" {
		return part
	}
	return path + "." + part
}
