package tasks

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFilesRefusesSymlinkEscape plants symbolic links in a work
// directory (EXEC never creates any, but a path check alone would not stop
// them): every write through one that leaves the directory is refused and
// nothing is written outside.
func TestWriteFilesRefusesSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../"+filepath.Base(outside), filepath.Join(dir, "rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "target"), filepath.Join(dir, "file-link")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"abs/x", "rel/x", "file-link", "abs/sub/x"} {
		err := writeFiles(dir, []execFile{{path: p, content: "escaped-content-123", origin: "files"}})
		if err == nil {
			t.Fatalf("%s: write through a symlink was allowed", p)
		}
		if !strings.Contains(err.Error(), `"`+p+`"`) {
			t.Fatalf("error %q does not name %s", err, p)
		}
	}
	entries, err := os.ReadDir(outside)
	if err != nil || len(entries) != 0 {
		t.Fatalf("something was written outside: %v %v", entries, err)
	}
	// A regular nested path works and gets mode 0600.
	if err := writeFiles(dir, []execFile{{path: "ok/nested/f.txt", content: "fine", origin: "files"}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "ok/nested/f.txt"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
}

// With a Masker that cannot mask a stream (an embedder's own; not
// *masking.Masker or *runsecrets.Run), EXEC still masks before it cuts: a
// value across the output limit, or across the 4 KiB piece a long line is
// logged in, leaves no head in the output or the log.
func TestExecCustomMaskerMasksBeforeCut(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	const tok = "Zq8Xw7Vu6Ts5Rr4Qp3On"
	noPiece := func(t *testing.T, what, text string) {
		t.Helper()
		for i := 0; i+5 <= len(tok); i++ {
			if strings.Contains(text, tok[i:i+5]) {
				t.Fatalf("%s holds %q, a piece of the value:\n%.300s", what, tok[i:i+5], text)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		pad     int // bytes before the value
		limit   int
		logLine bool
	}{
		{"across the output limit", 56, 64, false},
		{"across a log piece", maxExecLogLine - 6, DefaultExecOutputLimit, true},
		{"a line too long to hold", maxExecLogLine + execMaskHeadroom - 6, DefaultExecOutputLimit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := newServices(tok)
			var logs []string
			svc.Logf = func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
			// The value in two writes, the first ending past the cut.
			script := fmt.Sprintf(`printf '%%s' "$(head -c %d /dev/zero | tr '\0' x)"; printf '%%s' "$T" | head -c 10; sleep 0.2; printf '%%s' "$T" | tail -c +11; echo; echo after`, tc.pad)
			in := fmt.Sprintf(`{"command":["sh","-c",%q],"env":{"T":%q}}`, script, tok)
			res := NewExec(WithExecOutputLimit(tc.limit)).Execute(context.Background(), &Request{RefName: "r", Input: []byte(in), Services: svc})
			if res.Status != Completed {
				t.Fatalf("%s: %s", res.Status, res.Reason)
			}
			noPiece(t, "output", string(res.Output))
			noPiece(t, "log", strings.Join(logs, "\n"))
			if tc.pad > maxExecLogLine+execMaskHeadroom/2 {
				if !strings.Contains(strings.Join(logs, "\n"), "left out of the log") {
					t.Fatalf("the long line was not left out of the log: %d lines", len(logs))
				}
			} else if tc.logLine && !strings.Contains(strings.Join(logs, "\n"), "***") {
				t.Fatalf("the value's line was not logged masked: %d lines", len(logs))
			}
			if !tc.logLine && !strings.Contains(string(res.Output), `"truncated":true`) {
				t.Fatalf("output not marked truncated: %s", res.Output)
			}
		})
	}
}
