package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/store"
)

// runReadsMatchAudit checks, while one writer keeps changing a secret, that
// every run's read is recorded in the audit trail with the version whose
// value the run got (a read takes effect with its audit record, never
// against a record that changed in between), and that the trail verifies.
func runReadsMatchAudit(t *testing.T, s store.Store) {
	a, ok := store.AuditorOf(s)
	if !ok {
		t.Skip("the store keeps no audit trail")
	}
	ctx := context.Background()
	const name, writes, readers, reads = "race/token", 40, 4, 15
	if _, err := s.Put(ctx, &store.Secret{Name: name, Value: json.RawMessage(`0`)}); err != nil {
		t.Fatal(err)
	}
	p := store.Principal{Name: "reader", Scopes: []string{"secrets:get:race/*"}}
	var wg sync.WaitGroup
	errc := make(chan error, readers*reads+1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= writes; i++ {
			if _, err := s.Put(ctx, &store.Secret{Name: name, Value: json.RawMessage(strconv.Itoa(i))}); err != nil {
				errc <- err
				return
			}
		}
	}()
	got := make([][]string, readers)
	for r := range readers {
		got[r] = make([]string, reads)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range reads {
				run := fmt.Sprintf("run-%d-%d", r, i)
				v, err := store.NewRunView(s, p, "", "").Secret(store.ForRun(ctx, run, "t"), name)
				if err != nil {
					errc <- fmt.Errorf("%s: %w", run, err)
					return
				}
				got[r][i] = string(v)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for r := range readers {
		for i := range reads {
			run := fmt.Sprintf("run-%d-%d", r, i)
			evs, err := a.ReadAudit(ctx, store.AuditFilter{Run: run})
			if err != nil || len(evs) != 1 {
				t.Fatalf("audit of %s: %d events, %v", run, len(evs), err)
			}
			// Value i is version i+1.
			if want := strconv.FormatInt(evs[0].Version-1, 10); got[r][i] != want {
				t.Fatalf("%s read %s but its audit record says version %d (value %s)", run, got[r][i], evs[0].Version, want)
			}
		}
	}
	if n, err := a.VerifyAudit(ctx); err != nil {
		t.Fatalf("VerifyAudit after %d records: %v", n, err)
	}
}
