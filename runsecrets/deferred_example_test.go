package runsecrets_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// A task handed to a remote worker: its input is stored when the task is
// scheduled, and its secret references resolve (and register with the
// run's masker) only when a worker takes it.
func ExampleRun_ResolveDeferred() {
	ring, _ := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	secrets := interpolate.MapSecrets{"api_token": json.RawMessage(`"tok-old-5c1e9a"`)}
	run, err := runsecrets.New("run-1", secrets, ring)
	if err != nil {
		panic(err)
	}
	tpl := interpolate.MustCompile([]byte(`{"auth":"Bearer ${workflow.secrets.api_token}"}`))
	env, _ := interpolate.NewDocEnv([]byte(`{"workflow":{}}`))
	later, err := run.ResolveLater(context.Background(), tpl, env)
	if err != nil {
		panic(err)
	}
	fmt.Println("stored:", string(later.Doc))
	secrets["api_token"] = json.RawMessage(`"tok-new-8d2f4b"`) // rotated while the task waits
	input, err := run.ResolveDeferred(context.Background(), later)
	fmt.Println("worker gets:", string(input), err)
	fmt.Println("its echo:", run.Text("called with tok-new-8d2f4b"))
	// Output:
	// stored: {"auth":"Bearer ${workflow.secrets.api_token}"}
	// worker gets: {"auth":"Bearer tok-new-8d2f4b"} <nil>
	// its echo: called with ***
}
