package bolt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/bolt"
	"github.com/wfrun/wfrun/store/seal"
)

func Example() {
	home, _ := os.MkdirTemp("", "wfrun-example")
	defer os.RemoveAll(home)
	ring, err := seal.LoadKeyringEnv(home, func(string) string { return "" }) // creates master.key
	if err != nil {
		panic(err)
	}
	s, err := bolt.Open(filepath.Join(home, bolt.FileName), ring)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	_, _ = s.Put(ctx, &store.Secret{Name: "api_token", Value: json.RawMessage(`"s3cr3t"`)})
	_, _ = s.Put(ctx, &store.Secret{Name: "api_token", Value: json.RawMessage(`"r0tated"`)})
	h, _ := s.History(ctx, "api_token", 2)
	fmt.Println(h[0].Version, string(h[0].Value), h[1].Version, string(h[1].Value))
	// Output: 2 "r0tated" 1 "s3cr3t"
}
