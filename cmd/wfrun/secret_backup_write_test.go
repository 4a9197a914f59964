package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// An export never replaces a file without --force, even one created after
// the command looked (the write itself refuses a taken name), and leaves
// no temporary file behind.
func TestWriteFileAtomicKeepsAnExistingFile(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken.sealed")
	if err := os.WriteFile(taken, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := writeFileAtomic(taken, []byte("new"), false)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("write over a taken name: %v, want a refusal naming --force", err)
	}
	if b, _ := os.ReadFile(taken); string(b) != "old" {
		t.Fatalf("the existing file now holds %q", b)
	}
	if err := writeFileAtomic(taken, []byte("new"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(taken); string(b) != "new" {
		t.Fatalf("replace: the file holds %q", b)
	}
	fresh := filepath.Join(dir, "fresh.sealed")
	if err := writeFileAtomic(fresh, []byte("data"), false); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || (runtime.GOOS != "windows" && st.Mode().Perm() != 0o600) {
		t.Fatalf("fresh file: %v %v, want mode 0600", st, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("the directory holds %d entries, want the two files only", len(entries))
	}
}
