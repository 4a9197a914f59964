package server_test

import (
	"strings"
	"testing"
)

// TestMetricsMethodLabel: a request's method is the client's text (any
// HTTP token): /metrics labels requests with the standard methods only,
// so a method is no way to put a value the server knows as a secret into
// a metric label, which no masker passes over, nor to grow /metrics with
// a series per method a client makes up. The request log masks it.
func TestMetricsMethodLabel(t *testing.T) {
	ts := newTestServer(t)
	const value = "MetricsLabelSECRETvalue0815"
	if st, _, body := ts.do(t, "PUT", "/api/secrets/label_secret", value); st != 200 {
		t.Fatalf("PUT secret: %d %s", st, body)
	}
	for i := 0; i < 3; i++ {
		if st, _, _ := ts.do(t, value, "/api/secrets/label_secret", ""); st < 400 {
			t.Fatalf("method %s: %d", value, st)
		}
	}
	if st, _, _ := ts.do(t, "BREW", "/healthz", ""); st < 400 {
		t.Fatalf("method BREW: %d", st)
	}
	st, _, metrics := ts.do(t, "GET", "/metrics", "")
	if st != 200 {
		t.Fatalf("/metrics: %d", st)
	}
	if strings.Contains(metrics, value) || strings.Contains(metrics, "SECRET") {
		t.Errorf("/metrics holds the secret value a client sent as a method")
	}
	if strings.Contains(metrics, `method="BREW"`) {
		t.Errorf("/metrics has a series for a made-up method")
	}
	if !strings.Contains(metrics, `method="other"`) || !strings.Contains(metrics, `method="PUT"`) {
		t.Errorf("/metrics lacks the requests by method:\n%s", metrics)
	}
	ts.assertNoLeak(t, value)
}
