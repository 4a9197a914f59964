package tasks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// jacksonCase is a line of testdata/jq/jackson-jq-0.0.13.jsonl: a query,
// the task's other inputs, and what jackson-jq 0.0.13 (Conductor's jq)
// reported for it: err, the failure reason Conductor shows, or ok, and
// then (in the cases recorded with it) out, its results.
type jacksonCase struct {
	Q   string                     `json:"q"`
	In  map[string]json.RawMessage `json:"in"`
	Err *string                    `json:"err"`
	OK  bool                       `json:"ok"`
	Out json.RawMessage            `json:"out"`
}

// jacksonDifference is an entry of testdata/jq/differences.json: where
// wfrun differs from jackson-jq, its own outcome (a reason, or "ok"), its
// results when both succeed with other results, and why.
type jacksonDifference struct {
	WFRun string          `json:"wfrun"`
	Out   json.RawMessage `json:"out"`
	Why   string          `json:"why"`
}

// TestJQMatchesJacksonJQ runs every query of the file as a
// JSON_JQ_TRANSFORM task and compares the outcome with jackson-jq's.
// testdata/jq/README.md says how the file was made.
func TestJQMatchesJacksonJQ(t *testing.T) {
	var diffs map[string]jacksonDifference
	b, err := os.ReadFile("testdata/jq/differences.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &diffs); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/jq/jackson-jq-0.0.13.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewDefaultRegistry()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var c jacksonCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		in := map[string]any{} // the recorded texts, numbers' too
		for k, v := range c.In {
			in[k] = v
		}
		in["queryExpression"] = c.Q
		res := run(t, r, TypeJSONJQTransform, in, nil)
		want, wantOK := "", c.OK
		if c.Err != nil {
			want = *c.Err
		}
		wantOut := c.Out
		if d, ok := diffs[c.Q]; ok {
			want, wantOK = d.WFRun, d.WFRun == "ok"
			if d.Why == "" {
				t.Errorf("line %d %q: a difference without a why", line, c.Q)
			}
			if d.Out != nil {
				if c.Out != nil && reflect.DeepEqual(jacksonValue(t, d.Out), jacksonValue(t, c.Out)) {
					t.Errorf("line %d %q: the difference's results are jackson-jq's", line, c.Q)
				}
				wantOut = d.Out
			}
			delete(diffs, c.Q)
		}
		switch {
		case wantOK && res.Status != Completed:
			t.Errorf("line %d %q: %s %q, want COMPLETED", line, c.Q, res.Status, res.Reason)
		case !wantOK && (res.Status != Failed || res.Reason != want):
			t.Errorf("line %d %q:\n got %s %q\nwant FAILED %q", line, c.Q, res.Status, res.Reason, want)
		case wantOK && wantOut != nil:
			if got, want := jacksonResults(t, res.Output), jacksonValue(t, wantOut); !reflect.DeepEqual(got, want) {
				t.Errorf("line %d %q:\n got %v\nwant %v", line, c.Q, got, want)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for q := range diffs {
		t.Errorf("difference %q: no such query", q)
	}
}

// jacksonResults is the resultList of a JSON_JQ_TRANSFORM output, as
// jacksonValue reads it.
func jacksonResults(t *testing.T, output json.RawMessage) any {
	t.Helper()
	var o struct {
		ResultList json.RawMessage `json:"resultList"`
	}
	if err := json.Unmarshal(output, &o); err != nil {
		t.Fatalf("output %s: %v", output, err)
	}
	return jacksonValue(t, o.ResultList)
}

// jacksonValue reads a recorded JSON value: its numbers by their text
// (a double jackson-jq wrote as 2.0 is not wfrun's 2), its objects
// without their key order (which the cases show through keys_unsorted,
// to_entries, tojson...).
func jacksonValue(t *testing.T, text json.RawMessage) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("value %s: %v", text, err)
	}
	return jacksonNumbers(v)
}

// jacksonNum is a recorded number: a double (written with a fraction or
// an exponent, in whichever notation) by its value, an integer by its
// digits.
type jacksonNum struct {
	double bool
	f      float64
	digits string
}

func jacksonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, ok := javaDoubleOf(x); ok {
			return jacksonNum{double: true, f: f}
		}
		return jacksonNum{digits: javaNumberText(x)}
	case []any:
		for i, e := range x {
			x[i] = jacksonNumbers(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = jacksonNumbers(e)
		}
	}
	return v
}
