package privdir

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile creates rel under root with mode 0600 and writes content to
// it; missing parent directories are created with mode 0700. A file that
// exists already, or a path leaving root, is an error.
func WriteFile(root *os.Root, rel, content string) error {
	if d := filepath.Dir(rel); d != "." {
		if err := root.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	fh, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// Chmod on the open file: the umask must not change the mode, and
	// 0600 must hold before the content is written.
	err = fh.Chmod(0o600)
	if err == nil {
		_, err = io.WriteString(fh, content)
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// Write creates a private temporary directory named from pattern (as
// os.MkdirTemp) holding one file, name, with content; it returns the
// file's path and the function that removes the directory.
func Write(pattern, name string, content []byte) (path string, remove func(), err error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	remove = func() { _ = Remove(dir) }
	root, err := os.OpenRoot(dir)
	if err == nil {
		err = WriteFile(root, name, string(content))
		_ = root.Close()
	}
	if err != nil {
		remove()
		return "", nil, err
	}
	return filepath.Join(dir, name), remove, nil
}

// Remove removes dir even if the command made parts of it read-only.
func Remove(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
