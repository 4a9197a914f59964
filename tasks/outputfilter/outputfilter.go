// Package outputfilter is Orkes' outputFilter as every wfrun executor of a
// task applies it — the engine (local and `wfrun serve` system tasks) and
// `wfrun worker` (a task polled from a Conductor server): after the task
// ran, the filter is resolved against the task's own raw output and its
// result replaces the output, before anything is masked, sealed, stored or
// sent. Only what the filter selects leaves the executor; the rotation
// template keeps a token out of every store this way:
//
//	"outputFilter": {"_secrets": {"token": "$${retrieve_token.output.response.body.token}"}}
//
// The filter's expressions are escaped in the definition ($${…}) so that
// input resolution leaves them alone. A filter is prepared from the
// definition's source with one level of escape removed — never from a
// resolved input, where a value that came from run data and contains
// "${…}" must stay data.
package outputfilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
)

// Key is the inputParameters key of the filter.
const Key = "outputFilter"

// Withheld ends a failure reason whose details would quote the raw output.
const Withheld = "(details withheld: the task's output goes through its outputFilter)"

// Prepared is a filter ready to compile: its JSON with one level of escape
// removed, and where its expressions are.
type Prepared struct {
	// JSON is the filter to compile as a template.
	JSON []byte
	// Checks are the JSON pointers (as segments) of the filter's string
	// values that hold an expression, in document order of their pointers:
	// a whole expression that resolves to null there means the task's
	// output lacks what the filter selects (Check).
	Checks [][]string
}

// Prepare takes a filter as the definition writes it. It must be a JSON
// object, or a string (one expression giving an object).
func Prepare(raw json.RawMessage) (*Prepared, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || (t[0] != '{' && t[0] != '"') {
		return nil, errors.New("outputFilter must be a JSON object (or one expression giving an object)")
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	p := &Prepared{}
	doc = promote(doc, nil, &p.Checks)
	// Document order is lost in decoding; a fixed order keeps the reported
	// problem the same from run to run.
	sort.Slice(p.Checks, func(i, j int) bool { return pointerLess(p.Checks[i], p.Checks[j]) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	p.JSON = bytes.TrimRight(buf.Bytes(), "\n")
	return p, nil
}

// UnescapeOnce removes one level of escape, as input resolution does:
// "$${" becomes "${" and "$$<" becomes "$<"; the rest is kept as written.
// Unescaped expressions therefore stay expressions and are resolved again
// when the filter runs.
func UnescapeOnce(s string) string {
	if !strings.Contains(s, "$$") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] == '$' && i+2 < len(s) && s[i+1] == '$' && (s[i+2] == '{' || s[i+2] == '<') {
			b.WriteByte('$')
			b.WriteByte(s[i+2])
			i += 3
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// promote rewrites every string value of a decoded filter with
// UnescapeOnce and records where expressions are.
func promote(v any, path []string, checks *[][]string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			x[k] = promote(c, append(path[:len(path):len(path)], k), checks)
		}
		return x
	case []any:
		for i, c := range x {
			x[i] = promote(c, append(path[:len(path):len(path)], strconv.Itoa(i)), checks)
		}
		return x
	case string:
		p := UnescapeOnce(x)
		if strings.Contains(p, "${") || strings.Contains(p, "$<") {
			*checks = append(*checks, path)
		}
		return p
	}
	return v
}

// pointerLess orders pointers segment by segment, array indexes by number.
func pointerLess(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		ai, aerr := strconv.Atoi(a[i])
		bi, berr := strconv.Atoi(b[i])
		if aerr == nil && berr == nil {
			return ai < bi
		}
		return a[i] < b[i]
	}
	return len(a) < len(b)
}

// Check reads a resolved filter: it must be a JSON object in which no
// checked expression resolved to null. The reason says where, never what
// ("" when the result stands).
func Check(out []byte, checks [][]string) string {
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "result is not valid JSON"
	}
	if _, ok := v.(map[string]any); !ok {
		return "result must be a JSON object, got " + kindOf(v)
	}
	for _, path := range checks {
		if val, found := lookupPath(v, path); found && val == nil {
			return fmt.Sprintf("%s resolved to null: the task's output has no such value", Pointer(path))
		}
	}
	return ""
}

// ErrorText is the text of an error resolving a filter. The syntax error a
// filter can meet at run time is a computed path's, which spells the path
// it built from values of the raw output (the value the filter was to
// seal, which no masker knows yet): it says where, not what.
func ErrorText(err error) string {
	var ie *interpolate.Error
	if errors.As(err, &ie) && errors.Is(ie.Err, interpolate.ErrSyntax) {
		c := *ie
		c.Msg = "a computed path is not a valid path " + Withheld
		return c.Error()
	}
	return err.Error()
}

// WithholdReason cuts a failure reason before the first ": " when it
// quotes a string of the raw output (a whole value, or the start of a long
// one, as an excerpt would), so "HTTP 500 Internal Server Error: {…body…}"
// keeps its status and loses the body.
func WithholdReason(reason string, raw []byte) string {
	if reason == "" || len(raw) == 0 {
		return reason
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return reason
	}
	quoted := false
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		case string:
			if len(x) >= 6 && strings.Contains(reason, x[:min(len(x), 24)]) {
				quoted = true
			}
		}
	}
	walk(v)
	if !quoted {
		return reason
	}
	head, _, _ := strings.Cut(reason, ": ")
	return head + " " + Withheld
}

func lookupPath(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case map[string]any:
			c, ok := x[seg]
			if !ok {
				return nil, false
			}
			v = c
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Pointer is the JSON pointer of path ("the filter" for the whole).
func Pointer(path []string) string {
	if len(path) == 0 {
		return "the filter"
	}
	var b strings.Builder
	for _, s := range path {
		b.WriteByte('/')
		if strings.ContainsAny(s, "~/") {
			s = strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
		}
		b.WriteString(s)
	}
	return b.String()
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}
