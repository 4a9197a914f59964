package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// A definitions directory is read through an index of the name and
// version each of its *.json files holds, kept by the file's state (size,
// modification time and, where the system gives them, change time, inode
// and device). Each lookup lists the directory and looks at every file's
// state, which costs no read; it reads only the files that changed since
// the last lookup, and parses only the files holding the name it looks
// for. A file written, replaced or removed between two lookups is seen by
// the second, as when every lookup read every file.
//
// A file whose modification time, or change time where the system gives
// it, is less than racyWindow before the moment the index read it may be
// written again without its state changing (timestamps are coarse, a
// second on some file systems; a copy that keeps the modification time,
// as cp -p, rsync -t or an unpacked archive do, sets it back but not the
// change time): its head is read again by every lookup until its state
// is older than that.

// racyWindow: a file modified this recently when its head was read is
// read again by the next lookup.
const racyWindow = 2 * time.Second

// defsIndex is the index of one definitions directory.
type defsIndex struct {
	mu    sync.Mutex
	files map[string]*defsFile // by file name
	// byName: the files holding each name, in file name order (as
	// filepath.Glob lists them), remade when a file's head changes. Its
	// slices and files are not changed once made.
	byName map[string][]*defsFile
	gen    uint64 // the scans made
	// reads counts the files read for their head (tests).
	reads int
	// bodies counts the files read whole through readNamed (tests).
	bodies int
	// clock, when set, is the index's time (tests: files written by the
	// test a moment ago are older than racyWindow); else time.Now.
	clock func() time.Time
}

// defsFile is what the index knows of one file, as it was read: a file
// that changes gets a new defsFile.
type defsFile struct {
	path  string
	stamp fileStamp
	// racy: the head was read within racyWindow of the file's
	// modification (or could not be read): read it again next time.
	racy bool
	// ok: the file holds a JSON object; name and version are its members.
	ok      bool
	name    string
	version int
	seen    uint64 // the last scan that saw the file (written under mu)
}

// fileStamp is the state of a file that any write changes.
type fileStamp struct {
	size int64
	mod  int64 // modification time, Unix ns
	sys  sysStamp
}

// defsIndexOf is the index of directory dir.
func (e *Engine) defsIndexOf(dir string) *defsIndex {
	if x, ok := e.defsIdx.Load(dir); ok {
		return x.(*defsIndex)
	}
	x, _ := e.defsIdx.LoadOrStore(dir, &defsIndex{})
	return x.(*defsIndex)
}

// scan looks at the files of dir, reads the heads of those that changed,
// and returns the files holding each name. A directory that cannot be
// listed has none (as filepath.Glob, which ignores I/O errors); a file
// that cannot be read or holds no JSON object holds no name.
func (x *defsIndex) scan(dir string) map[string][]*defsFile {
	var names []string
	if d, err := os.Open(dir); err == nil {
		names, _ = d.Readdirnames(-1) // the names read before an error
		d.Close()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	now := time.Now()
	if x.clock != nil {
		now = x.clock()
	}
	if x.files == nil {
		x.files = map[string]*defsFile{}
	}
	x.gen++
	changed := false
	for _, base := range names {
		if ok, _ := filepath.Match("*.json", base); !ok {
			continue
		}
		f := x.files[base]
		path := filepath.Join(dir, base)
		if f != nil {
			path = f.path
		}
		st, ok := statFile(path) // a symbolic link is read through, as os.ReadFile does
		if !ok {
			continue // gone, or a directory
		}
		if f == nil || f.racy || f.stamp != st {
			g := x.readHead(path, st, now.UnixNano())
			changed = changed || f == nil || g.ok != f.ok || g.name != f.name || g.version != f.version
			f = g
			x.files[base] = f
		}
		f.seen = x.gen
	}
	for base, f := range x.files {
		if f.seen != x.gen {
			delete(x.files, base)
			changed = true
		}
	}
	if changed || x.byName == nil {
		bases := make([]string, 0, len(x.files))
		for base := range x.files {
			bases = append(bases, base)
		}
		sort.Strings(bases)
		byName := map[string][]*defsFile{}
		for _, base := range bases {
			if f := x.files[base]; f.ok {
				byName[f.name] = append(byName[f.name], f)
			}
		}
		x.byName = byName
	}
	return x.byName
}

// readHead reads the name and version of file path, whose state is st,
// at now (Unix ns).
func (x *defsIndex) readHead(path string, st fileStamp, now int64) *defsFile {
	x.reads++
	f := &defsFile{path: path, stamp: st, racy: max(st.mod, st.sys.changed()) > now-int64(racyWindow)}
	b, err := os.ReadFile(path)
	if err != nil {
		f.racy = true // not kept: a file made readable may keep its state
		return f
	}
	var head struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
	}
	if json.Unmarshal(b, &head) == nil {
		f.ok, f.name, f.version = true, head.Name, head.Version
	}
	return f
}

// readNamed reads the files of dir holding name, whatever their version,
// in file name order: the files it cannot read are left out.
func (x *defsIndex) readNamed(dir, name string) [][]byte {
	var out [][]byte
	for _, f := range x.scan(dir)[name] {
		x.mu.Lock()
		x.bodies++
		x.mu.Unlock()
		if b, err := os.ReadFile(f.path); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// findDefinitionIn is findDefinition in the directory dir.
func (e *Engine) findDefinitionIn(dir, name string, version int) (*Definition, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: %q (no definitions directory configured)", ErrDefinitionNotFound, name)
	}
	return e.findIn(dir, e.defsIndexOf(dir).scan(dir)[name], name, version)
}

// definitionsLookup returns findDefinition answered from one look at the
// definitions directory, made by its first call, for many lookups made at
// one moment (a run's start pinning its children's versions).
func (e *Engine) definitionsLookup() func(name string, version int) (*Definition, error) {
	if e.defsDir == "" {
		return e.findDefinition
	}
	var byName map[string][]*defsFile
	return func(name string, version int) (*Definition, error) {
		if byName == nil {
			byName = e.defsIndexOf(e.defsDir).scan(e.defsDir)
		}
		return e.findIn(e.defsDir, byName[name], name, version)
	}
}

// findIn looks name (and version, 0 = highest) up among files, the files
// of dir holding name: those holding the version are read and parsed, and
// one that does not parse fails the lookup (named by its path); of two
// files holding one version, the first in name order is taken.
func (e *Engine) findIn(dir string, files []*defsFile, name string, version int) (*Definition, error) {
	var best *Definition
	for _, h := range files {
		if version != 0 && h.version != version {
			continue
		}
		b, err := os.ReadFile(h.path)
		if err != nil {
			continue
		}
		var head struct {
			Name    string `json:"name"`
			Version int    `json:"version"`
		}
		// The file may have changed since the directory was looked at.
		if json.Unmarshal(b, &head) != nil || head.Name != name || version != 0 && head.Version != version {
			continue
		}
		def, err := e.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.path, err)
		}
		if best == nil || def.Version > best.Version {
			best = def
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: %q in %s", ErrDefinitionNotFound, name, dir)
	}
	return best, nil
}
