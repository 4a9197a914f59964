package worker

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// A `_secrets` leaf of a task's output is sent to the server sealed, when
// the worker has a key (Config.Seal): the leaf's JSON, encrypted with the
// key and bound to the run (its workflowInstanceId), as one string
//
//	wfrun-worker-sealed:v1:<base64url of the ciphertext>
//
// The server stores and shows only that. A later task of the same run that
// reads the leaf (${call.output._secrets.token}, whole or inside text such
// as "Bearer ${…}") is handed the sealed string by the server, and the
// worker that runs it opens it into the task's transient input, registered
// with the task's masker: Orkes' rotation template (an HTTP task's
// outputFilter keeps the token under _secrets, UPDATE_SECRET stores it)
// runs through a Conductor server that never holds the token. Every worker
// of the server needs the same key; a sealed string from another run, or
// one that was altered, fails the task that reads it, naming where.
const sealedPrefix = "wfrun-worker-sealed:v1:"

// sealAAD binds a sealed leaf to its run.
func sealAAD(workflowID string) []byte {
	return []byte("wfrun worker _secrets leaf\x00" + workflowID)
}

// sealSlot is the placeholder a leaf takes while the answer is masked: a
// ciphertext is random text, so it is put in after masking, where nothing
// can alter it.
func sealSlot(i int) string { return "wfrun-worker-sealed-slot-" + strconv.Itoa(i) }

// slotSecrets replaces every non-null leaf under a `_secrets` key of v by a
// placeholder and returns the leaves' JSON, in placeholder order.
func slotSecrets(v any, under bool, leaves *[][]byte) any {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			x[k] = slotSecrets(c, under || runsecrets.IsSecretsKey(k), leaves)
		}
		return x
	case []any:
		for i, c := range x {
			x[i] = slotSecrets(c, under, leaves)
		}
		return x
	case nil:
		return nil
	}
	if !under {
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	*leaves = append(*leaves, b)
	return sealSlot(len(*leaves) - 1)
}

// fillSlots puts the sealed leaves in place of their placeholders in a
// masked answer. A placeholder masking altered (a registered value inside
// it) becomes null: the leaf is not sent, as without a key. One pass over
// the answer finds every placeholder, however many leaves it has.
func fillSlots(ring *seal.Keyring, workflowID string, masked []byte, leaves [][]byte) ([]byte, error) {
	type slot struct{ start, end, leaf int }
	var slots []slot
	count := make([]int, len(leaves))
	prefix := []byte(`"` + strings.TrimSuffix(sealSlot(0), "0"))
	for at := 0; ; {
		j := bytes.Index(masked[at:], prefix)
		if j < 0 {
			break
		}
		start := at + j
		digits := start + len(prefix)
		end := digits
		for end < len(masked) && masked[end] >= '0' && masked[end] <= '9' {
			end++
		}
		if end < len(masked) && masked[end] == '"' {
			if i, err := strconv.Atoi(string(masked[digits:end])); err == nil && i < len(leaves) && sealSlot(i) == string(masked[start+1:end]) {
				slots = append(slots, slot{start, end + 1, i})
				count[i]++
			}
		}
		at = digits
	}
	altered := false
	for _, c := range count {
		altered = altered || c != 1
	}
	out := make([]byte, 0, len(masked)+len(slots)*64)
	last := 0
	for _, sl := range slots {
		if count[sl.leaf] != 1 {
			continue // altered: left as it is, dropped below
		}
		ct, err := ring.Seal(leaves[sl.leaf], sealAAD(workflowID))
		if err != nil {
			return nil, err
		}
		out = append(out, masked[last:sl.start]...)
		out = append(out, '"')
		out = append(out, sealedPrefix...)
		out = base64.RawURLEncoding.AppendEncode(out, ct)
		out = append(out, '"')
		last = sl.end
	}
	masked = append(out, masked[last:]...)
	if !altered {
		return masked, nil
	}
	// Every leaf under `_secrets` is a sealed string now, but those whose
	// placeholder masking altered: they are left out.
	var v any
	dec := json.NewDecoder(bytes.NewReader(masked))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(dropUnsealed(v, false))
}

func dropUnsealed(v any, under bool) any {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			x[k] = dropUnsealed(c, under || runsecrets.IsSecretsKey(k))
		}
	case []any:
		for i, c := range x {
			x[i] = dropUnsealed(c, under)
		}
	case nil:
	default:
		if s, ok := x.(string); under && (!ok || !strings.HasPrefix(s, sealedPrefix)) {
			return nil
		}
	}
	return v
}

// errSealed is a sealed string the worker cannot open.
var errSealed = errors.New("sealed value cannot be opened")

// openSealed replaces every sealed string in the polled input v by what it
// seals, registering each value: a whole string becomes the leaf's JSON
// value, a sealed string inside text becomes its text (a string as it is,
// anything else as compact JSON). Nothing is sealed: v as it is.
func openSealed(ring *seal.Keyring, workflowID string, v any, path string, register func(...string)) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			o, err := openSealed(ring, workflowID, c, path+"."+k, register)
			if err != nil {
				return nil, err
			}
			x[k] = o
		}
		return x, nil
	case []any:
		for i, c := range x {
			o, err := openSealed(ring, workflowID, c, fmt.Sprintf("%s[%d]", path, i), register)
			if err != nil {
				return nil, err
			}
			x[i] = o
		}
		return x, nil
	case string:
		if !strings.Contains(x, sealedPrefix) {
			return x, nil
		}
		if ring == nil {
			return nil, fmt.Errorf("%s: %w: it was sealed by a wfrun worker, and this worker has no key to open it (it seals and opens with the store's master key)", path, errSealed)
		}
		var b strings.Builder
		rest := x
		for {
			i := strings.Index(rest, sealedPrefix)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			b.WriteString(rest[:i])
			rest = rest[i+len(sealedPrefix):]
			n := 0
			for n < len(rest) && isBase64URL(rest[n]) {
				n++
			}
			if n == 0 {
				return nil, fmt.Errorf("%s: %w: not a sealed value", path, errSealed)
			}
			leaf, err := openLeaf(ring, workflowID, rest[:n])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			rest = rest[n:]
			var s string
			if json.Unmarshal(leaf, &s) == nil {
				register(s)
				if i == 0 && len(rest) == 0 && b.Len() == 0 {
					return s, nil
				}
				b.WriteString(s)
				continue
			}
			register(string(leaf))
			if i == 0 && len(rest) == 0 && b.Len() == 0 {
				var val any
				if err := decodeNumbers(leaf, &val); err != nil {
					return nil, fmt.Errorf("%s: %w", path, errSealed)
				}
				return val, nil
			}
			b.Write(leaf)
		}
		return b.String(), nil
	}
	return v, nil
}

func openLeaf(ring *seal.Keyring, workflowID, enc string) ([]byte, error) {
	ct, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: not a sealed value", errSealed)
	}
	leaf, err := ring.Open(ct, sealAAD(workflowID))
	if errors.Is(err, seal.ErrUnknownKey) {
		return nil, fmt.Errorf("%w: it was sealed with another key (every worker of a server needs the same master key, WFRUN_MASTER_KEY)", errSealed)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: it was sealed for another run, or altered", errSealed)
	}
	if !json.Valid(leaf) {
		return nil, fmt.Errorf("%w: not a sealed value", errSealed)
	}
	return leaf, nil
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
