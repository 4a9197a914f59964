package worker_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/tasks"
)

// A number in the polled input keeps its text: a 19-digit account number
// the server resolved, or one in run input, reaches the destination as
// sent, not as its nearest double.
func TestWorkerKeepsLongNumbers(t *testing.T) {
	var mu sync.Mutex
	var got string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = string(b)
		mu.Unlock()
		_, _ = io.WriteString(w, `{}`)
	}))
	defer target.Close()
	in := `{"uri":"` + target.URL + `","method":"POST","body":{"account":9123456789012345678,"amount":12.50,"note":"$<workflow.secrets.x>"}}`
	def := `{"uri":"` + target.URL + `","method":"POST","body":{"account":"${workflow.input.account}","amount":"${workflow.input.amount}","note":"$<workflow.secrets.x>"}}`
	results := pollOnce(t, map[string]string{"h": tasks.TypeHTTP}, "note-value-Kc82Rt",
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"h","inputData":`+in+`,"workflowTask":{"inputParameters":`+def+`}}`)
	if st := results["t1"]["status"]; st != "COMPLETED" {
		t.Fatalf("%v", results["t1"])
	}
	mu.Lock()
	defer mu.Unlock()
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(got), &body); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	if string(body["account"]) != "9123456789012345678" || !strings.HasPrefix(string(body["amount"]), "12.5") || string(body["note"]) != `"note-value-Kc82Rt"` {
		t.Errorf("the destination got %s", got)
	}
}
