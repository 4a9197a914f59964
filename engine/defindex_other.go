//go:build !linux && !darwin

package engine

import "os"

// sysStamp: elsewhere than on Linux and macOS a file's state is its size and
// modification time (defindex.go), a file modified within racyWindow of
// being read being read again.
type sysStamp struct{}

// changed: no change time here (0: the modification time decides).
func (sysStamp) changed() int64 { return 0 }

// statFile is the state of file path (ok false: it cannot be looked at,
// or it is a directory).
func statFile(path string) (fileStamp, bool) {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() {
		return fileStamp{}, false
	}
	return fileStamp{size: fi.Size(), mod: fi.ModTime().UnixNano()}, true
}
