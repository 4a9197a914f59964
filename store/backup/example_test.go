package backup_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/backup"
	"github.com/wfrun/wfrun/store/seal"
)

// A backup sealed under the master key opens with a keyring holding that
// key, here after a rotation made it a previous key.
func ExampleSealWithKeyring() {
	old, _ := seal.GenerateKey()
	ring, _ := seal.NewKeyring(old)
	secrets := []*store.Secret{{Name: "api_token", Value: json.RawMessage(`"tok-123456"`), Version: 4}}
	data, _ := backup.SealWithKeyring(secrets, ring, time.Now())

	next, _ := seal.GenerateKey()
	rotated, _ := seal.NewKeyring(next, seal.WithPreviousKeys(old))
	c, err := backup.Open(data, rotated, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.SealedWith, c.Secrets[0].Name, c.Secrets[0].Version)
	// Output: master-key api_token 4
}
