package tasks

import (
	"runtime"
	"strings"
	"testing"
)

// first(f) and limit(n; f) compute all of f, as jackson-jq does (a later
// failure of f fails them), but keep only the values they take: a long f
// costs time, not memory. Here f makes 3 000 strings of 20 KB each: kept
// whole, 60 MB.
func TestJQFirstAndLimitKeepOnlyWhatTheyTake(t *testing.T) {
	r := NewDefaultRegistry()
	s := strings.Repeat("x", 20000)
	for _, tc := range []struct{ query, result string }{
		{`first(range(0; 3000) as $i | .s + "\($i)") | length`, "20001"},
		{`[limit(3; range(0; 3000) as $i | .s + "\($i)")] | map(length)`, "[20001,20001,20001]"},
		{`[limit(0; range(0; 3000) as $i | .s + "\($i)")]`, "[]"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res := run(t, r, TypeJSONJQTransform, map[string]any{"queryExpression": tc.query, "s": s}, nil)
			runtime.ReadMemStats(&after)
			wantStatus(t, res, Completed)
			if got := jsonText(t, output(t, res)["result"]); got != tc.result {
				t.Fatalf("result %s, want %s", got, tc.result)
			}
			if after.HeapInuse > before.HeapInuse+24<<20 {
				t.Fatalf("the heap grew from %d to %d bytes", before.HeapInuse, after.HeapInuse)
			}
		})
	}
}
