package worker

import "testing"

// A polled string is aligned with the definition's mixed string: its
// `$<…>` parts are kept for the worker, what the server substituted for
// `${…}` is escaped (a `$<…>` it brought stays text), and a string that
// aligns in no way or in more than one is refused.
func TestMixedLiteralKeepsOnlyTheDefinitionsAngleParts(t *testing.T) {
	for _, c := range []struct {
		name, polled, def, want string
		ok                      bool
	}{
		{"mixed", "Bearer $<workflow.secrets.t> for ada", "Bearer $<workflow.secrets.t> for ${workflow.input.who}",
			"Bearer $<workflow.secrets.t> for ada", true},
		{"run data brings a reference", "Bearer $<workflow.secrets.t> for $<workflow.secrets.db>", "Bearer $<workflow.secrets.t> for ${workflow.input.who}",
			"Bearer $<workflow.secrets.t> for $$<workflow.secrets.db>", true},
		{"run data before the reference", "$<workflow.secrets.db>$<workflow.secrets.t>", "${workflow.input.a}$<workflow.secrets.t>",
			"$$<workflow.secrets.db>$<workflow.secrets.t>", true},
		{"run data brings ${ too", "https://h/${x}?k=$<workflow.secrets.k>", "https://${workflow.input.host}?k=$<workflow.secrets.k>",
			"https://h/$${x}?k=$<workflow.secrets.k>", true},
		{"two alignments", "$<workflow.secrets.t>$<workflow.secrets.t>", "${workflow.input.a}$<workflow.secrets.t>${workflow.input.b}", "", false},
		{"reference missing", "Bearer xyz for ada", "Bearer $<workflow.secrets.t> for ${workflow.input.who}", "", false},
		{"literal changed", "Basic $<workflow.secrets.t> for ada", "Bearer $<workflow.secrets.t> for ${workflow.input.who}", "", false},
		{"name from run data", "$<workflow.secrets.db>", "$<workflow.secrets.${workflow.input.n}>", "", false},
		{"escape in the definition", "$<x> ada", "$$<x> ${workflow.input.who}", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := mixedLiteral(c.polled, c.def)
			if ok != c.ok || got != c.want {
				t.Fatalf("mixedLiteral(%q, %q) = %q, %v; want %q, %v", c.polled, c.def, got, ok, c.want, c.ok)
			}
		})
	}
}
