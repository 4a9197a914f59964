package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// registeringLoop is a DO_WHILE of n iterations whose task registers a new
// value with the run's masker in each (a `_secrets` leaf of its output, as
// an UPDATE_SECRET or an HTTP auth secret per iteration would).
func registeringLoop(n int) string {
	return fmt.Sprintf(`{"name":"registering","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	  "loopCondition":"if ($.loop['iteration'] < %d) { true; } else { false; }",
	  "loopOver":[{"name":"step","taskReferenceName":"step","type":"INLINE",
	    "inputParameters":{"evaluatorType":"javascript","i":"${loop.output.iteration}","expression":"({_secrets: {tok: 'token-value-' + $.i}})"}}]}],
	  "outputParameters":{"n":"${loop.output.iteration}"}}`, n)
}

// runRegisteringLoop runs registeringLoop(n) on a memory store and returns
// the size of each commit.
func runRegisteringLoop(t testing.TB, n int) []int {
	t.Helper()
	rs := &sizingStore{Store: runstore.NewMemory()}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(registeringLoop(n)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
	if err != nil || res.Status != engine.StatusCompleted || string(res.Output) != fmt.Sprintf(`{"n":%d}`, n) {
		t.Fatalf("run: %v %+v", err, res)
	}
	return rs.committed()
}

// SPEC §8 "a run persists what changed, not the whole run": a loop that
// registers a new value in each iteration commits about as many bytes per
// iteration at 1 000 iterations as at 10 (the values the run registered
// are appended to its log, not rewritten with every write).
func TestLoopRegisteringValuesPersistsFlatBytesPerIteration(t *testing.T) {
	perIter := map[int]float64{}
	var line []string
	for _, n := range []int{10, 1000} {
		total := 0
		for _, s := range runRegisteringLoop(t, n) {
			total += s
		}
		perIter[n] = float64(total) / float64(n)
		line = append(line, fmt.Sprintf("%d iterations: %.0f B/iteration", n, perIter[n]))
	}
	t.Log(strings.Join(line, ", "))
	if perIter[1000] > 2*perIter[10] {
		t.Fatalf("bytes committed per iteration grow with the loop: %s", strings.Join(line, ", "))
	}
}

// mockedLoop is a DO_WHILE of n iterations over an HTTP task, and a test
// with one mock for the task of each iteration.
func mockedLoop(t testing.TB, n int) (string, *engine.Test) {
	t.Helper()
	def := fmt.Sprintf(`{"name":"mocked_loop","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	  "loopCondition":"if ($.loop['iteration'] < %d) { true; } else { false; }",
	  "loopOver":[{"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"http://127.0.0.1:1/never","method":"GET"}}}]}],
	  "outputParameters":{"n":"${loop.output.iteration}"}}`, n)
	mocks := map[string][]engine.TaskMock{}
	for i := 1; i <= n; i++ {
		mocks[fmt.Sprintf("call__%d", i)] = []engine.TaskMock{{Output: json.RawMessage(fmt.Sprintf(`{"response":{"statusCode":200,"body":{"i":%d}}}`, i))}}
	}
	test, err := engine.NewTest(&engine.Mocks{Tasks: mocks})
	if err != nil {
		t.Fatal(err)
	}
	return def, test
}

// A test run's loop that takes a mock in each iteration commits about as
// many bytes per iteration at 1 000 iterations as at 10 (how far each
// mock got is appended to the run's log, not rewritten with every write).
func TestMockedLoopPersistsFlatBytesPerIteration(t *testing.T) {
	perIter := map[int]float64{}
	var line []string
	for _, n := range []int{10, 1000} {
		rs := &sizingStore{Store: runstore.NewMemory()}
		e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()))
		if err != nil {
			t.Fatal(err)
		}
		def, test := mockedLoop(t, n)
		d, err := e.Parse([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Start(context.Background(), d, json.RawMessage(`{}`), engine.AsTest(test))
		if err != nil || res.Status != engine.StatusCompleted || string(res.Output) != fmt.Sprintf(`{"n":%d}`, n) {
			t.Fatalf("run: %v %+v", err, res)
		}
		total := 0
		for _, s := range rs.committed() {
			total += s
		}
		perIter[n] = float64(total) / float64(n)
		line = append(line, fmt.Sprintf("%d iterations: %.0f B/iteration", n, perIter[n]))
	}
	t.Log(strings.Join(line, ", "))
	if perIter[1000] > 2*perIter[10] {
		t.Fatalf("bytes committed per iteration grow with the loop: %s", strings.Join(line, ", "))
	}
}
