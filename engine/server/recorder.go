package server

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// recorder is the ResponseWriter of a handler the server calls itself (an
// event handler's action, one id of a bulk request): it keeps what the
// handler answered.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (c *recorder) Header() http.Header { return c.header }

func (c *recorder) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (c *recorder) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(b)
}

// code is the status the handler answered (200 when it wrote none).
func (c *recorder) code() int {
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}

// answerMessage is the message of a Conductor error answer (its JSON
// "message"); "" when body carries none.
// answerRetryable reports whether an error answer's ErrorResponse says
// the request may succeed if sent again (retryable); an answer without it
// may.
func answerRetryable(body []byte) bool {
	var e struct {
		Retryable *bool `json:"retryable"`
	}
	if json.Unmarshal(body, &e) != nil || e.Retryable == nil {
		return true
	}
	return *e.Retryable
}

func answerMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Message
}
