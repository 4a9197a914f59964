package runsecrets_test

import (
	"context"
	"testing"

	"github.com/wfrun/wfrun/interpolate"
)

// A JSON secret read by name (a task's code, HTTP auth, a resumed run)
// whose code or HTTP response echoes only a number field of it stores that
// number as "***", in a string and as a bare JSON number, as written and as
// programs print the nearest double; a 3-digit field and a boolean are left
// as they are. (A template that substitutes the whole secret already
// registers each leaf it used, numbers too: usedValues.)
func TestJSONSecretNumberFieldMaskedInOutput(t *testing.T) {
	const (
		secret = `{"user":"svc-reader","pin":48213907,"acct":12345678901234567890,"port":443,"tls":true}`
		output = `{"pin":48213907,"acct":12345678901234567890,"acct_js":12345678901234567000,"log":"pin 48213907 acct 1.2345678901234567e+19","port":443,"tls":true}`
		want   = `{"pin":"***","acct":"***","acct_js":"***","log":"pin *** acct ***","port":443,"tls":true}`
	)
	ctx := context.Background()
	src := interpolate.MapSecrets{"db": []byte(secret)}
	doors := map[string]func(t *testing.T) string{
		"Secret": func(t *testing.T) string {
			r := newRun(t, "r", src)
			if _, err := r.Secret(ctx, "db"); err != nil {
				t.Fatal(err)
			}
			_, stored, err := r.Protect([]byte(output), "/tasks/t/outputData")
			if err != nil {
				t.Fatal(err)
			}
			return string(stored)
		},
		"Reread": func(t *testing.T) string {
			r := newRun(t, "r", src)
			r.Reread(ctx, []string{"db"})
			_, stored, err := r.Protect([]byte(output), "/tasks/t/outputData")
			if err != nil {
				t.Fatal(err)
			}
			return string(stored)
		},
	}
	for name, door := range doors {
		t.Run(name, func(t *testing.T) {
			if got := door(t); got != want {
				t.Fatalf("stored %s, want %s", got, want)
			}
		})
	}
}
