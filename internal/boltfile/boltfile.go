package boltfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"

	bbolt "go.etcd.io/bbolt"
)

// ErrDamaged is matched (errors.Is) by every error that reports a damaged
// or truncated file.
var ErrDamaged = errors.New("file is damaged")

// DamagedError reports a file bbolt cannot safely use.
type DamagedError struct {
	Path   string // the file
	Reason string // what is wrong, e.g. "truncated: 4096 of 32768 bytes"
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s is damaged (%s): restore it from a backup, or move it aside to start with an empty file", e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrDamaged) hold.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// bbolt's on-disk constants (go.etcd.io/bbolt/internal/common), which are
// part of its file format.
const (
	magic          = 0xED0CDAED
	formatVersion  = 2
	pageHeaderSize = 16
	metaSize       = 64 // magic … txid, then the checksum
	noFreelist     = ^uint64(0)
	minPageSize    = 512
	maxPageSize    = 1 << 24
)

type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// readMeta decodes the meta page starting at off; ok is false when the
// bytes are not a valid meta page (wrong magic, version or checksum).
func readMeta(f io.ReaderAt, off int64) (meta, bool) {
	var buf [pageHeaderSize + metaSize]byte
	if n, _ := f.ReadAt(buf[:], off); n < len(buf) {
		return meta{}, false
	}
	b := buf[pageHeaderSize:]
	le := binary.NativeEndian
	if le.Uint32(b[0:]) != magic || le.Uint32(b[4:]) != formatVersion {
		return meta{}, false
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return meta{}, false
	}
	m := meta{
		pageSize: le.Uint32(b[8:]),
		root:     le.Uint64(b[16:]),
		freelist: le.Uint64(b[32:]),
		pgid:     le.Uint64(b[40:]),
		txid:     le.Uint64(b[48:]),
	}
	if m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0 {
		return meta{}, false
	}
	return m, true
}

// Check reports whether the file at path can be handed to bbolt: a missing
// or empty file can (bbolt initialises it); otherwise at least one meta page
// must be valid and the file must hold every page the newest valid meta
// page counts. It reads only the two meta pages.
func Check(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	if size == 0 {
		return nil
	}
	if !info.Mode().IsRegular() {
		return &DamagedError{Path: path, Reason: "not a regular file"}
	}
	m0, ok0 := readMeta(f, 0)
	var m1 meta
	var ok1 bool
	if ok0 {
		m1, ok1 = readMeta(f, int64(m0.pageSize))
	} else {
		for ps := int64(minPageSize); ps <= maxPageSize && ps < size; ps <<= 1 {
			if m1, ok1 = readMeta(f, ps); ok1 && int64(m1.pageSize) == ps {
				break
			}
			ok1 = false
		}
	}
	var candidates []meta
	switch {
	case ok0 && ok1 && m1.txid > m0.txid:
		candidates = []meta{m1, m0}
	case ok0 && ok1:
		candidates = []meta{m0, m1}
	case ok0:
		candidates = []meta{m0}
	case ok1:
		candidates = []meta{m1}
	default:
		if size < 2*minPageSize {
			return &DamagedError{Path: path, Reason: fmt.Sprintf("truncated: %d bytes, no valid header", size)}
		}
		return &DamagedError{Path: path, Reason: "not a bbolt database, or both header pages are corrupt"}
	}
	// bbolt uses the newest valid meta page, and falls back to the other
	// one; the file is usable when the page bbolt will pick fits.
	m := candidates[0]
	need := int64(m.pgid) * int64(m.pageSize)
	if m.pgid < 2 || m.root >= m.pgid || (m.freelist != noFreelist && m.freelist >= m.pgid) {
		return &DamagedError{Path: path, Reason: "header points outside the file"}
	}
	if size < need {
		return &DamagedError{Path: path, Reason: fmt.Sprintf("truncated: %d of %d bytes", size, need)}
	}
	return nil
}

// Open checks the file (see Check) and opens it with bbolt (mode 0600).
// A damaged file is a *DamagedError; a panic or memory fault inside bbolt
// while opening is turned into one too.
func Open(path string, opts *bbolt.Options) (db *bbolt.DB, err error) {
	if err := Check(path); err != nil {
		return nil, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(path, &err)
	return bbolt.Open(path, 0o600, opts)
}

// View runs fn in a read transaction of db, turning a panic or memory fault
// caused by a damaged page into a *DamagedError naming the file.
func View(db *bbolt.DB, fn func(*bbolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(db.Path(), &err)
	return db.View(fn)
}

// Update runs fn in a write transaction of db like View. bbolt rolls the
// transaction back when fn panics, so nothing half-written is committed.
func Update(db *bbolt.DB, fn func(*bbolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(db.Path(), &err)
	return db.Update(fn)
}

// guard must be deferred directly, after debug.SetPanicOnFault(true) (so a
// memory fault on a mapped page is a panic, not a crash). The panic's text
// is not kept: it may quote bytes of the page.
func guard(path string, err *error) {
	if r := recover(); r != nil {
		*err = &DamagedError{Path: path, Reason: "a page is unreadable"}
	}
}
