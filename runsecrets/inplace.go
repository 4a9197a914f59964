package runsecrets

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
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
// deeper than gjson should recurse.
//
// The members are spliced in one pass over the document, not set one at
// a time (each sjson set copies the whole document): a DO_WHILE's output
// holds a `_secrets` member per iteration, and one set per member made
// protecting it quadratic in the loop's length. The sets are kept for a
// document whose members are not where the walk says (spliceSealed).
func (r *Run) protectInPlace(data []byte, ptr string, top map[string]bool) (mem, stored []byte, ok bool, err error) {
	members, keys, ok := findSealed(data, ptr, top)
	if !ok {
		return nil, nil, false, nil
	}
	sealed := make([]string, len(members))
	for i, m := range members {
		var plain bytes.Buffer
		if err := json.Compact(&plain, []byte(m.raw)); err != nil {
			return nil, nil, false, nil
		}
		if sealed[i], err = r.sealString(plain.Bytes(), m.ptr); err != nil {
			return nil, nil, false, err
		}
	}
	stored, ok = spliceSealed(data, members, sealed)
	if !ok {
		stored = data
		for i, m := range members {
			if stored, err = sjson.SetBytes(stored, m.path, sealed[i]); err != nil {
				return nil, nil, false, nil
			}
		}
	}
	// Sealed strings never match a registered value: masking the whole
	// document now masks exactly what lies outside the sealed members.
	if stored, err = r.reg.masker.MaskJSON(stored); err != nil {
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
	if mem, ok = restoreMembers(stored, members, sealed); ok {
		return mem, stored, true, nil
	}
	mem = stored
	for _, m := range members {
		if got := gjson.GetBytes(stored, m.path); got.Type != gjson.String || got.Index <= 0 {
			return nil, nil, false, nil // the path no longer leads there
		}
		if mem, err = sjson.SetRawBytes(mem, m.path, []byte(m.raw)); err != nil {
			return nil, nil, false, nil
		}
	}
	return mem, stored, true, nil
}

// spliceSealed is data with each member's raw JSON replaced by its sealed
// string (a JSON string of base64 and a prefix: nothing to escape), in one
// pass. ok is false when a member is not at the place the walk gave it.
func spliceSealed(data []byte, members []sealedMember, sealed []string) ([]byte, bool) {
	n, from := len(data), 0
	for i, m := range members {
		if m.at < from || m.at+len(m.raw) > len(data) || string(data[m.at:m.at+len(m.raw)]) != m.raw {
			return nil, false
		}
		from = m.at + len(m.raw)
		n += len(sealed[i]) + 2 - len(m.raw)
	}
	out := make([]byte, 0, n)
	from = 0
	for i, m := range members {
		out = append(out, data[from:m.at]...)
		out = append(out, '"')
		out = append(out, sealed[i]...)
		out = append(out, '"')
		from = m.at + len(m.raw)
	}
	return append(out, data[from:]...), true
}

// restoreMembers is the masked stored form with each sealed string put
// back as its member's raw JSON: the in-memory form. The sealed strings
// are found in order (each is new, so it lies where it was spliced, and
// masking left it as it was); ok is false when one is not found.
func restoreMembers(stored []byte, members []sealedMember, sealed []string) ([]byte, bool) {
	if len(members) == 0 {
		return stored, true
	}
	n := len(stored)
	for i, m := range members {
		n += len(m.raw) - len(sealed[i]) - 2
	}
	out := make([]byte, 0, max(n, 0))
	from := 0
	for i, m := range members {
		q := len(sealed[i]) + 2
		j := bytes.Index(stored[from:], []byte(sealed[i]))
		if j < 1 || stored[from+j-1] != '"' || from+j+q-1 > len(stored) || stored[from+j+q-2] != '"' {
			return nil, false
		}
		at := from + j - 1
		out = append(out, stored[from:at]...)
		out = append(out, m.raw...)
		from = at + q
	}
	return append(out, stored[from:]...), true
}

// findSealed lists the members Protect seals, in document order, and the
// keys (decoded) on the paths to them.
func findSealed(data []byte, ptr string, top map[string]bool) ([]sealedMember, []string, bool) {
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
		if depth > 100 {
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
