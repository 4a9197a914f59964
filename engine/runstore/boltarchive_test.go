package runstore_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A runs.db written before archived documents had a bucket each holds them
// as the value of the run id in "archive": they load, list, restore and
// delete as they are, beside archives of the current layout.
func TestBoltReadsEarlierArchives(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	s, err := runstore.OpenBolt(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := []string{`{"workflowId":"old1","status":"COMPLETED"}`, `{"workflowId":"old2","status":"FAILED"}`}
	if err := db.Update(func(tx *bolt.Tx) error {
		for i, doc := range old {
			id := fmt.Sprintf("old%d", i+1)
			if err := tx.Bucket([]byte("archive")).Put([]byte(id), []byte(doc)); err != nil {
				return err
			}
			if err := tx.Bucket([]byte("index")).Put([]byte(id), []byte(`{"workflowId":"`+id+`","workflowType":"wf","status":"COMPLETED","archived":true}`)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = runstore.OpenBolt(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Commit(ctx, "new1", first("new1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Archive(ctx, "new1", []byte(`{"workflowId":"new1"}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"old1": old[0], "old2": old[1], "new1": `{"workflowId":"new1"}`} {
		if doc, archived := load(t, s, id); doc != want || !archived {
			t.Fatalf("%s: %s archived %v", id, doc, archived)
		}
	}
	if list, err := s.List(ctx, runstore.ListOptions{}); err != nil || len(list) != 3 {
		t.Fatalf("list: %v %v", list, err)
	}
	// A Commit of a run archived the earlier way is refused too.
	if err := s.Commit(ctx, "old2", first("old2")); !errors.Is(err, runstore.ErrArchived) {
		t.Fatalf("Commit of an earlier archive = %v, want ErrArchived", err)
	}
	if doc, archived := load(t, s, "old2"); doc != old[1] || !archived {
		t.Fatalf("old2 after a refused commit: %s archived %v", doc, archived)
	}
	// Restored: the earlier archive is gone with the restore; archived
	// again, it is kept the current way.
	if err := s.Restore(ctx, "old1", first("old1")); err != nil {
		t.Fatal(err)
	}
	if _, archived := load(t, s, "old1"); archived {
		t.Fatal("old1 still archived after its restore")
	}
	if err := s.Archive(ctx, "old1", []byte(`{"again":true}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	if doc, archived := load(t, s, "old1"); doc != `{"again":true}` || !archived {
		t.Fatalf("old1 archived again: %s %v", doc, archived)
	}
	for _, id := range []string{"old1", "old2", "new1"} {
		if err := s.Delete(ctx, id); err != nil {
			t.Fatalf("delete %s: %v", id, err)
		}
		if _, _, err := s.Load(ctx, id); !errors.Is(err, runstore.ErrNotFound) {
			t.Fatalf("%s after delete: %v", id, err)
		}
		if err := s.Delete(ctx, id); !errors.Is(err, runstore.ErrNotFound) {
			t.Fatalf("%s deleted twice: %v", id, err)
		}
	}
}

// Archiving a run writes its document's pages, not the documents archived
// beside it: bbolt never splits a leaf of four keys or fewer, so with the
// documents as values of one bucket an archive rewrote up to four of them.
// Over 64 runs of 6 KiB documents, what an Archive writes stays within a
// few pages of the document's own size.
func TestBoltArchiveWritesItsOwnDocument(t *testing.T) {
	s, err := runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Random (incompressible) text: the document is stored as it is.
	pad := make([]byte, 4600)
	if _, err := rand.Read(pad); err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"pad":"` + base64.StdEncoding.EncodeToString(pad) + `"}`)
	const runs = 64
	var written int64
	for i := range runs {
		id := fmt.Sprintf("%08x-run", uint32(i)*2654435761) // spread over the key space
		if err := s.Commit(ctx, id, first(id)); err != nil {
			t.Fatal(err)
		}
		before := s.Stats().Written
		if err := s.Archive(ctx, id, doc, sum("COMPLETED", 1)); err != nil {
			t.Fatal(err)
		}
		written += s.Stats().Written - before
	}
	per := written / runs
	t.Logf("an Archive of a %d-byte document wrote %d bytes on average", len(doc), per)
	if per > int64(len(doc))+6*4096 {
		t.Fatalf("an Archive of a %d-byte document wrote %d bytes on average", len(doc), per)
	}
}

// An archived document is stored deflated when that makes it smaller: a
// run's JSON archive takes a fraction of its size, and Load gives the
// document back byte for byte; a deflated document that was damaged in
// the file fails Load of its run, naming it, and nothing else.
func TestBoltArchiveIsDeflated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	s, err := runstore.OpenBolt(p)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`{"workflowId":"z1","tasks":[`)
	for i := range 40 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"taskId":"%08d-task","referenceTaskName":"t%d","status":"COMPLETED","outputData":{"result":%d}}`, i*7919, i, i)
	}
	b.WriteString(`]}`)
	doc := b.String()
	for _, id := range []string{"z1", "z2"} {
		if err := s.Commit(ctx, id, first(id)); err != nil {
			t.Fatal(err)
		}
		if err := s.Archive(ctx, id, []byte(doc), sum("COMPLETED", 1)); err != nil {
			t.Fatal(err)
		}
		if got, archived := load(t, s, id); got != doc || !archived {
			t.Fatalf("%s: archived %v, document differs", id, archived)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := db.Update(func(tx *bolt.Tx) error {
		rb := tx.Bucket([]byte("archive")).Bucket([]byte("z1"))
		z := rb.Get([]byte("flate"))
		if z == nil {
			return errors.New("z1 is not stored deflated")
		}
		stored = len(z)
		bad := append([]byte(nil), z...)
		bad[len(bad)/2] ^= 0xff
		bad = bad[:len(bad)-4]
		return rb.Put([]byte("flate"), bad)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if stored*3 > len(doc) {
		t.Fatalf("a %d-byte document stored in %d bytes", len(doc), stored)
	}
	s, err = runstore.OpenBolt(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _, err = s.Load(ctx, "z1")
	if !errors.Is(err, runstore.ErrDamagedArchive) || !strings.Contains(err.Error(), "z1") || !strings.Contains(err.Error(), p) {
		t.Fatalf("damaged archive: %v", err)
	}
	if got, _ := load(t, s, "z2"); got != doc {
		t.Fatal("the other archive does not load")
	}
}

// A deflated archive inflates within a bound: a value that inflates past
// it (damaged, or built to exhaust memory) fails the Load with
// ErrDamagedArchive naming the run; one within it loads.
func TestBoltArchiveInflatesWithinABound(t *testing.T) {
	defer runstore.SetMaxArchivedDoc(64 << 10)()
	p := filepath.Join(t.TempDir(), "runs.db")
	s, err := runstore.OpenBolt(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, size := range map[string]int{"small": 32 << 10, "bomb": 1 << 20} {
		doc := `{"workflowId":"` + id + `","pad":"` + strings.Repeat("a", size) + `"}`
		if err := s.Commit(ctx, id, first(id)); err != nil {
			t.Fatal(err)
		}
		if err := s.Archive(ctx, id, []byte(doc), sum("COMPLETED", 1)); err != nil {
			t.Fatal(err)
		}
	}
	if got, archived := load(t, s, "small"); !archived || !strings.Contains(got, `"workflowId":"small"`) {
		t.Fatalf("small archive: archived %v", archived)
	}
	_, _, err = s.Load(ctx, "bomb")
	if !errors.Is(err, runstore.ErrDamagedArchive) || !strings.Contains(err.Error(), "run bomb") || !strings.Contains(err.Error(), "inflates past") {
		t.Fatalf("archive past the bound: %v", err)
	}
}
