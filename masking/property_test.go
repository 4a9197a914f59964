package masking

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// Property tests: fixed seeds so a failure reproduces; many iterations.

const propIterations = 400

// alphabet for random secret values: letters, digits, JSON and URL
// specials, whitespace, multi-byte UTF-8 and the odd '*'.
var valueRunes = []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" +
	`"\/:+=&%?#@!-_.~ <>'` + "\n\t\r" + "éß€😀\u2028*")

func randValue(r *rand.Rand) string {
	n := 4 + r.Intn(28)
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteRune(valueRunes[r.Intn(len(valueRunes))])
	}
	return sb.String()
}

// encodedForms computes, independently of derive, the forms a value takes
// that must never survive masking.
func encodedForms(v string, minLen int) []string {
	var bases []string
	bases = append(bases, v)
	for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
		bases = append(bases, strings.TrimSpace(l))
	}
	var out []string
	for _, b := range bases {
		j, _ := json.Marshal(b)
		var plain bytes.Buffer
		enc := json.NewEncoder(&plain)
		enc.SetEscapeHTML(false)
		enc.Encode(b)
		for _, f := range []string{
			b,
			string(j[1 : len(j)-1]),
			strings.TrimSpace(plain.String())[1 : len(strings.TrimSpace(plain.String()))-1],
			base64.StdEncoding.EncodeToString([]byte(b)),
			base64.RawURLEncoding.EncodeToString([]byte(b)),
			url.QueryEscape(b),
			url.PathEscape(b),
		} {
			if len(f) >= minLen {
				out = append(out, f)
			}
		}
	}
	return out
}

// carrier returns text that contains value v in one of its encodings.
func carrier(r *rand.Rand, v string) string {
	switch r.Intn(6) {
	case 0:
		return v
	case 1:
		j, _ := json.Marshal(v)
		return string(j[1 : len(j)-1])
	case 2:
		return base64.StdEncoding.EncodeToString([]byte(v))
	case 3:
		return url.QueryEscape(v)
	case 4:
		lines := strings.Split(v, "\n")
		return lines[r.Intn(len(lines))]
	default:
		return url.PathEscape(v)
	}
}

func randText(r *rand.Rand, values []string) string {
	var sb strings.Builder
	for i := 0; i < 1+r.Intn(8); i++ {
		sb.WriteString(randValue(r)[:r.Intn(5)])
		if len(values) > 0 && r.Intn(2) == 0 {
			sb.WriteString(carrier(r, values[r.Intn(len(values))]))
		}
	}
	return sb.String()
}

// randJSON builds a random document whose strings (keys and values) and
// numbers may carry registered values.
func randJSON(r *rand.Rand, depth int, values []string) any {
	k := r.Intn(7)
	if depth > 4 {
		k = r.Intn(3)
	}
	switch k {
	case 0:
		return randText(r, values)
	case 1:
		return float64(r.Intn(100000))
	case 2:
		return []any{nil, true, false}[r.Intn(3)]
	case 3, 4:
		m := map[string]any{}
		for i := 0; i < r.Intn(5); i++ {
			m[randText(r, values)] = randJSON(r, depth+1, values)
		}
		return m
	default:
		a := []any{}
		for i := 0; i < r.Intn(5); i++ {
			a = append(a, randJSON(r, depth+1, values))
		}
		return a
	}
}

// allStrings returns every string token (keys included) of a valid document.
func allStrings(t *testing.T, doc []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	var out []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("output does not decode: %v\n%s", err, doc)
		}
		if s, ok := tok.(string); ok {
			out = append(out, s)
		}
	}
}

func assertNoForms(t *testing.T, where string, text string, forms []string) {
	t.Helper()
	for _, f := range forms {
		if strings.Contains(text, f) {
			t.Fatalf("%s: form %q survives in %q", where, f, text)
		}
	}
}

func TestPropertyMaskText(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for it := 0; it < propIterations; it++ {
		m := New()
		var values, forms []string
		for i := 0; i < 1+r.Intn(6); i++ {
			v := randValue(r)
			if m.Register(v) {
				values = append(values, v)
				forms = append(forms, encodedForms(v, DefaultMinLength)...)
			}
		}
		text := randText(r, values)
		got := m.MaskString(text)
		assertNoForms(t, fmt.Sprintf("iteration %d", it), got, forms)
		// The writer, with a random split, agrees with Mask.
		var buf bytes.Buffer
		w := m.NewWriter(&buf)
		cut := r.Intn(len(text) + 1)
		w.Write([]byte(text[:cut]))
		w.Write([]byte(text[cut:]))
		w.Close()
		assertNoForms(t, fmt.Sprintf("writer iteration %d", it), buf.String(), forms)
	}
}

