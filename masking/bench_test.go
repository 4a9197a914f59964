package masking

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// Peer hot paths, re-implemented for the benchmark only (see
// reference/peers.md §9): act masks with one strings.ReplaceAll per raw
// value (no encoded forms, pkg/runner/logger.go valueMasker); the strings.Replacer
// baseline builds one replacer of the raw values, as act's maintained fork
// does; the actions/runner SecretMasker finds every position of every value
// and of its encoded forms (it registers base64, JSON, URL and other
// encoders), merges the ranges and replaces them.

func actReplaceAll(line string, values []string) string {
	for _, v := range values {
		line = strings.ReplaceAll(line, v, Redacted)
	}
	return line
}

func newReplacer(values []string) *strings.Replacer {
	pairs := make([]string, 0, 2*len(values))
	for _, v := range values {
		pairs = append(pairs, v, Redacted)
	}
	return strings.NewReplacer(pairs...)
}

func runnerPositions(line string, values []string) string {
	var sp []span
	for _, v := range values {
		for i := 0; ; {
			j := strings.Index(line[i:], v)
			if j < 0 {
				break
			}
			sp = append(sp, span{i + j, i + j + len(v)})
			i += j + 1
		}
	}
	if len(sp) == 0 {
		return line
	}
	sort.Slice(sp, func(a, b int) bool { return sp[a].start < sp[b].start })
	merged := sp[:1]
	for _, s := range sp[1:] {
		top := &merged[len(merged)-1]
		if s.start <= top.end {
			top.end = max(top.end, s.end)
		} else {
			merged = append(merged, s)
		}
	}
	return string(redact([]byte(line), merged))
}

// benchSecrets returns n API-key-like values (fixed seed).
func benchSecrets(n int) []string {
	r := rand.New(rand.NewSource(42))
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 20+r.Intn(20))
		for j := range b {
			b[j] = chars[r.Intn(len(chars))]
		}
		out[i] = string(b)
	}
	return out
}

// benchLine is a 1 KiB log line with three hits: a value as is, inside an
// HTTP Basic header and URL-escaped in a query.
func benchLine(secrets []string) string {
	r := rand.New(rand.NewSource(7))
	words := strings.Fields("the request to service returned status ok retry after timeout " +
		"user session token header payload json field value debug info warn error")
	var sb strings.Builder
	s := secrets[len(secrets)/2]
	hits := []string{
		"token=" + s,
		"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("deploy:"+s)),
		"url=https://api.example.com/v1?key=" + url.QueryEscape(s),
	}
	for sb.Len() < 1024 {
		if sb.Len() > 200*(4-len(hits)) && len(hits) > 0 {
			sb.WriteString(hits[0] + " ")
			hits = hits[1:]
			continue
		}
		sb.WriteString(words[r.Intn(len(words))])
		sb.WriteByte(' ')
	}
	return sb.String()[:1024]
}

func BenchmarkMask(b *testing.B) {
	counts := []int{10, 1000, 10000}
	type fixture struct {
		line     string
		raw      []string // the values as registered
		variants []string // every pattern wfrun derives from them
		replacer *strings.Replacer
		m        *Masker
		inc      *Masker // the same values registered one at a time, some still pending
	}
	fx := map[int]*fixture{}
	get := func(n int) *fixture {
		if f, ok := fx[n]; ok {
			return f
		}
		secrets := benchSecrets(n)
		m := New()
		m.RegisterAll(secrets...)
		inc := New()
		for _, s := range secrets {
			inc.Register(s)
		}
		// Worst case: measure with the patterns still pending, before the
		// background rebuild that enough masking would start.
		if inc.pend != nil {
			inc.pend.compactAfter = math.MaxInt64
		}
		f := &fixture{line: benchLine(secrets), raw: secrets, m: m, inc: inc, replacer: newReplacer(secrets)}
		f.variants = append(f.variants, m.patterns...)
		fx[n] = f
		return f
	}
	// hits is how many of the line's three occurrences (raw, base64 in a
	// Basic header, URL-escaped) an implementation masks; -1: those spelled
	// as the raw value only (act and the replacer know nothing else; the
	// URL-escaped form of an unreserved-only value is the raw value).
	impls := []struct {
		name string
		hits int
		run  func(f *fixture) string
	}{
		{"wfrun", 3, func(f *fixture) string { return f.m.MaskString(f.line) }},
		{"wfrun-pending", 3, func(f *fixture) string { return f.inc.MaskString(f.line) }},
		{"act-replaceall", -1, func(f *fixture) string { return actReplaceAll(f.line, f.raw) }},
		{"strings-replacer", -1, func(f *fixture) string { return f.replacer.Replace(f.line) }},
		{"runner-positions", 3, func(f *fixture) string { return runnerPositions(f.line, f.variants) }},
	}
	for _, impl := range impls {
		for _, n := range counts {
			b.Run(fmt.Sprintf("impl=%s/secrets=%d/line=1KiB", impl.name, n), func(b *testing.B) {
				f := get(n)
				got := impl.run(f)
				hits := impl.hits
				if hits < 0 {
					hits = strings.Count(f.line, f.raw[len(f.raw)/2])
				}
				if c := strings.Count(got, Redacted); c != hits {
					b.Fatalf("%s masks %d occurrences, want %d:\n%s", impl.name, c, hits, got)
				}
				if impl.hits == 3 && got != f.m.MaskString(f.line) {
					b.Fatalf("%s disagrees with wfrun:\n%s\n%s", impl.name, got, f.m.MaskString(f.line))
				}
				b.SetBytes(int64(len(f.line)))
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuNanos()
				for b.Loop() {
					_ = impl.run(f)
				}
				reportCPU(b, cpu)
				if impl.name == "wfrun-pending" {
					b.ReportMetric(float64(f.inc.pending()), "pending-patterns")
				}
			})
		}
	}
}

