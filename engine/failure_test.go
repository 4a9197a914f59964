package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/interpolate"
)

// countingSource is a real in-memory secret source that counts lookups, to
// check the engine asks once per task (one Redis round trip with RunView).
type countingSource struct {
	values        interpolate.MapSecrets
	batch, single atomic.Int64
}

func (c *countingSource) Secret(ctx context.Context, name string) ([]byte, error) {
	c.single.Add(1)
	return c.values.Secret(ctx, name)
}

func (c *countingSource) Secrets(ctx context.Context, names []string) (map[string][]byte, map[string]error, error) {
	c.batch.Add(1)
	out, errs := map[string][]byte{}, map[string]error{}
	for _, n := range names {
		v, err := c.values.Secret(ctx, n)
		if err != nil {
			errs[n] = err
			continue
		}
		out[n] = v
	}
	return out, errs, nil
}

func TestSecretsFetchedOncePerTask(t *testing.T) {
	src := &countingSource{values: interpolate.MapSecrets{
		"a": json.RawMessage(`"value-a-1234"`), "b": json.RawMessage(`"value-b-1234"`), "c": json.RawMessage(`{"k":"value-c-1234"}`)}}
	h := newHarness(t, nil, engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource { return src }))
	res := h.run(`{"name":"w","tasks":[
	  {"name":"echo","taskReferenceName":"e1","inputParameters":{"x":"${workflow.secrets.a}","y":"${workflow.secrets.b}","z":"${workflow.secrets.c.k}","w":"${workflow.secrets.a}-again"}},
	  {"name":"echo","taskReferenceName":"e2","inputParameters":{"plain":"${e1.output.echo.x}"}}]}`, `{}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	// One batch at the start (the definition holds none of the values:
	// defvalues.go), one for the one task with secrets.
	if src.batch.Load() != 2 || src.single.Load() != 0 {
		t.Fatalf("batch lookups %d, single lookups %d; want 1 batch at the start and 1 for the one task with secrets", src.batch.Load(), src.single.Load())
	}
	jsonEq(t, res.Output, `{"echo":{"plain":"***"}}`)
}

// SPEC §7: the run store going away mid-run is a clear error, nothing is
// lost, and the run resumes once the store is back (and the lease the first
// engine could not release has expired: its TTL is short here).
func TestRedisGoesAwayMidRun(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Persistent())
	rs, err := runstore.OpenRedis("redis://" + srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var steps atomic.Int64
	mk := func(events func(engine.Event)) *engine.Engine {
		e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 3)), engine.WithEvents(events),
			engine.WithPollInterval(20*time.Millisecond), engine.WithLeaseTTL(300*time.Millisecond),
			engine.WithWorker("step", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
				steps.Add(1)
				return in, nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a := mk(func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting {
			srv.Stop()
		}
	})
	def, err := a.Parse([]byte(`{"name":"w","tasks":[
	  {"name":"step","taskReferenceName":"one","inputParameters":{"n":1}},
	  {"name":"wait","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"1s"}},
	  {"name":"step","taskReferenceName":"two","inputParameters":{"n":2}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Start(context.Background(), def, nil, engine.WithRunID("redis-away"))
	if !errors.Is(err, runstore.ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
	srv.Restart()
	// The store is back once its client sees it: after PoolSize failed
	// dials go-redis answers every dial with the last error until its
	// background probe (once a second) reaches the server again.
	back := time.Now()
	for deadline := back.Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, _, err := rs.Load(context.Background(), "redis-away")
		if !errors.Is(err, runstore.ErrUnavailable) {
			t.Logf("the run store answered %v after Redis restarted", time.Since(back).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run store is still unavailable 10s after Redis restarted: %v", err)
		}
	}
	res, err := mk(nil).Resume(context.Background(), "redis-away")
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if steps.Load() != 2 {
		t.Fatalf("steps ran %d times, want 2", steps.Load())
	}
	jsonEq(t, res.Output, `{"n":2}`)
}
