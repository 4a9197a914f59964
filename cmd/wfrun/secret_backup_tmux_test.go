//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// At a terminal, `--passphrase-file -` asks for the passphrase without echo
// (twice on export); another home, with another master key, imports it.
func TestTmuxExportImportPassphrasePrompt(t *testing.T) {
	requireTmux(t)
	bin := buildWfrun(t)
	dir := t.TempDir()
	home, other, file := filepath.Join(dir, "home"), filepath.Join(dir, "other"), filepath.Join(dir, "move.sealed")
	const typed = "typed-Passphrase-4e1b"
	set := exec.Command(bin, "secret", "set", "moved", "--value", "moved-by-prompt-9a7c")
	set.Env = append(os.Environ(), tmuxEnv(home)...)
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v %s", err, out)
	}
	s := startTmux(t, tmuxEnv(home), bin+" secret export "+file+" --passphrase-file - && WFRUN_HOME="+other+" "+bin+" secret import "+file+" --passphrase-file -")
	prompts := []*regexp.Regexp{
		regexp.MustCompile(`Passphrase \(input hidden\)`),
		regexp.MustCompile(`The same passphrase again`),
		regexp.MustCompile(`(?s)exported 1 secret.*Passphrase \(input hidden\)`),
	}
	for _, p := range prompts {
		s.waitFor(p, 30*time.Second)
		s.tmux("send-keys", "-t", s.name, "-l", typed)
		s.tmux("send-keys", "-t", s.name, "Enter")
	}
	scr := s.waitFor(regexp.MustCompile(`EXIT=\d+`), 30*time.Second)
	if !strings.Contains(scr, "EXIT=0") || !strings.Contains(scr, "imported 1 secret(s)") || strings.Contains(scr, "4e1b") {
		t.Fatalf("export and import at the prompt:\n%s", scr)
	}
	get := exec.Command(bin, "secret", "get", "moved", "--reveal")
	get.Env = append(os.Environ(), tmuxEnv(other)...)
	if out, err := get.Output(); err != nil || string(out) != "moved-by-prompt-9a7c\n" {
		t.Fatalf("imported value %q (%v)", out, err)
	}
}
