package outputfilter

import (
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
)

func TestUnescapeOnce(t *testing.T) {
	for in, want := range map[string]string{
		"$${a.output.x}":          "${a.output.x}",
		"$$<a.output.x>":          "$<a.output.x>",
		"${live} and $${escaped}": "${live} and ${escaped}",
		"$$${x}":                  "$${x}", // one level only: still an escape afterwards
		"cost $$5, $$":            "cost $$5, $$",
		"no dollars":              "no dollars",
		"$$":                      "$$",
		"$${":                     "${",
	} {
		if got := UnescapeOnce(in); got != want {
			t.Errorf("UnescapeOnce(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWithholdReason(t *testing.T) {
	raw := []byte(`{"response":{"statusCode":500,"reasonPhrase":"Internal Server Error","body":{"token":"tok-123456789"}}}`)
	for reason, want := range map[string]string{
		`HTTP 500 Internal Server Error: {"token":"tok-123456789"}`: "HTTP 500 Internal Server Error (details withheld: the task's output goes through its outputFilter)",
		"connection refused": "connection refused",
		"":                   "",
	} {
		if got := WithholdReason(reason, raw); got != want {
			t.Errorf("WithholdReason(%q) = %q, want %q", reason, got, want)
		}
	}
	long := []byte(`{"response":{"body":"` + "a-very-long-text-body-that-the-excerpt-cuts-somewhere-in-the-middle" + `"}}`)
	if got := WithholdReason("HTTP 502: a-very-long-text-body-that-the-exc…", long); got != "HTTP 502 (details withheld: the task's output goes through its outputFilter)" {
		t.Errorf("excerpt of a long body: %q", got)
	}
}

func TestPrepare(t *testing.T) {
	p, err := Prepare([]byte(`{"_secrets":{"token":"$${get.output.body.token}"},"list":["a","$${get.output.n}"],"b/c":"x $${get.output.s}","n":1.50,"h":"<&>"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"_secrets":{"token":"${get.output.body.token}"},"b/c":"x ${get.output.s}","h":"<&>","list":["a","${get.output.n}"],"n":1.50}`; string(p.JSON) != want {
		t.Errorf("JSON %s, want %s", p.JSON, want)
	}
	var got []string
	for _, c := range p.Checks {
		got = append(got, Pointer(c))
	}
	if strings.Join(got, " ") != "/_secrets/token /b~1c /list/1" {
		t.Errorf("checks %q", got)
	}
	for _, bad := range []string{`5`, `[1]`, `true`, ``, `{"a":`} {
		if _, err := Prepare([]byte(bad)); err == nil {
			t.Errorf("Prepare(%q): no error", bad)
		}
	}
	if _, err := Prepare([]byte(`"$${get.output}"`)); err != nil {
		t.Errorf("one expression: %v", err)
	}
}

func TestCheck(t *testing.T) {
	checks := [][]string{{"_secrets", "token"}, {"list", "1"}}
	for out, want := range map[string]string{
		`{"_secrets":{"token":"t"},"list":["a","b"]}`:  "",
		`{"_secrets":{"token":null},"list":["a","b"]}`: "/_secrets/token resolved to null: the task's output has no such value",
		`{"_secrets":{"token":"t"},"list":["a",null]}`: "/list/1 resolved to null: the task's output has no such value",
		`["x"]`: "result must be a JSON object, got an array",
		`{`:     "result is not valid JSON",
	} {
		if got := Check([]byte(out), checks); got != want {
			t.Errorf("Check(%s) = %q, want %q", out, got, want)
		}
	}
}

// A computed path's syntax error spells text of the raw output: it is
// withheld; other errors are kept.
func TestErrorText(t *testing.T) {
	err := &interpolate.Error{Err: interpolate.ErrSyntax, Msg: "bad path tok-SECRET-VALUE"}
	if got := ErrorText(err); strings.Contains(got, "tok-SECRET") || !strings.Contains(got, Withheld) {
		t.Errorf("syntax: %q", got)
	}
	if got := ErrorText(errors.New("plain")); got != "plain" {
		t.Errorf("plain: %q", got)
	}
}
