package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// damageMessage is the one line a damaged store file produces.
func damageMessage(prefix, path string) *regexp.Regexp {
	return regexp.MustCompile(`^wfrun: ` + regexp.QuoteMeta(prefix+path) +
		` is damaged \(truncated: \d+ of \d+ bytes\): restore it from a backup, or move it aside to start with an empty file\n$`)
}

// truncateHalf cuts path to half its size, and at most to its two header
// pages and one more: bbolt may have grown the file to twice the pages in
// use, and a cut that leaves every page in use is no damage.
func truncateHalf(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = b[:min(len(b)/2, 3*os.Getpagesize())]
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func assertUnchanged(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed after a failed command", path)
	}
}

// A truncated secrets.db is one clear line and exit 1 for every command that
// needs it, the file is left as it was, and a run that uses no secrets does
// not need it at all.
func TestDamagedSecretsFile(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "", "secret", "set", "api_token", "--value", "s3cr3t-value")
	for i := range 40 { // enough records to span several pages
		mustRun(t, "", "secret", "set", "filler/"+string(rune('a'+i%26))+string(rune('a'+i/26)), "--value", "x")
	}
	path := filepath.Join(home, "secrets.db")
	damaged := truncateHalf(t, path)
	want := damageMessage("open secret store: ", path)
	for _, args := range [][]string{
		{"secret", "get", "api_token"},
		{"secret", "set", "api_token", "--value", "new"},
		{"secret", "ls"},
		{"secret", "rm", "api_token"},
	} {
		out, errOut, code := wfrun(t, "", args...)
		if code != 1 || out != "" || !want.MatchString(errOut) {
			t.Errorf("wfrun %v: exit %d, stdout %q, stderr %q; want exit 1 and %s", args, code, out, errOut, want)
		}
		assertUnchanged(t, path, damaged)
	}
	out, errOut, code := wfrun(t, "", "run", workflows+"hello.json", "--input", `{"name":"world","times":1}`)
	if code != 0 {
		t.Fatalf("a run without secrets needed secrets.db: exit %d: %s %s", code, out, errOut)
	}
	assertUnchanged(t, path, damaged)
}

func TestDamagedRunsFile(t *testing.T) {
	home := cliEnv(t)
	for range 30 {
		mustRun(t, "", "run", workflows+"hello.json", "--input", `{"name":"world","times":1}`)
	}
	path := filepath.Join(home, "runs.db")
	damaged := truncateHalf(t, path)
	want := damageMessage("open run store: ", path)
	for _, args := range [][]string{
		{"runs"},
		{"run", workflows + "hello.json", "--input", `{"name":"world","times":1}`},
	} {
		out, errOut, code := wfrun(t, "", args...)
		if code != 1 || out != "" || !want.MatchString(errOut) {
			t.Errorf("wfrun %v: exit %d, stdout %q, stderr %q; want exit 1 and %s", args, code, out, errOut, want)
		}
		assertUnchanged(t, path, damaged)
	}
}

// Damaged pages (the header intact) make bbolt panic when it reads them:
// the command reports the file instead, exit 1, and changes nothing.
func TestDamagedPagesInRunsAndSecretsFiles(t *testing.T) {
	home := cliEnv(t)
	mustRun(t, "", "secret", "set", "api_token", "--value", "damaged-page-value")
	for range 5 {
		mustRun(t, "", "run", workflows+"hello.json", "--input", `{"name":"world","times":1}`)
	}
	scribble := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 8192; i < len(b); i++ {
			b[i] = 0xff
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return b
	}
	re := func(prefix, path string) *regexp.Regexp {
		return regexp.MustCompile(`^wfrun: ` + regexp.QuoteMeta(prefix+path) +
			` is damaged \([^)]*\): restore it from a backup, or move it aside to start with an empty file\n$`)
	}
	for _, c := range []struct {
		file, prefix string
		args         []string
	}{
		{"runs.db", "open run store: ", []string{"runs"}},
		{"secrets.db", "open secret store: ", []string{"secret", "get", "api_token"}},
	} {
		path := filepath.Join(home, c.file)
		damaged := scribble(path)
		out, errOut, code := wfrun(t, "", c.args...)
		if code != 1 || out != "" || !re(c.prefix, path).MatchString(errOut) {
			t.Errorf("wfrun %v with damaged pages in %s: exit %d, stdout %q, stderr %q", c.args, c.file, code, out, errOut)
		}
		assertUnchanged(t, path, damaged)
	}
}
