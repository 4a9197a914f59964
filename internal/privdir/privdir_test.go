package privdir

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteIsPrivateAndRemoved(t *testing.T) {
	path, remove, err := Write("privdir-test-", "m.json", []byte(`{"k":"v"}`))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	b, err := os.ReadFile(path)
	if err != nil || string(b) != `{"k":"v"}` {
		t.Fatalf("read %q %v", b, err)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v (%v)", p, st.Mode().Perm(), want, err)
			}
		}
	}
	remove()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory left: %v", err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := WriteFile(root, "taken", "x"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, rel string
		ok        bool
	}{
		{"nested file", "a/b/c.txt", true},
		{"existing file", "taken", false},
		{"path leaving the directory", "../escape.txt", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := WriteFile(root, c.rel, "secret-content")
			if (err == nil) != c.ok {
				t.Fatalf("WriteFile(%q): %v", c.rel, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.txt")); err == nil {
		t.Fatal("a file was written outside the directory")
	}
}

func TestRemoveReadOnlyParts(t *testing.T) {
	dir, err := os.MkdirTemp("", "privdir-test-")
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "ro")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sub, 0o500); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory left: %v", err)
	}
}
