package boltfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/internal/boltfile"
)

// newFile writes a bbolt file with enough data to span many pages and
// returns its path and size.
func newFile(t *testing.T) (string, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := boltfile.Open(path, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = boltfile.Update(db, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		for i := range 2000 {
			if err := b.Put(fmt.Appendf(nil, "key-%05d", i), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, info.Size()
}

func readAll(db *bbolt.DB) error {
	return boltfile.View(db, func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error { return nil })
		})
	})
}

func TestOpenHealthyAndMissing(t *testing.T) {
	path, _ := newFile(t)
	db, err := boltfile.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := readAll(db); err != nil {
		t.Fatal(err)
	}
	db.Close()

	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(t.TempDir(), "new.db"), empty} {
		db, err := boltfile.Open(p, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		db.Close()
	}
}

func TestOpenDamaged(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
		reason string
	}{
		{"truncated to half", func(t *testing.T, p string, size int64) { truncate(t, p, size/2) }, "truncated"},
		{"truncated to one page", func(t *testing.T, p string, size int64) { truncate(t, p, 4096) }, "truncated"},
		{"truncated to 100 bytes", func(t *testing.T, p string, size int64) { truncate(t, p, 100) }, "truncated"},
		{"both headers zeroed", func(t *testing.T, p string, size int64) {
			overwrite(t, p, 0, make([]byte, 8192))
		}, "header"},
		{"not a database", func(t *testing.T, p string, size int64) {
			if err := os.WriteFile(p, bytes.Repeat([]byte("hello world\n"), 2000), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a bbolt database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, size := newFile(t)
			tt.damage(t, path, size)
			db, err := boltfile.Open(path, &bbolt.Options{Timeout: time.Second})
			if err == nil {
				db.Close()
				t.Fatal("opened a damaged file")
			}
			var de *boltfile.DamagedError
			if !errors.As(err, &de) || !errors.Is(err, boltfile.ErrDamaged) {
				t.Fatalf("err = %v, want a DamagedError", err)
			}
			msg := err.Error()
			for _, want := range []string{path, tt.reason, "restore it from a backup"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines: %q", msg)
			}
		})
	}
}

// A damaged data page (the header is intact) makes bbolt panic when it
// reads the page; View reports the file instead.
func TestViewDamagedPage(t *testing.T) {
	path, size := newFile(t)
	// Scribble over every page but the two meta pages.
	junk := bytes.Repeat([]byte{0xff}, int(size)-8192)
	overwrite(t, path, 8192, junk)
	db, err := boltfile.Open(path, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		if !errors.Is(err, boltfile.ErrDamaged) {
			t.Fatalf("open: %v", err)
		}
		return
	}
	defer db.Close()
	err = readAll(db)
	if !errors.Is(err, boltfile.ErrDamaged) || !strings.Contains(err.Error(), path) {
		t.Fatalf("read = %v, want a DamagedError naming %s", err, path)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
