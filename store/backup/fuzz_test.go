package backup_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wfrun/wfrun/store/backup"
)

// Whatever a file holds, Open answers with one of its errors or the
// contents, and never panics.
func FuzzOpen(f *testing.F) {
	r, _ := ring(f)
	byKey, err := backup.SealWithKeyring(secrets, r, time.Unix(0, 0))
	if err != nil {
		f.Fatal(err)
	}
	byPass, err := backup.SealWithPassphrase(secrets, []byte("a long enough passphrase"), time.Unix(0, 0))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(byKey)
	f.Add(byPass)
	f.Add([]byte(`{"format":"wfrun-secrets-export","version":1,"sealedWith":"passphrase","kdf":{"name":"pbkdf2-sha256","iterations":100000,"salt":""},"data":""}`))
	f.Add([]byte(`{"format":"wfrun-secrets-export","version":1,"sealedWith":"master-key","data":"AA=="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := backup.Open(data, r, passphrase("a long enough passphrase"))
		switch {
		case err == nil:
			if c == nil {
				t.Fatal("no error and no contents")
			}
		case errors.Is(err, backup.ErrFormat), errors.Is(err, backup.ErrOpen), errors.Is(err, backup.ErrNeedPassphrase):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
