//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The CLI leak hunt at a real terminal: generated workflows (with a WAIT,
// so that the live line is drawn and redrawn) run by the wfrun binary in
// tmux; every screen, with colours and wrapped lines joined, and the
// scrollback at the end are scanned, and so is stdout (a file).
func TestCLILeakHuntTmux(t *testing.T) {
	requireTmux(t)
	begin := time.Now()
	// The test binary is the wfrun binary with WFRUN_TEST_AS_CLI=1
	// (TestMain): no build.
	bin := os.Args[0]
	h := newCHHunt(t, 7)
	rng := rand.New(rand.NewSource(7))
	shq := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	screens, live := 0, 0
	liveRe := regexp.MustCompile(`RUNNING \d+s: .*pause \(WAIT\)`)
	for n := 1; n <= 2; n++ {
		g := &chGen{h: h, rng: rng, url: h.srv.URL}
		var def map[string]any
		_ = json.Unmarshal(g.definition(fmt.Sprintf("lh_tty_%d", n)), &def)
		ts := def["tasks"].([]any)
		wait := map[string]any{"name": "pause", "taskReferenceName": "pause", "type": "WAIT", "retryCount": 0,
			"inputParameters": map[string]any{"duration": "1500ms", "v": g.secretRef()}}
		def["tasks"] = append(ts[:1:1], append([]any{wait}, ts[1:]...)...)
		b, _ := json.Marshal(def)
		wf := filepath.Join(h.dir, fmt.Sprintf("lh_tty_%d.json", n))
		in := filepath.Join(h.dir, fmt.Sprintf("lh_tty_%d.input.json", n))
		out := filepath.Join(h.dir, fmt.Sprintf("lh_tty_%d.out", n))
		if err := os.WriteFile(wf, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(in, []byte(g.input()), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := []string{bin, "run", wf, "--input", "@" + in}
		for _, a := range h.engineArgs() {
			cmd = append(cmd, shq(a))
		}
		env := append(tmuxEnv(h.home), "WFRUN_TEST_AS_CLI=1")
		if n == 2 {
			env = append(env, "NO_COLOR=1")
		}
		h.context = fmt.Sprintf("tmux run %d", n)
		s := startTmux(t, env, strings.Join(cmd, " ")+" > "+out)
		deadline := time.Now().Add(15 * time.Second)
		last := ""
		for {
			scr := s.tmux("capture-pane", "-p", "-J", "-e", "-t", s.name)
			if scr != last {
				h.scan("screen", []byte(scr))
				screens++
				if liveRe.MatchString(s.screen(false)) {
					live++
				}
				last = scr
			}
			if strings.Contains(scr, "EXIT=") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the run did not end within 15 s:\n%s", h.m.Scrub([]byte(scr)))
			}
			time.Sleep(50 * time.Millisecond)
		}
		h.scan("scrollback", []byte(s.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", s.name)))
		h.scan("stdout file", mustReadOrEmpty(out))
		if plain := s.screen(false); !regexp.MustCompile(`run \S+ \(lh_tty_\d\) (COMPLETED|FAILED|TERMINATED)`).MatchString(plain) {
			t.Errorf("no end line on the screen:\n%s", h.m.Scrub([]byte(plain)))
		}
	}
	h.scanStoreSurfaces()
	h.report()
	if live == 0 {
		t.Errorf("no screen showed the live line: the hunt did not see a terminal's progress")
	}
	t.Logf("%d distinct screens scanned (%d with the live line) in %v", screens, live, time.Since(begin).Round(time.Millisecond))
}
