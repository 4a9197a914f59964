package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/store/memory"
)

// A server over an in-memory store, without auth: the Orkes secrets API
// stores what a client PUTs and answers GET with text/plain.
func ExampleNew() {
	srv, err := server.New(memory.New(), server.WithLogger(nil))
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	req, _ := http.NewRequest("PUT", hs.URL+"/api/secrets/api_key", strings.NewReader(`"example-value"`))
	req.Header.Set("Content-Type", "application/json")
	if _, err := http.DefaultClient.Do(req); err != nil {
		panic(err)
	}
	resp, err := http.Get(hs.URL + "/api/secrets/api_key/exists")
	if err != nil {
		panic(err)
	}
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Header.Get("Content-Type"), string(b))
	// Output: application/json true
}
