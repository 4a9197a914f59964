package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/tasks"
)

// errRedirectElsewhere refuses a redirect from the Conductor server to
// another origin.
var errRedirectElsewhere = errors.New("redirect to another scheme, host or port refused: the worker's key secret and token go to its --server only")

// sameOriginRedirect is the worker's own client's redirect rule: a server
// may redirect within its origin, never elsewhere. Go's client drops
// Authorization on such a hop but keeps X-Authorization, and a 307/308
// resends POST /api/token's body, the key secret: neither may reach
// another host.
func sameOriginRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	from := via[0].URL
	if req.URL.Scheme != from.Scheme || req.URL.Host != from.Host {
		return errRedirectElsewhere
	}
	return nil
}

// tokenSource holds the X-Authorization token, as the Orkes SDKs do: a key
// id and secret are exchanged at POST /api/token; a 404 there means a
// server without auth (Conductor OSS).
type tokenSource struct {
	w     *Worker
	mu    sync.Mutex
	token string
	off   bool
}

func (a *tokenSource) init(ctx context.Context) error {
	if a.w.cfg.KeyID == "" {
		a.off = true
		return nil
	}
	_, err := a.refresh(ctx)
	return err
}

func (a *tokenSource) get() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.token
}

func (a *tokenSource) refresh(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"keyId": a.w.cfg.KeyID, "keySecret": a.w.cfg.KeySecret})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.w.base+"/token", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.w.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST /api/token: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		a.off = true
		a.w.log.Info("server has no /api/token: polling without auth")
		return "", nil
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("%w: POST /api/token answered %d", ErrAuth, resp.StatusCode)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.Token == "" {
		return "", fmt.Errorf("%w: POST /api/token gave no token", ErrAuth)
	}
	a.token = tok.Token
	return tok.Token, nil
}

// do sends one API request; a 401 refreshes the token once and retries.
func (w *Worker) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, w.base+path, rd)
		if err != nil {
			return 0, nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if tok := w.auth.get(); tok != "" {
			req.Header.Set("X-Authorization", tok)
		}
		resp, err := w.client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return 0, nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && w.cfg.KeyID != "" {
			if _, err := w.auth.refresh(ctx); err != nil {
				return 0, nil, err
			}
			continue
		}
		return resp.StatusCode, b, nil
	}
}

// poll asks for up to count tasks of name with a long poll.
func (w *Worker) poll(ctx context.Context, name string, count int) ([]polledTask, error) {
	q := url.Values{}
	q.Set("workerid", w.cfg.WorkerID)
	if w.cfg.Domain != "" {
		q.Set("domain", w.cfg.Domain)
	}
	q.Set("count", strconv.Itoa(count))
	q.Set("timeout", strconv.FormatInt(w.cfg.PollTimeout.Milliseconds(), 10))
	st, body, err := w.do(ctx, http.MethodGet, "/tasks/poll/batch/"+url.PathEscape(name)+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if st == http.StatusNoContent || len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("poll %s: server answered %d", name, st)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("poll %s: the answer is not a task list", name)
	}
	// One task at a time: a task whose fields do not decode is answered
	// (failed, naming the field), not dropped with the others.
	got := make([]polledTask, 0, len(list))
	for i, raw := range list {
		var t polledTask
		if err := json.Unmarshal(raw, &t); err != nil {
			var id struct {
				TaskID             string `json:"taskId"`
				WorkflowInstanceID string `json:"workflowInstanceId"`
				TaskDefName        string `json:"taskDefName"`
			}
			if json.Unmarshal(raw, &id) != nil || id.TaskID == "" {
				w.log.Warn("polled task without a taskId: not run, not answered", "task", name, "index", i)
				continue
			}
			t = polledTask{TaskID: id.TaskID, WorkflowInstanceID: id.WorkflowInstanceID, TaskDefName: id.TaskDefName,
				malformed: fieldError(err)}
		}
		got = append(got, t)
	}
	return got, nil
}

// fieldError says which field of a polled task did not decode, and as
// what, never the value it holds.
func fieldError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("polled task: field %s is a JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return "polled task: not a Conductor task object"
}

// report sends the task's result (output cleaned: `_secrets` removed,
// everything else masked), retrying briefly on transport errors and 5xx.
func (w *Worker) report(ctx context.Context, t polledTask, rs *runsecrets.Run, res tasks.Result) {
	out := json.RawMessage("{}")
	reason := res.Reason
	if rs != nil {
		cleaned, err := clean(rs, w.cfg.Seal, t.WorkflowInstanceID, res.Output)
		if err != nil {
			res = tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()}
		} else {
			out = cleaned
		}
		reason = rs.Excerpt(res.Reason, 4096)
	}
	status := string(res.Status)
	switch res.Status {
	case tasks.Completed, tasks.Failed, tasks.FailedTerminal:
	default:
		status = string(tasks.FailedTerminal)
	}
	report := func(status string, out any, reason string) ([]byte, error) {
		return json.Marshal(map[string]any{
			"workflowInstanceId": t.WorkflowInstanceID, "taskId": t.TaskID, "workerId": w.cfg.WorkerID,
			"status": status, "outputData": out, "reasonForIncompletion": reason,
		})
	}
	body, err := report(status, out, reason)
	if err != nil {
		// Never an empty body: the task fails, saying why (the error
		// itself may quote the output, and is not sent).
		status = string(tasks.FailedTerminal)
		body, _ = report(status, map[string]any{}, "wfrun worker: the task's output could not be encoded as JSON")
	}
	// The task's own deadline may have passed; the report gets its own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	delay := 200 * time.Millisecond
	for attempt := 0; ; attempt++ {
		st, _, err := w.do(rctx, http.MethodPost, "/tasks", body)
		if err == nil && st < 300 {
			w.log.Info("task done", "task", t.TaskDefName, "taskId", t.TaskID, "workflowId", t.WorkflowInstanceID, "status", status)
			return
		}
		if err == nil && st < 500 {
			// 4xx: the server no longer wants this answer (reassigned, gone).
			w.log.Warn("task result refused", "task", t.TaskDefName, "taskId", t.TaskID, "status", st)
			return
		}
		if attempt == 4 || rctx.Err() != nil {
			msg := fmt.Sprint(st)
			if err != nil {
				msg = err.Error()
			}
			w.log.Error("task result not delivered", "task", t.TaskDefName, "taskId", t.TaskID, "error", msg)
			return
		}
		time.Sleep(delay)
		delay *= 2
	}
}
