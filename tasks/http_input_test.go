package tasks

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// httpInputCorpus covers the inputs decodeHTTPInput reads in its single
// pass and those it must leave to encoding/json.
var httpInputCorpus = []string{
	`{"uri":"http://x/a?b=1","method":"POST","headers":{"A":"1","B":2,"C":null,"D":{"y":1,"x":[true]}},"body":{"k":[1,2]},"contentType":"application/json"}`,
	` {"uri":"http://x","method":"get","accept":["a/b","c/d"],"connectionTimeOut":"100","readTimeOut":250}`,
	`{"http_request":{"uri":"http://x","method":"GET"},"terminationCondition":"true","pollingInterval":5,"maxPollCount":"3","evaluatorType":"js","pollingStrategy":"FIXED"}`,
	`{"uri":null,"method":"GET","headers":null,"body":null,"auth":{"type":"bearer","secret":"s"}}`,
	`{"uri":"http://x","uri":"http://y","method":"GET"}`,
	`{"URI":"http://x","Method":"GET"}`,                                         // case-insensitive keys
	`{"ur\u0069":"http://x","method":"GET"}`,                                    // escaped key
	`{"uri":"http://x/\u00e9\n","method":"G\u0045T"}`,                           // escaped values
	`{"uri":"http://x","method":"GET","headers":{"a":"1"},"headers":{"b":"2"}}`, // maps merge
	`{"uri":"http://x","method":"GET","headers":[1]}`,
	`{"uri":"http://x","method":"GET","headers":"${x}"}`,
	`{"uri":5,"method":"GET"}`,
	`{"uri":"http://x","method":true}`,
	`{"uri":"http://x","method":"GET","contentType":["a"]}`,
	`{"uri":"http://x","method":"GET","other":{"deep":[1,{"uri":"no"}]}}`,
	`{"http_request":"${workflow.input.req}"}`,
	`[1,2]`, `null`, `"str"`, `5`, `{`, `{"uri":"a"} x`, `{}`, ` `, "{\"uri\":\"a\x01\"}",
	"{\"uri\":\"\xff\xfe\",\"method\":\"GET\"}",
	`{"uri":"\ud800","method":"GET"}`,
}

// referenceHTTPInput is the plain encoding/json decoding the single pass
// must agree with; headers are compared as decoded values.
func referenceHTTPInput(raw []byte) (httpInput, map[string]any, error) {
	var full struct {
		httpInput
		Headers map[string]any `json:"headers"`
	}
	err := json.Unmarshal(raw, &full)
	full.httpInput.Headers = nil
	return full.httpInput, full.Headers, err
}

func checkHTTPInputDecoding(t *testing.T, raw []byte) {
	t.Helper()
	want, wantHeaders, wantErr := referenceHTTPInput(raw)
	var got httpInput
	fast := decodeHTTPInputFast(raw, false, &got)
	if fast && wantErr != nil {
		t.Fatalf("%q: single pass accepted what encoding/json rejects: %v", raw, wantErr)
	}
	got = httpInput{}
	err := decodeHTTPInput(raw, false, &got)
	if (err != nil) != (wantErr != nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("%q: error %v, encoding/json says %v", raw, err, wantErr)
	}
	if err != nil {
		return
	}
	if json.Valid(raw) {
		// Known valid (Request.InputValid): the same decoding without the
		// validation pass.
		var known httpInput
		if err := decodeHTTPInput(raw, true, &known); err != nil || !reflect.DeepEqual(known, got) {
			t.Fatalf("%q: known valid: %+v %v, checked: %+v", raw, known, err, got)
		}
	}
	var gotHeaders map[string]any
	if !rawNull(got.Headers) {
		if err := json.Unmarshal(got.Headers, &gotHeaders); err != nil {
			t.Fatalf("%q: headers %q: %v", raw, got.Headers, err)
		}
	}
	if !reflect.DeepEqual(gotHeaders, wantHeaders) {
		t.Fatalf("%q: headers %v, want %v", raw, gotHeaders, wantHeaders)
	}
	got.Headers = nil
	// RawMessage fields: "null" and absent mean the same to every reader.
	for _, p := range []*json.RawMessage{&got.HTTPRequest, &got.Body, &got.Accept, &got.ConnectionTimeOut, &got.ReadTimeOut,
		&got.Auth, &got.TerminationCondition, &got.PollingInterval, &got.MaxPollCount,
		&want.HTTPRequest, &want.Body, &want.Accept, &want.ConnectionTimeOut, &want.ReadTimeOut,
		&want.Auth, &want.TerminationCondition, &want.PollingInterval, &want.MaxPollCount} {
		if rawNull(*p) {
			*p = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", raw, got, want)
	}
}

func TestHTTPInputDecodingMatchesEncodingJSON(t *testing.T) {
	for _, s := range httpInputCorpus {
		checkHTTPInputDecoding(t, []byte(s))
	}
	// The fast path must actually be taken for the ordinary input.
	var in httpInput
	if !decodeHTTPInputFast([]byte(httpInputCorpus[0]), false, &in) || in.Method != "POST" || string(in.Body) != `{"k":[1,2]}` {
		t.Fatalf("ordinary input not read in one pass: %+v", in)
	}
}

func FuzzHTTPInputDecoding(f *testing.F) {
	for _, s := range httpInputCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkHTTPInputDecoding(t, raw)
	})
}

func TestHTTPHeaderValues(t *testing.T) {
	h := make(map[string][]string)
	setHeaders(h, json.RawMessage(`{"x-a":"1","X-B":2.50,"X-C":null,"X-D":{"b":"<","a":1},"X-E":"t\u00e9","x-\u0066":"k","X-G":true}`))
	want := map[string][]string{"X-A": {"1"}, "X-B": {"2.5"}, "X-D": {`{"a":1,"b":"\u003c"}`}, "X-E": {"té"}, "X-F": {"k"}, "X-G": {"true"}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("headers %v, want %v", h, want)
	}
}

func TestHTTPHeaderTextAsEncodingJSON(t *testing.T) {
	raw := "{\"X-A\":\"a\xffb\",\"X-B\":\"\\ud800x\"}"
	h := make(map[string][]string)
	setHeaders(h, json.RawMessage(raw))
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	if h["X-A"][0] != m["X-A"] || h["X-B"][0] != m["X-B"] {
		t.Fatalf("headers %q, encoding/json %q", h, m)
	}
}

// TestValidJSONDeepNesting: at and past encoding/json's nesting limit,
// validJSON agrees with json.Valid (the long inputs take the json.Valid path).
func TestValidJSONDeepNesting(t *testing.T) {
	for _, n := range []int{maxValidDepth / 2, maxValidDepth, maxValidDepth + 1, 3 * maxValidDepth} {
		for _, doc := range []string{
			strings.Repeat("[", n) + strings.Repeat("]", n),
			strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n),
			strings.Repeat("[", n), // unterminated
		} {
			if got, want := validJSON([]byte(doc)), json.Valid([]byte(doc)); got != want {
				t.Fatalf("depth %d, %d bytes: validJSON %v, json.Valid %v", n, len(doc), got, want)
			}
		}
	}
}

// FuzzValidJSON checks validJSON against json.Valid.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2,{"b":"c\u0041"}]`, ` 1 `, `"x"`, `-0.5e+3`, "\"\xff\"", "\"\x01\"", `tru`,
		`01`, `1.`, `-`, `[1,]`, `{"a" :1 , "b":null}`, "\v1", "\ufeff{}", `{"a":1}x`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%.80q) = %v, json.Valid says %v", b, got, want)
		}
	})
}
