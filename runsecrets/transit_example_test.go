package runsecrets_test

import (
	"fmt"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// Two processes sharing a keyring hand a task's resolved input to each
// other through a queue they share: it is sealed there, bound to the
// task's id.
func ExampleTransit() {
	ring, _ := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef")) // the same in both processes
	owner, _ := runsecrets.NewTransit(ring)
	sealed, err := owner.Seal([]byte(`{"token":"tok-3f9a7c21e5b8"}`), "shared queue task", "task-1")
	if err != nil {
		panic(err)
	}

	poller, _ := runsecrets.NewTransit(ring)
	plain, err := poller.Open(sealed, "shared queue task", "task-1")
	fmt.Println(string(plain), err)
	_, err = poller.Open(sealed, "shared queue task", "task-2") // moved to another task
	fmt.Println(err != nil)
	// Output:
	// {"token":"tok-3f9a7c21e5b8"} <nil>
	// true
}
