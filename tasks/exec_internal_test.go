package tasks

import (
	"os"
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
