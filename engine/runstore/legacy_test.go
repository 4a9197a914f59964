package runstore_test

import (
	"encoding/binary"
	"errors"
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

// A runs.db of the previous parts layout keeps a bucket per run in
// "primary" and its summary in "index": the run loads and lists as it is,
// its next write moves it to the current layout without losing a part, and
// it archives and deletes like any run.
func TestBoltReadsNestedLayout(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	task := func(seq int) []byte {
		return binary.BigEndian.AppendUint64([]byte{'t'}, uint64(seq))
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		pb, err := tx.CreateBucketIfNotExists([]byte("primary"))
		if err != nil {
			return err
		}
		rb, err := pb.CreateBucket([]byte("r1"))
		if err != nil {
			return err
		}
		for k, v := range map[string]string{"head": `{"workflowId":"r1","status":"RUNNING"}`, "input": `{"a":1}`,
			"output": `{}`, "variables": `{"v":1}`, "def": "h1", string(task(1)): `{"ref":"a"}`, string(task(2)): `{"ref":"b"}`} {
			if err := rb.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		defs, err := tx.CreateBucketIfNotExists([]byte("definitions"))
		if err != nil {
			return err
		}
		if err := defs.Put([]byte("h1"), []byte(`{"name":"wf"}`)); err != nil {
			return err
		}
		idx, err := tx.CreateBucketIfNotExists([]byte("index"))
		if err != nil {
			return err
		}
		return idx.Put([]byte("r1"), []byte(`{"workflowId":"r1","workflowType":"wf","version":1,"status":"RUNNING","createTime":1}`))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := runstore.OpenBolt(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := `{"workflowId":"r1","status":"RUNNING","input":{"a":1},"output":{},"variables":{"v":1},"tasks":[{"ref":"a"},{"ref":"b"}],"workflowDefinition":{"name":"wf"}}`
	if doc, archived := load(t, s, "r1"); doc != want || archived {
		t.Fatalf("previous layout: %s %v", doc, archived)
	}
	if list, err := s.List(ctx, runstore.ListOptions{}); err != nil || len(list) != 1 || list[0].Status != "RUNNING" || list[0].UpdateTime != 0 {
		t.Fatalf("List = %+v %v", list, err)
	}
	// Its index entry, written before entries kept updateTime, takes the
	// one derived for it, once.
	for _, n := range []int64{42, 99} {
		if err := s.BackfillUpdateTime(ctx, "r1", n); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := s.List(ctx, runstore.ListOptions{}); err != nil || len(list) != 1 || list[0].UpdateTime != 42 {
		t.Fatalf("List after the backfill = %+v %v", list, err)
	}
	if err := s.Delete(ctx, "r1"); !errors.Is(err, runstore.ErrNotEnded) {
		t.Fatalf("Delete(running) = %v", err)
	}
	// An incremental write: the parts it does not carry come along.
	ch := &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 3, Doc: []byte(`{"ref":"c"}`)}}}
	ch.Summary.UpdateTime = 7
	if err := s.Commit(ctx, "r1", ch); err != nil {
		t.Fatal(err)
	}
	want = `{"workflowId":"r1","status":"RUNNING","input":{"a":1},"output":{},"variables":{"v":1},"tasks":[{"ref":"a"},{"ref":"b"},{"ref":"c"}],"workflowDefinition":{"name":"wf"}}`
	if doc, _ := load(t, s, "r1"); doc != want {
		t.Fatalf("after the move: %s", doc)
	}
	if list, err := s.List(ctx, runstore.ListOptions{}); err != nil || len(list) != 1 || list[0].UpdateTime != 7 {
		t.Fatalf("List after the move = %+v %v", list, err)
	}
	if err := s.Archive(ctx, "r1", []byte(`{}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if list, err := s.List(ctx, runstore.ListOptions{}); err != nil || len(list) != 0 {
		t.Fatalf("List after Delete = %+v %v", list, err)
	}
}

// Run ids the bolt store cannot key are refused, not stored under another
// run's prefix.
func TestBoltRefusesBadRunID(t *testing.T) {
	s, err := runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"", "a\x00t", "a\tb", "a\xffb"} {
		if err := s.Commit(ctx, id, first(id)); !errors.Is(err, runstore.ErrBadRunID) {
			t.Fatalf("Commit(%q) = %v", id, err)
		}
	}
}
