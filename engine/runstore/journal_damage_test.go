package runstore_test

import (
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A damaged journal entry (the file is untrusted) is one clear error for
// the run it belongs to, naming the file; the other runs still load and list.
func TestBoltDamagedJournalEntry(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	s, err := runstore.OpenBolt(p, runstore.WithJournalLimit(1000))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if err := s.Commit(ctx, id, first(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte("journal")).Cursor()
		k, v := c.First() // run a's entry: kind, id length, id, parts
		return tx.Bucket([]byte("journal")).Put(k, append(append([]byte(nil), v[:3]...), 0x01, 0xff))
	})
	if err2 := db.Close(); err == nil {
		err = err2
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err = runstore.OpenBolt(p, runstore.WithJournalLimit(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _, err = s.Load(ctx, "a")
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "run a") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Load of the damaged run: %v, want one line naming the run and %s", err, p)
	}
	t.Logf("Load a: %v", err)
	if _, _, err := s.Load(ctx, "b"); err != nil {
		t.Errorf("Load of an intact run: %v", err)
	}
	sums, err := s.List(ctx, runstore.ListOptions{})
	if err != nil || len(sums) != 1 || sums[0].ID != "b" {
		t.Errorf("List: %v %+v, want run b", err, sums)
	}
}
