package engine

import (
	"encoding/json"
	"strings"
	"testing"
)

// EventSpec "event task fails to convert the payload to json": the members
// of an EVENT output are JSON by construction (the task's stored input and
// what the engine adds), so only a member that is not JSON can fail, with
// Conductor's reason; the others are kept as written.
func TestEventPayloadNotJSON(t *testing.T) {
	cases := []struct {
		name    string
		members map[string]json.RawMessage
		want    string // the payload, or the error's prefix
	}{
		{"member that is not JSON", map[string]json.RawMessage{"x": json.RawMessage("{not json")}, "Error serializing JSON payload: "},
		{"numbers keep their digits", map[string]json.RawMessage{"big": json.RawMessage("12345678901234567890")}, `{"big":12345678901234567890}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := eventPayload(c.members)
			got := string(b)
			if err != nil {
				got = err.Error()
			}
			if !strings.HasPrefix(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}
