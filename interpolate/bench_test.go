package interpolate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
)

// The peers' hot paths, re-implemented here (test-only) as reference/peers.md §9 describes,
// so that every figure comes from the same run on the same machine.

// benchDoc builds an HTTP-task-like JSON document of about size bytes holding refs secret
// references ("${workflow.secrets.tokN}") spread over its header values.
func benchDoc(size, refs int) []byte {
	var b strings.Builder
	b.WriteString(`{"http_request":{"uri":"https://api.example.com/v1/items","method":"POST","headers":{`)
	for i := 0; i < refs; i++ {
		fmt.Fprintf(&b, `"X-Auth-%d":"Bearer ${workflow.secrets.tok%d}",`, i, i)
	}
	b.WriteString(`"Accept":"application/json"},"body":{"items":[`)
	for i := 0; b.Len() < size-40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item-%d","ok":true}`, i, i)
	}
	b.WriteString(`]}}}`)
	return []byte(b.String())
}

func benchSecrets(n int) interpolate.MapSecrets {
	m := interpolate.MapSecrets{}
	for i := 0; i < max(n, 1); i++ {
		m[fmt.Sprintf("tok%d", i)] = json.RawMessage(fmt.Sprintf(`"s3cr3t-value-%d-\"x\""`, i))
	}
	return m
}

func benchPlain(m interpolate.MapSecrets) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		var s string
		_ = json.Unmarshal(v, &s)
		out[k] = s
	}
	return out
}

type benchEnv struct{ secrets interpolate.MapSecrets }

func (benchEnv) Workflow() []byte                    { return []byte(`{"input":{}}`) }
func (benchEnv) Task(string) ([]byte, bool)          { return nil, false }
func (benchEnv) TaskID() string                      { return "" }
func (e benchEnv) Secrets() interpolate.SecretSource { return e.secrets }
func (benchEnv) EnvValues() interpolate.ValueSource  { return nil }

// conductorResolve is Conductor's resolveSecretString in Go: one regexp over the secrets
// pattern, ReplaceAllStringFunc, the value JSON-escaped.
type conductorResolve struct{ re *regexp.Regexp }

func newConductor() *conductorResolve {
	return &conductorResolve{re: regexp.MustCompile(`\$\{workflow\.secrets\.([^}]+)\}`)}
}

func (c *conductorResolve) resolve(doc string, secrets map[string]string) string {
	return c.re.ReplaceAllStringFunc(doc, func(m string) string {
		name := m[len("${workflow.secrets.") : len(m)-1]
		q := strconv.Quote(secrets[name])
		return q[1 : len(q)-1]
	})
}

// argoResolve is Argo's util/template.Replace path: json.Valid, a template parsed on every
// call by a fasttemplate-like scanner, map lookup, strconv.Quote escaping, json.Valid again.
func argoResolve(doc string, vars map[string]string) (string, error) {
	if !json.Valid([]byte(doc)) {
		return doc, fmt.Errorf("invalid json")
	}
	// Parse: split into texts and tags (what fasttemplate.NewTemplate does).
	var texts, tags []string
	s := doc
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			texts = append(texts, s)
			break
		}
		j := strings.Index(s[i+2:], "}")
		if j < 0 {
			texts = append(texts, s)
			break
		}
		texts = append(texts, s[:i])
		tags = append(tags, s[i+2:i+2+j])
		s = s[i+2+j+1:]
	}
	var buf bytes.Buffer
	for i, tag := range tags {
		buf.WriteString(texts[i])
		v, ok := vars[strings.TrimSpace(tag)]
		if !ok {
			return doc, fmt.Errorf("failed to resolve {{%s}}", tag)
		}
		q := strconv.Quote(v)
		buf.WriteString(q[1 : len(q)-1])
	}
	buf.WriteString(texts[len(texts)-1])
	out := buf.String()
	if !json.Valid([]byte(out)) {
		return doc, fmt.Errorf("invalid json after substitution")
	}
	return out, nil
}

func BenchmarkResolve(b *testing.B) {
	shapes := []struct {
		name       string
		size, refs int
		peers      bool
	}{
		{"doc=1KiB/refs=1", 1024, 1, true},
		{"doc=16KiB/refs=10", 16 * 1024, 10, true},
		{"doc=16KiB/refs=0", 16 * 1024, 0, false},
		// Many references: the used list must not de-duplicate quadratically.
		{"doc=64KiB/refs=1000", 64 * 1024, 1000, true},
	}
	ctx := context.Background()
	for _, sh := range shapes {
		doc := benchDoc(sh.size, sh.refs)
		secrets := benchSecrets(sh.refs)
		env := benchEnv{secrets: secrets}
		tpl := interpolate.MustCompile(doc)
		// Cross-check the three implementations once before timing them.
		want, _, err := tpl.Execute(ctx, env, interpolate.ResolveSecrets, nil)
		if err != nil {
			b.Fatal(err)
		}
		plain := benchPlain(secrets)
		argoVars := map[string]string{}
		for k, v := range plain {
			argoVars["workflow.secrets."+k] = v
		}
		cond := newConductor()
		if sh.peers {
			if got := cond.resolve(string(doc), plain); got != string(want) {
				b.Fatalf("conductor-regexp disagrees:\n%s\n%s", got, want)
			}
			if got, err := argoResolve(string(doc), argoVars); err != nil || got != string(want) {
				b.Fatalf("argo-fasttemplate disagrees (%v)", err)
			}
		}
		b.Run("impl=wfrun/"+sh.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			dst := make([]byte, 0, 2*len(doc))
			for b.Loop() {
				out, _, err := tpl.Execute(ctx, env, interpolate.ResolveSecrets, dst[:0])
				if err != nil || len(out) == 0 {
					b.Fatal(err)
				}
			}
		})
		if !sh.peers {
			continue
		}
		sdoc := string(doc)
		b.Run("impl=conductor-regexp/"+sh.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if out := cond.resolve(sdoc, plain); len(out) == 0 {
					b.Fatal("empty")
				}
			}
		})
		b.Run("impl=argo-fasttemplate/"+sh.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := argoResolve(sdoc, argoVars); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScanLimit is the floor for a document without references: one IndexByte pass.
func BenchmarkScanLimit(b *testing.B) {
	doc := benchDoc(16*1024, 0)
	b.Run("doc=16KiB", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if bytes.IndexByte(doc, '$') >= 0 {
				b.Fatal("unexpected '$'")
			}
		}
	})
}