func TestPropertyMaskJSON(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for it := 0; it < propIterations; it++ {
		m := New()
		var values, forms []string
		for i := 0; i < 1+r.Intn(5); i++ {
			v := randValue(r)
			if m.Register(v) {
				values = append(values, v)
				forms = append(forms, encodedForms(v, DefaultMinLength)...)
			}
		}
		docv := randJSON(r, 0, values)
		var doc []byte
		if r.Intn(2) == 0 {
			doc, _ = json.Marshal(docv)
		} else {
			doc, _ = json.MarshalIndent(docv, "", "  ")
		}
		orig := append([]byte(nil), doc...)
		out, err := m.MaskJSON(doc)
		if err != nil {
			t.Fatalf("iteration %d: %v", it, err)
		}
		if !bytes.Equal(doc, orig) {
			t.Fatalf("iteration %d: MaskJSON modified its input", it)
		}
		if !json.Valid(out) {
			t.Fatalf("iteration %d: invalid JSON out:\n%s", it, out)
		}
		where := fmt.Sprintf("iteration %d", it)
		assertNoForms(t, where, string(out), forms)
		for _, s := range allStrings(t, out) {
			assertNoForms(t, where+" (decoded)", s, forms)
		}
	}
}

// randRun builds a random run document with _secrets and _masked members
// at random places. Leaves under _secrets are "S<n>x" tokens, under
// _masked "M<n>x", elsewhere "P<n>x", so each is recognisable.
type runGen struct {
	r *rand.Rand
	n int
}

func (g *runGen) leaf(kind string) any {
	g.n++
	if g.r.Intn(4) == 0 {
		return float64(1000000 + g.n) // numbers must go too
	}
	return fmt.Sprintf("%s%dx", kind, g.n)
}

func (g *runGen) value(depth int, kind string) any {
	switch k := g.r.Intn(6); {
	case depth > 4 || k < 2:
		return g.leaf(kind)
	case k < 5:
		m := map[string]any{}
		for i := 0; i < g.r.Intn(5); i++ {
			key := fmt.Sprintf("k%d", g.n+i)
			switch g.r.Intn(8) {
			case 0:
				m["_secrets"] = g.value(depth+1, "S")
			case 1:
				if kind == "P" {
					m["_masked"] = g.value(depth+1, "M")
				} else {
					m["_masked"] = g.value(depth+1, kind)
				}
			default:
				m[key] = g.value(depth+1, kind)
			}
		}
		return m
	default:
		var a []any
		for i := 0; i < g.r.Intn(4); i++ {
			a = append(a, g.value(depth+1, kind))
		}
		return a
	}
}

func (g *runGen) run() (map[string]any, []string) {
	fields := []string{"f1", "f2"}
	in := g.value(1, "P")
	inm, ok := in.(map[string]any)
	if !ok {
		inm = map[string]any{}
	}
	inm["f1"] = g.leaf("F")
	out := map[string]any{"f2": g.value(2, "F"), "other": g.leaf("P")}
	var tasks []any
	for i := 0; i < g.r.Intn(5); i++ {
		tasks = append(tasks, map[string]any{
			"taskId": fmt.Sprintf("t%d", i), "referenceTaskName": fmt.Sprintf("r%d", i),
			"status":     []string{"COMPLETED", "FAILED", "SCHEDULED"}[g.r.Intn(3)],
			"inputData":  g.value(1, "P"),
			"outputData": g.value(1, "P"),
		})
	}
	return map[string]any{
		"workflowId": "wf", "status": "COMPLETED", "input": inm, "output": out,
		"variables": g.value(1, "P"), "tasks": tasks,
	}, fields
}

// reference applies the archive/view rules on decoded data.
func reference(v any, path []string, fields []string, view bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			redact := k == "_secrets" || (view && k == "_masked")
			if len(path) == 1 && (path[0] == "input" || path[0] == "output") {
				for _, f := range fields {
					redact = redact || f == k
				}
			}
			if redact {
				out[k] = Redacted
			} else {
				out[k] = reference(e, append(path[:len(path):len(path)], k), fields, view)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = reference(e, append(path[:len(path):len(path)], "#"), fields, view)
		}
		return out
	}
	return v
}

func TestPropertyArchiveAndView(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for it := 0; it < propIterations; it++ {
		g := &runGen{r: r}
		run, fields := g.run()
		doc, _ := json.MarshalIndent(run, "", " ")
		stored := append([]byte(nil), doc...)
		var decoded any
		json.Unmarshal(doc, &decoded)
		for _, view := range []bool{false, true} {
			var got []byte
			var err error
			if view {
				got, err = View(doc, fields)
			} else {
				got, err = Archive(doc, fields)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(doc, stored) {
				t.Fatalf("iteration %d: stored document changed", it)
			}
			if !json.Valid(got) {
				t.Fatalf("iteration %d: invalid output", it)
			}
			var gotv any
			json.Unmarshal(got, &gotv)
			if want := reference(decoded, nil, fields, view); !reflect.DeepEqual(gotv, want) {
				t.Fatalf("iteration %d view=%v: differs from the reference rules\n%s", it, view, got)
			}
			// No leaf that lived under _secrets (or a masked field)
			// survives; under View, no _masked leaf either.
			s := string(got)
			for i := 1; i <= g.n; i++ {
				for _, kind := range []string{"S", "F"} {
					if strings.Contains(s, fmt.Sprintf(`"%s%dx"`, kind, i)) {
						t.Fatalf("iteration %d view=%v: %s%d survives", it, view, kind, i)
					}
				}
				if view && strings.Contains(s, fmt.Sprintf(`"M%dx"`, i)) {
					t.Fatalf("iteration %d: _masked leaf M%d shown", it, i)
				}
			}
		}
	}
}
