package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// writeIndexDefs writes n definitions into dir (c0… holding version 1),
// modified an hour ago.
func writeIndexDefs(t testing.TB, dir string, n int) {
	t.Helper()
	for i := range n {
		writeIndexDef(t, filepath.Join(dir, fmt.Sprintf("c%d.json", i)), fmt.Sprintf("c%d", i), 1, time.Now().Add(-time.Hour))
	}
}

// writeIndexDef writes definition name, version v, into file f, modified
// at mod.
func writeIndexDef(t testing.TB, f, name string, v int, mod time.Time) {
	t.Helper()
	def := fmt.Sprintf(`{"name":%q,"version":%d,"schemaVersion":2,"outputParameters":{"v":"v%d"},"tasks":[
	  {"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`, name, v, v)
	if err := os.WriteFile(f, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f, time.Time{}, mod); err != nil {
		t.Fatal(err)
	}
}

// headReads is the number of files dir's index read for their head.
func headReads(e *Engine, dir string) int {
	x := e.defsIndexOf(dir)
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.reads
}

// TestDefinitionsIndexReadsChangesOnly: a run's start pinning ten
// children named without a version reads each file of the definitions
// directory once, however many children; the next start reads none of
// them again, and a lookup after one file changed reads that one.
// Finding the latest version read every file of the directory on every
// lookup.
func TestDefinitionsIndexReadsChangesOnly(t *testing.T) {
	dir := t.TempDir()
	writeIndexDefs(t, dir, 50)
	e, err := New(WithRunStore(runstore.NewMemory()), WithRegistry(tasks.NewDefaultRegistry()), WithDefinitionsDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	SettleDefinitionsIndex(e, dir)
	var subs []string
	for i := range 10 {
		subs = append(subs, fmt.Sprintf(`{"name":"s%d","taskReferenceName":"s%d","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"c%d"}}`, i, i, i))
	}
	def, err := e.Parse([]byte(`{"name":"p","version":1,"schemaVersion":2,"tasks":[` + strings.Join(subs, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, want := range []int{50, 50} {
		res, err := e.Start(ctx, def, json.RawMessage(`{}`))
		if err != nil || res.Status != StatusCompleted {
			t.Fatalf("start %d: %v %+v", i, err, res)
		}
		if got := headReads(e, dir); got != want {
			t.Fatalf("after start %d: %d files read, want %d", i, got, want)
		}
	}
	writeIndexDef(t, filepath.Join(dir, "c7.json"), "c7", 2, time.Now().Add(-time.Minute))
	d, err := e.findDefinition("c7", 0)
	if err != nil || d.Version != 2 {
		t.Fatalf("c7: %v %v, want version 2", d, err)
	}
	if got := headReads(e, dir); got != 51 {
		t.Fatalf("after c7 changed: %d files read, want 51", got)
	}
}

// TestDefinitionsIndexRacyFile: a file the index read less than
// racyWindow after it changed is read again by the next lookup, though
// its state looks the same: rewritten within the same timestamp tick to
// hold another name, its size and modification time are as they were.
// Two ways to get there: a file just written (timestamps are coarse, a
// second on some file systems), and a file copied in with its old
// modification time kept (cp -p, rsync -t, an unpacked archive), whose
// change time is new: the index judges freshness by the later of the two
// times. The test makes the index forget the rewrite's other changes
// (change time, inode), as a coarse clock would, or as elsewhere than on
// Linux and macOS.
func TestDefinitionsIndexRacyFile(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  time.Time
	}{
		{"just written", time.Now().Truncate(time.Second)},
		{"copied keeping an old modification time", time.Now().Add(-time.Hour).Truncate(time.Second)},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "c.json")
			writeIndexDef(t, f, "c", 1, c.mod)
			if st, ok := statFile(f); !ok || (c.mod.Before(time.Now().Add(-racyWindow)) && st.sys.changed() == 0) {
				t.Skip("this system gives no change time")
			}
			e, err := New(WithDefinitionsDir(dir))
			if err != nil {
				t.Fatal(err)
			}
			if d, err := e.findDefinition("c", 0); err != nil || d.Version != 1 {
				t.Fatalf("c: %v %v, want version 1", d, err)
			}
			writeIndexDef(t, f, "d", 2, c.mod) // same size, same modification time
			st, ok := statFile(f)
			if !ok {
				t.Fatal("stat")
			}
			x := e.defsIndexOf(dir)
			x.mu.Lock()
			x.files["c.json"].stamp.sys = st.sys
			x.mu.Unlock()
			if d, err := e.findDefinition("d", 0); err != nil || d.Version != 2 {
				t.Fatalf("d: %v, want version 2", err)
			}
			if _, err := e.findDefinition("c", 0); !errors.Is(err, ErrDefinitionNotFound) {
				t.Fatalf("c: %v, want not found", err)
			}
		})
	}
}

// BenchmarkDefinitionsLookup: one lookup of a name in a directory of n
// definitions, none of them changed, next to a listing of the directory
// alone (its names, os.Readdirnames): the lookup adds a stat of each file
// and the read and parse of the file found.
func BenchmarkDefinitionsLookup(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		dir := b.TempDir()
		writeIndexDefs(b, dir, n)
		b.Run(fmt.Sprintf("defs=%d/list", n), func(b *testing.B) {
			for b.Loop() {
				d, err := os.Open(dir)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := d.Readdirnames(-1); err != nil {
					b.Fatal(err)
				}
				d.Close()
			}
		})
		b.Run(fmt.Sprintf("defs=%d/find", n), func(b *testing.B) {
			e, err := New(WithDefinitionsDir(dir))
			if err != nil {
				b.Fatal(err)
			}
			SettleDefinitionsIndex(e, dir)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.findDefinition("c3", 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
