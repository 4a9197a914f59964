package runstore_test

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A runs.db written by an earlier version holds whole run documents in the
// "runs" bucket: they load as they are, and the run's next full write
// replaces the document by parts.
func TestBoltReadsEarlierDocuments(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := `{"workflowId":"r1","status":"RUNNING","tasks":[]}`
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("runs"))
		if err != nil {
			return err
		}
		return b.Put([]byte("r1"), []byte(old))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := runstore.OpenBolt(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if doc, archived := load(t, s, "r1"); doc != old || archived {
		t.Fatalf("earlier document: %s %v", doc, archived)
	}
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r1"); doc == old {
		t.Fatal("the full write did not replace the earlier document")
	}
	if err := s.Archive(ctx, "r1", []byte(`{}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
}
