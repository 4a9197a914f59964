package runstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestRecords: records are read back in key order within their space, a
// transaction whose function fails changes nothing, a read transaction
// writes nothing, and bolt's records outlive the store being reopened.
func TestRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	for _, c := range []struct {
		name   string
		open   func(t *testing.T) runstore.Records
		reopen bool
	}{
		{"memory", func(*testing.T) runstore.Records { return runstore.NewMemory() }, false},
		{"bolt", func(t *testing.T) runstore.Records {
			b, err := runstore.OpenBolt(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			r := c.open(t)
			err := r.UpdateRecords(ctx, func(tx runstore.RecordTx) error {
				for _, k := range []string{"m/2", "m/1", "x/1"} {
					if err := tx.Put("q", k, []byte("v"+k)); err != nil {
						return err
					}
				}
				return tx.Put("other", "m/0", []byte("o"))
			})
			if err != nil {
				t.Fatal(err)
			}
			boom := errors.New("boom")
			if err := r.UpdateRecords(ctx, func(tx runstore.RecordTx) error {
				_ = tx.Delete("q", "m/1")
				_ = tx.Put("q", "m/3", []byte("no"))
				return boom
			}); !errors.Is(err, boom) {
				t.Fatalf("failed update: %v", err)
			}
			scan := func(r runstore.Records) string {
				var keys []string
				_ = r.ViewRecords(ctx, func(tx runstore.RecordTx) error {
					tx.Scan("q", "m/", func(k string, v []byte) bool {
						keys = append(keys, k+"="+string(v))
						return true
					})
					if tx.Put("q", "m/9", []byte("x")) == nil {
						keys = append(keys, "read transaction wrote")
					}
					return nil
				})
				return strings.Join(keys, ",")
			}
			if got := scan(r); got != "m/1=vm/1,m/2=vm/2" {
				t.Errorf("scan: %s", got)
			}
			if err := r.UpdateRecords(ctx, func(tx runstore.RecordTx) error { return tx.Delete("q", "m/1") }); err != nil {
				t.Fatal(err)
			}
			if got := scan(r); got != "m/2=vm/2" {
				t.Errorf("after delete: %s", got)
			}
			if c.reopen {
				_ = r.(*runstore.Bolt).Close()
				r2 := c.open(t)
				if got := scan(r2); got != "m/2=vm/2" {
					t.Errorf("reopened: %s", got)
				}
			}
		})
	}
}
