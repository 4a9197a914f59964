package runsecrets_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// An attestation verifies for its run, place and bytes only, whether made
// by Attest or appended by AppendAttest to a buffer that holds the
// attested bytes themselves (as a task record's seal is appended to the
// record), and the appended text is Attest's form.
func TestAttestationsVerifyForTheirRunPlaceAndBytesOnly(t *testing.T) {
	ring, err := seal.NewKeyring(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	run := func(id string) *runsecrets.Run {
		r, err := runsecrets.New(id, nil, ring)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := run("run-a"), run("run-b")
	data := []byte(`{"taskId":"t","status":"COMPLETED","outputData":{"k":"` + strings.Repeat("v", 5000) + `"}`)
	text, err := a.Attest("/tasks/1/recordSeal", data)
	if err != nil || !strings.HasPrefix(text, runsecrets.AttestPrefix) {
		t.Fatalf("Attest = %q, %v", text, err)
	}
	buf := append([]byte(nil), data...)
	n := len(buf)
	buf, err = a.AppendAttest(append(buf, ','), "/tasks/1/recordSeal", buf[:n])
	if err != nil || !bytes.Equal(buf[:n+1], append(append([]byte(nil), data...), ',')) {
		t.Fatalf("AppendAttest changed what it appended to: %v", err)
	}
	appended := string(buf[n+1:])
	if !strings.HasPrefix(appended, runsecrets.AttestPrefix) || len(appended) != len(text) {
		t.Fatalf("appended %q, Attest gives %q", appended, text)
	}
	for _, att := range []string{text, appended} {
		if err := a.Verify(att, "/tasks/1/recordSeal", data); err != nil {
			t.Fatalf("verify: %v", err)
		}
		for name, check := range map[string]func() error{
			"another run":   func() error { return b.Verify(att, "/tasks/1/recordSeal", data) },
			"another place": func() error { return a.Verify(att, "/tasks/2/recordSeal", data) },
			"other bytes": func() error {
				return a.Verify(att, "/tasks/1/recordSeal", bytes.Replace(data, []byte("COMPLETED"), []byte("FAILED"), 1))
			},
		} {
			if err := check(); !errors.Is(err, runsecrets.ErrSealed) {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}
