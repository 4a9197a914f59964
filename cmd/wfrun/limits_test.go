package main

import (
	"strings"
	"testing"
)

// The engine's limits from flags and WFRUN_* variables: a SET_VARIABLE
// over --max-variables-kb fails the run with Conductor's message, a
// DO_WHILE over --max-loop-iterations fails it; the flag wins over the
// variable; a bad value is usage (exit 2).
func TestRunLimits(t *testing.T) {
	dir := t.TempDir()
	vars := writeFile(t, dir, "vars.json", `{"name":"big_vars","tasks":[
	  {"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"blob":"${workflow.input.blob}"}}]}`)
	loop := writeFile(t, dir, "loop.json", `{"name":"five_times","tasks":[
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 5",
	   "inputParameters":{"loop":"${loop.output}"},
	   "loopOver":[{"name":"tick","taskReferenceName":"tick","type":"INLINE",
	     "inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}]}`)
	blob := `{"blob":"` + strings.Repeat("x", 3000) + `"}`
	for _, tc := range []struct {
		name, envKB, envLoop string
		args                 []string
		file, input          string
		wantCode             int
		wantErr              string
	}{
		{name: "variables within the default", file: vars, input: blob, wantCode: 0},
		{name: "variables over --max-variables-kb", file: vars, input: blob, args: []string{"--max-variables-kb", "2"}, wantCode: 1, wantErr: "payload"},
		{name: "variables over WFRUN_MAX_VARIABLES_KB", file: vars, input: blob, envKB: "2", wantCode: 1, wantErr: "payload"},
		{name: "the flag wins", file: vars, input: blob, envKB: "2", args: []string{"--max-variables-kb", "8"}, wantCode: 0},
		{name: "loop within the default", file: loop, input: `{}`, wantCode: 0},
		{name: "loop over --max-loop-iterations", file: loop, input: `{}`, args: []string{"--max-loop-iterations", "3"}, wantCode: 1, wantErr: "iteration"},
		{name: "loop over WFRUN_MAX_LOOP_ITERATIONS", file: loop, input: `{}`, envLoop: "3", wantCode: 1, wantErr: "iteration"},
		{name: "bad flag", file: loop, input: `{}`, args: []string{"--max-loop-iterations", "-1"}, wantCode: 2, wantErr: `--max-loop-iterations "-1": want a positive whole number`},
		{name: "bad variable", file: vars, input: `{}`, envKB: "lots", wantCode: 2, wantErr: `WFRUN_MAX_VARIABLES_KB "lots": want a positive whole number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cliEnv(t)
			t.Setenv("WFRUN_MAX_VARIABLES_KB", tc.envKB)
			t.Setenv("WFRUN_MAX_LOOP_ITERATIONS", tc.envLoop)
			args := append([]string{"run", tc.file, "-q", "--input", tc.input}, tc.args...)
			_, errOut, code := wfrun(t, "", args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tc.wantCode, tc.wantErr)
			}
		})
	}
}