// reportCPU reports the process CPU time per operation since start (see
// cpuNanos), when the platform gives it.
func reportCPU(b *testing.B, start int64) {
	if c := cpuNanos() - start; start > 0 && c > 0 && b.N > 0 {
		b.ReportMetric(float64(c)/float64(b.N), "cpu-ns/op")
	}
}

// benchRunDoc builds a run document of at least size bytes with _secrets,
// _masked and plain data in every task.
func benchRunDoc(size int) []byte {
	var tasks []any
	doc := map[string]any{
		"workflowId": "wf-bench", "workflowType": "bench", "version": 1, "status": "COMPLETED",
		"input":     map[string]any{"apiKey": "k-1", "user": "u", "_secrets": map[string]any{"seed": "s"}},
		"output":    map[string]any{"result": "done"},
		"variables": map[string]any{"count": 1},
	}
	for n := 0; ; n++ {
		tasks = append(tasks, map[string]any{
			"taskId": fmt.Sprintf("task-%06d", n), "referenceTaskName": fmt.Sprintf("call_%d", n),
			"taskType": "HTTP", "status": "COMPLETED",
			"inputData": map[string]any{
				"http_request": map[string]any{"uri": "https://api.example.com/v1/items?page=" + fmt.Sprint(n),
					"method": "POST", "headers": map[string]any{"Content-Type": "application/json"}},
				"_secrets": map[string]any{"token": "Bearer tok-" + fmt.Sprint(n)},
			},
			"outputData": map[string]any{
				"response": map[string]any{"statusCode": 200, "body": map[string]any{
					"items": []any{"alpha", "beta", "gamma", 1.5, true, nil}, "note": "the quick brown fox"}},
				"_masked":  map[string]any{"email": "someone@example.com"},
				"_secrets": map[string]any{"refresh": "r-" + fmt.Sprint(n)},
			},
		})
		if n%100 == 0 {
			doc["tasks"] = tasks
			if b, _ := json.Marshal(doc); len(b) >= size {
				return b
			}
		}
	}
}

func BenchmarkArchive(b *testing.B) {
	doc := benchRunDoc(1 << 20)
	fields := []string{"apiKey"}
	b.Run("impl=wfrun/doc=1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Archive(doc, fields); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The obvious alternative: decode, rewrite the tree, encode again
	// (loses key order and number spelling, shown for scale).
	b.Run("impl=encoding-json/doc=1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(doc, &v); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(reference(v, nil, fields, false)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=wfrun-need/doc=1MiB", func(b *testing.B) {
		arch, _ := Archive(doc, fields)
		b.SetBytes(int64(len(arch)))
		b.ReportAllocs()
		for b.Loop() {
			_ = ArchivedSecretsNeeded(arch)
		}
	})
}

func BenchmarkMaskJSON(b *testing.B) {
	doc := benchRunDoc(64 << 10)
	m := New()
	m.RegisterAll(benchSecrets(1000)...)
	m.Register("tok-17")
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	cpu := cpuNanos()
	for b.Loop() {
		if _, err := m.MaskJSON(doc); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkRegister: registering n values one at a time (oneByOne) against
// one RegisterAll of the same values (all): incremental registration must
// stay within a small factor of the batch, not grow with n². into=n is one
// more value registered into a masker that already holds n (a rotated
// secret mid-run).
//
// Reading the figures: the time per value grows faster than log n from
// n=1000 to n=10000 for all= (one build) as much as for oneByOne, and that
// is the memory, not the algorithm. The automaton's states grow linearly
// (about 140 per value) and the build does a constant amount of work per
// state at every size (measured from 250 to 20 000 values: about 1.65
// failure-link steps and 0.7 label comparisons per state), but its working
// set (about 70 bytes a state: 10 MB at 1 000 values, about 100 MB at
// 10 000) leaves the caches, and each of its random reads (breadth-first
// renumbering, failure links) then costs a trip to memory. The number of
// builds and the patterns they take are checked exactly by
// TestRegisterOneByOneBuildsGeometrically.
func BenchmarkRegister(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		secrets := benchSecrets(n)
		b.Run(fmt.Sprintf("oneByOne/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuNanos()
			for b.Loop() {
				m := New()
				for _, s := range secrets {
					m.Register(s)
				}
			}
			reportCPU(b, cpu)
		})
		b.Run(fmt.Sprintf("all/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuNanos()
			for b.Loop() {
				New().RegisterAll(secrets...)
			}
			reportCPU(b, cpu)
		})
	}
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("into=%d", n), func(b *testing.B) {
			secrets := benchSecrets(n)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				m := New()
				m.RegisterAll(secrets...)
				b.StartTimer()
				m.Register(fmt.Sprintf("rotated-value-%08d", i))
			}
		})
	}
}
