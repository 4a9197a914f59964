//go:build unix

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeStep is one command of README.md and, for console blocks, the
// output the README shows for it.
type readmeStep struct {
	line    int // 1-based line in README.md
	command string
	shown   bool     // the README shows its output (console block)
	output  []string // the lines shown
}

// skipMarker ends a command the README test deliberately does not run.
const skipMarker = "# (not run by the README test:"

// readmeSteps extracts the commands of the sh and console code blocks.
func readmeSteps(text string) ([]readmeStep, error) {
	var steps []readmeStep
	lang := "" // the open block's info string; "" outside blocks
	inBlock := false
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if strings.HasPrefix(l, "```") {
			if inBlock {
				inBlock, lang = false, ""
			} else {
				inBlock, lang = true, strings.TrimSpace(strings.TrimPrefix(l, "```"))
			}
			continue
		}
		if !inBlock {
			continue
		}
		switch lang {
		case "sh", "bash", "shell":
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				steps = append(steps, readmeStep{line: n, command: t})
			}
		case "console":
			if cmd, ok := strings.CutPrefix(l, "$ "); ok {
				steps = append(steps, readmeStep{line: n, command: strings.TrimSpace(cmd), shown: true})
			} else if len(steps) > 0 && steps[len(steps)-1].shown {
				s := &steps[len(steps)-1]
				s.output = append(s.output, l)
			} else {
				return nil, fmt.Errorf("README.md:%d: output before any $ command in a console block", n)
			}
		}
	}
	return steps, sc.Err()
}

var spaces = regexp.MustCompile(` +`)

// lineMatches compares one shown line with one printed line: "…" stands
// for any text, runs of spaces compare equal.
func lineMatches(shown, printed string) bool {
	shown = spaces.ReplaceAllString(strings.TrimRight(shown, " "), " ")
	printed = spaces.ReplaceAllString(strings.TrimRight(printed, " "), " ")
	parts := strings.Split(shown, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(printed)
}

// outputMatches: every shown line matches the printed lines in order, a
// shown line of just "…" matching any number of printed lines.
func outputMatches(shown, printed []string) bool {
	memo := map[[2]int]bool{}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		key := [2]int{i, j}
		if v, ok := memo[key]; ok {
			return v
		}
		var ok bool
		switch {
		case i == len(shown):
			ok = j == len(printed)
		case strings.TrimSpace(shown[i]) == "…":
			for k := j; k <= len(printed) && !ok; k++ {
				ok = match(i+1, k)
			}
		default:
			ok = j < len(printed) && lineMatches(shown[i], printed[j]) && match(i+1, j+1)
		}
		memo[key] = ok
		return ok
	}
	return match(0, 0)
}

