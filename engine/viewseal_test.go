package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// TestViewsAuthenticateTheStoredRun: what a view reads of a run is
// authenticated as a resume authenticates it. A task record whose status
// was edited in the run store (an approval forged) is an error naming the
// run from Show and StoredState, not a state a client or the server's
// task hand-out believes; the run as written shows as before.
func TestViewsAuthenticateTheStoredRun(t *testing.T) {
	for name, mk := range visibleStores(t) {
		t.Run(name, func(t *testing.T) {
			rs := mk()
			kit := newSealKit(t, rs)
			ctx := context.Background()
			kit.startWaiting(headDef, "view-ok")
			kit.startWaiting(headDef, "view-forged")
			s := loadStoredRun(t, rs, "view-forged")
			r := storedRecords(t, s)
			r[0] = strings.Replace(r[0], `"status":"IN_PROGRESS"`, `"status":"COMPLETED"`, 1)
			setRecords(s, r)
			s.restoreWith(t, rs, "view-forged", s.log)
			e := kit.engine()

			if view, err := e.Show(ctx, "view-ok"); err != nil || !strings.Contains(string(view), `"status":"IN_PROGRESS"`) {
				t.Fatalf("Show of the run as written: %v %s", err, view)
			}
			if st, err := e.StoredState(ctx, "view-ok"); err != nil || len(st.Tasks) != 1 || st.Tasks[0].Status != engine.TaskInProgress {
				t.Fatalf("StoredState of the run as written: %v %+v", err, st)
			}
			if view, err := e.Show(ctx, "view-forged"); !errors.Is(err, engine.ErrRecordNotAuthentic) || !strings.Contains(err.Error(), "view-forged") {
				t.Fatalf("Show of an edited run: %v %s", err, view)
			}
			if st, err := e.StoredState(ctx, "view-forged"); !errors.Is(err, engine.ErrRecordNotAuthentic) || !strings.Contains(err.Error(), "view-forged") {
				t.Fatalf("StoredState of an edited run: %v %+v", err, st)
			}
		})
	}
}
