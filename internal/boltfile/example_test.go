package boltfile_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bbolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/internal/boltfile"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "boltfile")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "data.db")
	// A file cut short (a full disk, a bad copy) is refused before bbolt
	// maps it.
	_ = os.WriteFile(path, []byte("not much"), 0o600)
	_, err := boltfile.Open(path, &bbolt.Options{})
	fmt.Println(errors.Is(err, boltfile.ErrDamaged))
	// Output: true
}