func TestReadmeMatcher(t *testing.T) {
	cases := []struct {
		shown, printed string
		want           bool
	}{
		{"a\nb", "a\nb", true},
		{"a\nb", "a\nb\nc", false},
		{"a\n…", "a\nb\nc", true},
		{"… run … (hello) RUNNING", "12:00:01 run 6f1c (hello) RUNNING", true},
		{"… run … (hello) RUNNING", "12:00:01 run 6f1c (hello) FAILED", false},
		{"NAME  SCOPE", "NAME      SCOPE", true},
		{"x\n…\nz", "x\nz", true},
		{"", "", true},
		{"", "noise", false},
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	for _, c := range cases {
		if got := outputMatches(split(c.shown), split(c.printed)); got != c.want {
			t.Errorf("outputMatches(%q, %q) = %v", c.shown, c.printed, got)
		}
	}
}

// TestReadme follows README.md top to bottom like a new user: it installs
// wfrun with the README's own command, then runs every command in order in
// one shell, in a fresh WFRUN_HOME, and checks each exit status and shown
// output.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("installs wfrun and runs the README tour")
	}
	for _, tool := range []string{"bash", "go", "base64", "sed", "head", "sha256sum|shasum", "curl"} {
		found := false
		for _, alt := range strings.Split(tool, "|") {
			if _, err := exec.LookPath(alt); err == nil {
				found = true
			}
		}
		if !found {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing", tool)
			}
			t.Skipf("%s is missing", tool)
		}
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := readmeSteps(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 15 || steps[0].command != "go install ./cmd/wfrun" {
		t.Fatalf("README.md: %d commands, the first %q; want the set-up first", len(steps), steps[0].command)
	}

	// A work directory that looks like the checkout (so ./cmd/wfrun and
	// testdata/ resolve) but takes the files the tour writes.
	work := t.TempDir()
	entries, err := os.ReadDir(repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == ".git" {
			continue
		}
		if err := os.Symlink(filepath.Join(repo, e.Name()), filepath.Join(work, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	gobin := t.TempDir()
	home := filepath.Join(t.TempDir(), "wfrun-home")

	var script strings.Builder
	script.WriteString("exec 2>&1\n")
	var run []readmeStep
	skipped := 0
	for _, s := range steps {
		if strings.Contains(s.command, skipMarker) {
			skipped++
			continue
		}
		i := len(run)
		run = append(run, s)
		fmt.Fprintf(&script, "printf '@@readme %d start@@\\n'\n%s\nprintf '\\n@@readme %d rc=%%d@@\\n' $?\n", i, s.command, i)
	}
	if skipped > 1 {
		t.Errorf("%d README commands are not run; keep that list to the test command itself", skipped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-c", script.String())
	cmd.Dir = work
	cmd.Env = readmeEnv(gobin, home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	outFile, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outFile, outFile
	runErr := cmd.Run()
	// Background commands (the demo endpoint) end with the tour.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	outFile.Close()
	all, _ := os.ReadFile(outFile.Name())
	if runErr != nil {
		t.Logf("shell: %v", runErr)
	}

	for i, s := range run {
		start := fmt.Sprintf("@@readme %d start@@\n", i)
		a := strings.Index(string(all), start)
		if a < 0 {
			t.Fatalf("README.md:%d: %s: never ran; output so far:\n%s", s.line, s.command, all)
		}
		rest := string(all)[a+len(start):]
		m := regexp.MustCompile(fmt.Sprintf(`\n@@readme %d rc=(\d+)@@\n`, i)).FindStringSubmatchIndex(rest)
		if m == nil {
			t.Fatalf("README.md:%d: %s: did not finish:\n%s", s.line, s.command, rest)
		}
		printed, rc := rest[:m[0]], rest[m[2]:m[3]]
		if rc != "0" {
			t.Errorf("README.md:%d: %s: exit status %s:\n%s", s.line, s.command, rc, printed)
			continue
		}
		if !s.shown {
			continue
		}
		var lines []string
		if printed != "" {
			lines = strings.Split(strings.TrimSuffix(printed, "\n"), "\n")
		}
		if !outputMatches(s.output, lines) {
			t.Errorf("README.md:%d: %s: printed\n%s\nthe README shows\n%s", s.line, s.command, printed, strings.Join(s.output, "\n"))
		}
	}
}

// nonPortable are command forms that work on Linux only (GNU coreutils);
// the README's commands run as printed on macOS too.
var nonPortable = []struct{ re, why string }{
	{`\bsha256sum\b`, "macOS has shasum -a 256"},
	{`\bstat -c\b`, "macOS stat takes -f"},
	{`\bsed -i\b`, "macOS sed -i needs a suffix argument"},
	{`\bdate -d\b`, "macOS date has no -d"},
	{`\breadlink -f\b`, "older macOS readlink has no -f"},
	{`\bbase64 -w\b`, "macOS base64 has no -w"},
	{`\bgrep -P\b`, "macOS grep has no -P"},
	{`\bxargs -r\b`, "macOS xargs has no -r"},
	{`\btimeout \d`, "macOS has no timeout"},
}

func TestReadmeCommandsArePortable(t *testing.T) {
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := readmeSteps(string(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		for _, np := range nonPortable {
			if regexp.MustCompile(np.re).MatchString(s.command) {
				t.Errorf("README.md:%d: %s: Linux only (%s)", s.line, s.command, np.why)
			}
		}
	}
}

// readmeEnv is the tour's environment: the caller's (Go's caches and
// settings), wfrun installed into gobin and first on PATH, a fresh
// WFRUN_HOME and no other WFRUN_* setting.
func readmeEnv(gobin, home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "WFRUN_") || k == "GOBIN" || k == "PATH" || k == "NO_COLOR" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOBIN="+gobin, "PATH="+gobin+string(os.PathListSeparator)+os.Getenv("PATH"), "WFRUN_HOME="+home)
}

// .ci/run runs the README's first `go test` line: it must be the whole
// suite with the race detector.
func TestReadmeTestCommandForCI(t *testing.T) {
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^test_cmd=.*$`).Find(ci)
	if line == nil {
		t.Fatal(".ci/run has no test_cmd= line")
	}
	out, err := exec.Command("bash", "-c", "cd ../.. && "+string(line)+` && printf '%s' "$test_cmd"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "go test -race ./...") {
		t.Fatalf(".ci/run would run %q", out)
	}
}
