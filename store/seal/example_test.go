package seal_test

import (
	"bytes"
	"fmt"

	"github.com/wfrun/wfrun/store/seal"
)

func Example() {
	ring, err := seal.NewKeyring(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		panic(err)
	}
	c, _ := ring.Seal([]byte(`"s3cr3t"`), []byte("api-token@1"))
	pt, _ := ring.Open(c, []byte("api-token@1"))
	fmt.Println(string(pt))
	_, err = ring.Open(c, []byte("other-secret@1"))
	fmt.Println(err)
	// Output:
	// "s3cr3t"
	// seal: decryption failed (wrong master key, or ciphertext moved or tampered with)
}
