package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
)

// A barrier over any Storage (here the in-memory one) seals every record
// under its storage key: a record copied under another name does not open.
func ExampleNewBarrier() {
	ctx := context.Background()
	key, _ := seal.GenerateKey()
	ring, _ := seal.NewKeyring(key)
	st := memory.NewStorage()
	s, err := store.NewBarrier(ctx, st, ring)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = s.Put(ctx, &store.Secret{Name: "alpha", Value: json.RawMessage(`"a"`)})
	_, _ = s.Put(ctx, &store.Secret{Name: "beta", Value: json.RawMessage(`"b"`)})

	// Someone with write access to the storage copies beta over alpha.
	beta, _ := st.Get(ctx, "c/o/beta")
	_ = st.Commit(ctx, nil, []store.Write{{Key: "c/o/alpha", Value: beta[0]}})
	_, err = s.Get(ctx, "alpha")
	fmt.Println(errors.Is(err, store.ErrIntegrity))

	// Another key is refused before anything is written.
	other, _ := seal.GenerateKey()
	otherRing, _ := seal.NewKeyring(other)
	_, err = store.NewBarrier(ctx, st, otherRing)
	fmt.Println(errors.Is(err, store.ErrWrongKey))
	// Output:
	// true
	// true
}

// ForRun marks a context with the run and task a read is for; the audit
// trail records them.
func ExampleForRun() {
	ctx := context.Background()
	s := memory.New()
	_, _ = s.Put(ctx, &store.Secret{Name: "api_token", Value: json.RawMessage(`"t-1"`)})
	view := store.NewRunView(s, store.Principal{Name: "run", Scopes: []string{"secrets:get:api_token"}}, "", "")
	_, _ = view.Secret(store.ForRun(ctx, "run-42", "call_api"), "api_token")
	evs, _ := s.ReadAudit(ctx, store.AuditFilter{Run: "run-42"})
	for _, e := range evs {
		fmt.Println(e.Op, e.Name, e.Principal, e.Run, e.Task, e.Outcome)
	}
	n, err := s.VerifyAudit(ctx)
	fmt.Println(n, err)
	// Output:
	// get api_token run run-42 call_api allowed
	// 2 <nil>
}
