package runstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/engine/runstore"
)

// journaledRuns writes runs a and b into a new bolt file, both as journal
// entries (no fold), closes it and returns its path.
func journaledRuns(t *testing.T) string {
	t.Helper()
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
	return p
}

// A damaged journal entry (the file is untrusted) is one clear error for
// the run it belongs to, naming the file; the other runs still load and list.
func TestBoltDamagedJournalEntry(t *testing.T) {
	p := journaledRuns(t)
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
	s, err := runstore.OpenBolt(p, runstore.WithJournalLimit(1000))
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

// A fold that meets a damaged journal entry moves it, as it is, to bucket
// "damaged" and folds the rest: the journal empties again under many
// writes, the other runs load and list, and Load of the run whose entry was
// damaged is one line naming the file, the run and where the entry is kept.
// A damaged header (the entry cannot be tied to a run) fails no run.
func TestBoltDamagedJournalEntryFolded(t *testing.T) {
	for _, tc := range []struct {
		name string
		// damage returns what replaces run a's entry v.
		damage func(v []byte) []byte
		// aErr: Load of run a fails naming the run (else: not found).
		aErr bool
		// why is what Damaged says of the entry.
		why string
	}{
		{"body", func(v []byte) []byte { return append(append([]byte(nil), v[:3]...), 0x01, 0xff) }, true, "its parts do not decode"},
		{"kind", func(v []byte) []byte { return append([]byte{'?'}, v[1:]...) }, true, `its kind '?' is unknown`},
		{"header", func(v []byte) []byte { return []byte{v[0], 0xff} }, false,
			"the run id length is not a valid uvarint, so the run it belongs to is unknown"},
		{"header-length", func(v []byte) []byte { return []byte{v[0], 0x7f, 'a'} }, false,
			"the run id length 127 runs past the end of the entry (3 bytes)"},
		// A length that still fits gives a run id made of the entry's
		// parts: not taken for a run's.
		{"header-id", func(v []byte) []byte { return append([]byte{v[0], 0x7f}, v[2:]...) }, false,
			"the 127 bytes it gives as the run id are no run id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const limit = 4
			p := journaledRuns(t)
			var damaged, journalKey []byte
			editBolt(t, p, func(tx *bolt.Tx) error {
				k, v := tx.Bucket([]byte("journal")).Cursor().First() // run a's entry
				damaged, journalKey = tc.damage(v), append([]byte(nil), k...)
				return tx.Bucket([]byte("journal")).Put(k, damaged)
			})
			s, err := runstore.OpenBolt(p, runstore.WithJournalLimit(limit))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Load(ctx, "b"); err != nil {
				t.Fatalf("Load b before the fold: %v", err)
			}
			// Many writes, some concurrent: each fold meets the damage
			// only once.
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for w, id := range []string{"b", "c", "d"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if w > 0 {
						if err := s.Commit(ctx, id, first(id)); err != nil {
							errs <- err
							return
						}
					}
					for i := 1; i <= 10; i++ {
						ch := &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: i, Doc: []byte(fmt.Sprintf(`{"seq":%d}`, i))}}}
						if err := s.Commit(ctx, id, ch); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for _, id := range []string{"b", "c", "d"} {
				doc, _ := load(t, s, id)
				if !strings.Contains(doc, `{"seq":10}`) {
					t.Errorf("Load %s lacks its last task: %s", id, doc)
				}
			}
			_, _, err = s.Load(ctx, "a")
			switch {
			case tc.aErr && (!errors.Is(err, runstore.ErrDamagedEntry) || !strings.Contains(err.Error(), p) ||
				!strings.Contains(err.Error(), "run a") || !strings.Contains(err.Error(), "damaged") || strings.Contains(err.Error(), "\n")):
				t.Errorf("Load of the damaged run: %v, want one line naming %s, run a and the damaged entry", err, p)
			case !tc.aErr && !errors.Is(err, runstore.ErrNotFound):
				t.Errorf("Load of the run of an entry with a damaged header: %v, want ErrNotFound", err)
			}
			t.Logf("Load a: %v", err)
			sums, err := s.List(ctx, runstore.ListOptions{})
			if err != nil || len(sums) != 3 {
				t.Errorf("List: %v %+v, want runs b c d", err, sums)
			}
			// The kept entry is one clear line: the file, its key (and the
			// key it had in the journal), the run or why it is unknown.
			kept, err := s.Damaged(ctx)
			if err != nil || len(kept) != 1 {
				t.Fatalf("Damaged: %v %+v, want one entry", err, kept)
			}
			d := kept[0]
			wantRun := map[bool]string{true: "a"}[tc.aErr]
			msg := d.Err.Error()
			if d.RunID != wantRun || !bytes.HasSuffix(d.Key, journalKey) || !errors.Is(d.Err, runstore.ErrDamagedEntry) ||
				!strings.Contains(msg, p) || !strings.Contains(msg, fmt.Sprintf("%x", d.Key)) || !strings.Contains(msg, tc.why) ||
				strings.Contains(msg, "\n") || (wantRun != "" && !strings.Contains(msg, "run a:")) {
				t.Errorf("Damaged: run %q key %x: %v; want run %q, key ending %x, one line naming %s, the key and %q",
					d.RunID, d.Key, d.Err, wantRun, journalKey, p, tc.why)
			}
			t.Logf("Damaged: %v", d.Err)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			editBolt(t, p, func(tx *bolt.Tx) error {
				if n := tx.Bucket([]byte("journal")).Stats().KeyN; n >= limit {
					t.Errorf("journal holds %d entries after the writes, want fewer than %d (folded)", n, limit)
				}
				var kept [][]byte
				_ = tx.Bucket([]byte("damaged")).ForEach(func(k, v []byte) error {
					kept = append(kept, append([]byte(nil), v...))
					return nil
				})
				if len(kept) != 1 || !bytes.Equal(kept[0], damaged) {
					t.Errorf("bucket damaged holds %q, want the damaged entry %q as it was", kept, damaged)
				}
				return nil
			})
		})
	}
}

// editBolt runs fn in a write transaction on the closed store file p.
func editBolt(t *testing.T, p string, fn func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(fn)
	if err2 := db.Close(); err == nil {
		err = err2
	}
	if err != nil {
		t.Fatal(err)
	}
}
