//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The terminal tests run the real wfrun binary inside tmux, which gives it
// a real terminal, and read the screen with capture-pane: what a user sees.

// tmuxSession is one detached tmux session on a private server.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed (.ci/run installs it)")
		}
		t.Skip("tmux is not installed")
	}
}

// buildWfrun builds the CLI once per test into a temporary directory.
func buildWfrun(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wfrun")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startTmux runs shellCmd in a new 160x40 session with env set; the pane
// stays on screen for a while after the command ends.
func startTmux(t *testing.T, env []string, shellCmd string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("wfrun-test-%d-%d", os.Getpid(), time.Now().UnixNano()), name: "t"}
	args := []string{"-L", s.socket, "-f", "/dev/null", "new-session", "-d", "-s", s.name, "-x", "160", "-y", "40"}
	for _, kv := range env {
		args = append(args, "-e", kv)
	}
	args = append(args, shellCmd+"; echo EXIT=$?; sleep 60")
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen is the visible pane; escapes keeps colour codes.
func (s *tmuxSession) screen(escapes bool) string {
	args := []string{"capture-pane", "-p", "-t", s.name}
	if escapes {
		args = append(args, "-e")
	}
	return s.tmux(args...)
}

// waitFor polls the screen until re matches it.
func (s *tmuxSession) waitFor(re *regexp.Regexp, within time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		scr := s.screen(false)
		if re.MatchString(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never matched %s:\n%s", re, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tmuxEnv(home string) []string {
	return []string{"WFRUN_HOME=" + home, "TERM=xterm-256color", "NO_COLOR=", "WFRUN_STORE=", "WFRUN_OUTPUT="}
}

// At a terminal, `secret set NAME` prompts on the screen and reads the
// value without echo; the value typed is stored exactly.
func TestTmuxSecretPromptHidesInput(t *testing.T) {
	requireTmux(t)
	bin := buildWfrun(t)
	home := filepath.Join(t.TempDir(), "home")
	const typed = "typed-Value-7f3a9c2e"
	s := startTmux(t, tmuxEnv(home), bin+" secret set typed_secret")
	s.waitFor(regexp.MustCompile(`Value for secret "typed_secret" \(input hidden`), 20*time.Second)
	s.tmux("send-keys", "-t", s.name, "-l", typed)
	time.Sleep(300 * time.Millisecond)
	if scr := s.screen(false); strings.Contains(scr, typed) || strings.Contains(scr, "7f3a9c") {
		t.Fatalf("the typed value is on the screen:\n%s", scr)
	}
	s.tmux("send-keys", "-t", s.name, "Enter")
	scr := s.waitFor(regexp.MustCompile(`EXIT=\d+`), 20*time.Second)
	if !strings.Contains(scr, "EXIT=0") || !strings.Contains(scr, `stored secret "typed_secret" version 1`) {
		t.Fatalf("secret set at the prompt failed:\n%s", scr)
	}
	if strings.Contains(scr, typed) || strings.Contains(scr, "7f3a9c") {
		t.Fatalf("the typed value is on the screen:\n%s", scr)
	}
	cmd := exec.Command(bin, "secret", "get", "typed_secret", "--reveal")
	cmd.Env = append(os.Environ(), "WFRUN_HOME="+home, "WFRUN_STORE=", "WFRUN_OUTPUT=")
	out, err := cmd.Output()
	if err != nil || string(out) != typed+"\n" {
		t.Fatalf("stored value %q (%v), want %q", out, err, typed)
	}
}

const liveWorkflow = `{"name":"live_demo","tasks":[
 {"name":"greet","taskReferenceName":"greet","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'hi'"}},
 {"name":"pause","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"4s"}},
 {"name":"after","taskReferenceName":"after","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'done'"}}],
 "outputParameters":{"said":"${after.output.result}"}}`

// At a terminal, progress is one live line per run, redrawn in place (its
// clock moves while a task waits), in colour unless NO_COLOR is set; the
// end of the run replaces it. stdout (here a file) gets the output.
func TestTmuxLiveProgress(t *testing.T) {
	requireTmux(t)
	bin := buildWfrun(t)
	for _, noColor := range []bool{false, true} {
		t.Run(fmt.Sprintf("NO_COLOR=%v", noColor), func(t *testing.T) {
			dir := t.TempDir()
			wf := writeFile(t, dir, "live.json", liveWorkflow)
			out := filepath.Join(dir, "out.json")
			env := tmuxEnv(filepath.Join(dir, "home"))
			if noColor {
				env = append(env, "NO_COLOR=1")
			}
			s := startTmux(t, env, fmt.Sprintf("%s run %s > %s", bin, wf, out))
			live := regexp.MustCompile(`run \S+ \(live_demo\) RUNNING (\d+)s: 1 done · pause \(WAIT\)`)
			first := s.waitFor(live, 20*time.Second)
			sec1 := live.FindStringSubmatch(first)[1]
			if noColor {
				if esc := s.screen(true); strings.Contains(esc, "\x1b[3") {
					t.Errorf("colours with NO_COLOR set:\n%q", esc)
				}
			} else if esc := s.screen(true); !strings.Contains(esc, "\x1b[") {
				t.Errorf("no colours at a terminal:\n%q", esc)
			}
			// The clock moves and the line is redrawn, not repeated.
			time.Sleep(2200 * time.Millisecond)
			second := s.screen(false)
			m := live.FindAllStringSubmatch(second, -1)
			if len(m) != 1 {
				t.Fatalf("%d live lines for one run (want 1, redrawn in place):\n%s", len(m), second)
			}
			if m[0][1] == sec1 {
				t.Errorf("the live line's clock did not move (%ss then %ss):\n%s", sec1, m[0][1], second)
			}
			end := s.waitFor(regexp.MustCompile(`EXIT=\d+`), 30*time.Second)
			if !strings.Contains(end, "EXIT=0") || !regexp.MustCompile(`run \S+ \(live_demo\) COMPLETED \(3 tasks, `).MatchString(end) {
				t.Fatalf("end of run:\n%s", end)
			}
			if strings.Contains(end, "RUNNING") || strings.Contains(end, "SCHEDULED") {
				t.Errorf("the live line or per-transition lines stayed on screen:\n%s", end)
			}
			if n := strings.Count(strings.TrimSpace(end), "\n") + 1; n > 4 {
				t.Errorf("%d lines on screen for a 3-task run:\n%s", n, end)
			}
			b, err := os.ReadFile(out)
			var got map[string]any
			if err != nil || json.Unmarshal(b, &got) != nil || got["said"] != "done" {
				t.Fatalf("stdout: %q %v", b, err)
			}
		})
	}
}
