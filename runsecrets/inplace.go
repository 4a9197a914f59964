package runsecrets

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// sealedMember is a `_secrets` subtree (or maskedFields value) of a
// document: its gjson/sjson path, its JSON pointer and its raw JSON.
type sealedMember struct {
	path, ptr string
	raw       string
}

// protectInPlace is Protect's usual path: each sealed member is replaced in
// place (sjson) and the rest is masked by MaskJSON, so the stored and
// in-memory forms keep the document's bytes — member order, spacing,
// number spellings — everywhere else. ok is false when the document needs
// the decoding path instead: a repeated key (a decoder keeps the last one,
// sjson edits the first), a masked key on a member's path, nesting deeper
// than gjson should recurse.
func (r *Run) protectInPlace(data []byte, ptr string, top map[string]bool) (mem, stored []byte, ok bool, err error) {
	members, ok := findSealed(data, ptr, top)
	if !ok {
		return nil, nil, false, nil
	}
	stored = data
	for _, m := range members {
		var plain bytes.Buffer
		if err := json.Compact(&plain, []byte(m.raw)); err != nil {
			return nil, nil, false, nil
		}
		sealed, err := r.sealString(plain.Bytes(), m.ptr)
		if err != nil {
			return nil, nil, false, err
		}
		if stored, err = sjson.SetBytes(stored, m.path, sealed); err != nil {
			return nil, nil, false, nil
		}
	}
	// Sealed strings never match a registered value: masking the whole
	// document now masks exactly what lies outside the sealed members.
	if stored, err = r.reg.masker.MaskJSON(stored); err != nil {
		return nil, nil, false, err
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

// findSealed lists the members Protect seals, in document order.
func findSealed(data []byte, ptr string, top map[string]bool) ([]sealedMember, bool) {
	var members []sealedMember
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
				if IsSecretsKey(key) || (isTop && top[key]) {
					members = append(members, sealedMember{path: p, ptr: jp, raw: c.Raw})
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
	walk(gjson.ParseBytes(data), "", ptr, 0, true)
	return members, ok
}

func joinPath(path, part string) string {
	if path == "" {
		return part
	}
	return path + "." + part
}
