//go:build darwin

package engine

import "syscall"

// sysStamp is the part of a file's state only the system gives: its
// change time (which a write sets, and which no one can set back), inode
// and device (a file replaced by a rename is another file), as on Linux.
type sysStamp struct {
	ctime int64
	ino   uint64
	dev   int32
}

// changed is the file's change time, Unix ns.
func (s sysStamp) changed() int64 { return s.ctime }

// statFile is the state of file path (ok false: it cannot be looked at,
// or it is a directory), read without the allocations of os.Stat.
func statFile(path string) (fileStamp, bool) {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil || st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return fileStamp{}, false
	}
	return fileStamp{size: st.Size, mod: st.Mtimespec.Nano(), sys: sysStamp{ctime: st.Ctimespec.Nano(), ino: st.Ino, dev: st.Dev}}, true
}
