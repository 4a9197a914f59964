package engine_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// primaryCheckStore keeps the run's primary record as it stands when the
// run is archived.
type primaryCheckStore struct {
	runstore.Store
	mu      sync.Mutex
	primary []byte
}

func (s *primaryCheckStore) Archive(ctx context.Context, id string, archived []byte, sum runstore.Summary) error {
	doc, _, err := s.Store.Load(ctx, id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.primary = doc
	s.mu.Unlock()
	return s.Store.Archive(ctx, id, archived, sum)
}

// A value registered mid-run is masked in what the run stored before,
// whatever record holds it and however it is spelled there, while each
// registration masks again only the records the value may be in: each
// iteration of a loop outputs, in plain fields, the value the next one
// registers (as an UPDATE_SECRET or a `_secrets` output would) — as it is,
// or only inside JSON inside a string, or on a line of a multi-line text —
// and the workflow input holds two of them (one base64), and a task's
// failure reason one more. Neither the primary
// record written before the archive nor the archive holds any.
func TestValuesRegisteredLaterAreMaskedInEarlierRecords(t *testing.T) {
	const n = 40
	// A quote in the value: stored inside JSON inside a string, it is
	// escaped twice, a spelling found only in a decoded view.
	value := func(i int) string { return fmt.Sprintf(`pv"%d-q8Zx3kW`, i) }
	// An optional task before the loop fails quoting value n/4 in its
	// reason: the reason is masked again too.
	def := fmt.Sprintf(`{"name":"later","tasks":[{"name":"early","taskReferenceName":"early","type":"INLINE","optional":true,
	  "inputParameters":{"evaluatorType":"javascript","expression":"(function(){ throw new Error('bad pv\"' + (%d + 0) + '-q8Zx3kW'); })()"}},
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	  "loopCondition":"if ($.loop['iteration'] < %d) { true; } else { false; }",
	  "loopOver":[{"name":"step","taskReferenceName":"step","type":"INLINE",
	    "inputParameters":{"evaluatorType":"javascript","i":"${loop.output.iteration}","expression":
	      "(function(){ var v = 'pv\"' + $.i + '-q8Zx3kW'; var prev = 'pv\"' + ($.i - 1) + '-q8Zx3kW'; var o = {_secrets: {tok: prev}}; if ($.i %% 3 == 0) { o.plain = v; } else if ($.i %% 3 == 1) { o.nested = JSON.stringify({deep: JSON.stringify({v: v})}); } else { o.lines = 'first\\n' + v + '\\nlast'; } return o; })()"}}]}],
	  "outputParameters":{"n":"${loop.output.iteration}"}}`, n/4, n)
	rs := &primaryCheckStore{Store: runstore.NewMemory()}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	input, _ := json.Marshal(map[string]any{"later": value(n / 2), "b64": base64.StdEncoding.EncodeToString([]byte(value(n / 3)))})
	res, err := e.Start(context.Background(), d, input)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run: %v %+v", err, res)
	}
	archived, _, err := rs.Load(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	rs.mu.Lock()
	primary := rs.primary
	rs.mu.Unlock()
	if len(primary) == 0 {
		t.Fatal("no primary record seen before the archive")
	}
	// Values 0..n-1 are registered (iteration i registers value i-1);
	// value n, output by the last iteration, never is.
	for i := 1; i < n; i++ {
		// Its tail, in whatever spelling: the byte before it is the
		// quote, escaped once or more.
		tail := []byte(fmt.Sprintf(`"%d-q8Zx3kW`, i))
		v := []byte(value(i))
		for where, doc := range map[string][]byte{"primary record": primary, "archive": archived} {
			if bytes.Contains(doc, tail) {
				t.Errorf("%s holds value %d, registered after it was stored", where, i)
			}
			if bytes.Contains(doc, []byte(base64.StdEncoding.EncodeToString(v))) {
				t.Errorf("%s holds value %d in base64", where, i)
			}
		}
	}
	if !bytes.Contains(archived, []byte(fmt.Sprintf(`"%d-q8Zx3kW`, n))) {
		t.Fatal("the value never registered is masked too: the test tests nothing")
	}
}
