package tasks

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The default client's dialer gets each task's connectionTimeOut (a client
// of the embedder's: TestHTTPTimeoutsWithTheEmbeddersClient).
func TestConnectTimeoutReachesTheDefaultDialer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{}`)) }))
	defer srv.Close()
	task := &HTTPTask{opts: buildOptions(nil)}
	tr := task.opts.client.Transport.(*http.Transport)
	dial := tr.DialContext
	var got []time.Duration
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d, _ := ctx.Value(connectTimeoutKey{}).(time.Duration)
		got = append(got, d)
		return dial(ctx, network, addr)
	}
	defer tr.CloseIdleConnections()
	in := []byte(`{"uri":"` + srv.URL + `","method":"GET","connectionTimeOut":1234}`)
	if res := task.Execute(context.Background(), &Request{TaskType: TypeHTTP, Input: in}); res.Status != Completed {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
	if len(got) != 1 || got[0] != 1234*time.Millisecond {
		t.Fatalf("dialer saw %v, want [1.234s]", got)
	}
	own := &http.Client{Transport: &http.Transport{}}
	defer own.CloseIdleConnections()
	if res := task.Execute(context.Background(), &Request{TaskType: TypeHTTP, Input: in, Services: &Services{HTTPClient: own}}); res.Status != Completed {
		t.Fatalf("%s %s", res.Status, res.Reason)
	}
}
