package runsecrets

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store/seal"
)

func testRing(t testing.TB) *seal.Keyring {
	t.Helper()
	k, err := seal.NewKeyring(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestProtectSkipsTheWalkOnlyWhenNothingIsMasked checks protect's shortcut
// (and ProtectResolved's, which skips the validation)
// for task outputs without registered values against MaskJSON itself: same
// result for every document, the input slice itself when nothing matched,
// and secrets found however the document spells them.
func TestProtectSkipsTheWalkOnlyWhenNothingIsMasked(t *testing.T) {
	const secret = "tok-9f8e7d6c5b4a"
	for _, registered := range []bool{false, true} {
		r, err := New("run-1", nil, testRing(t))
		if err != nil {
			t.Fatal(err)
		}
		m := r.Masker()
		if registered {
			r.Register(secret)
		}
		for _, tc := range []struct {
			doc     string
			changed bool // with the secret registered
		}{
			{`{"response":{"statusCode":200,"body":{"id":42,"tags":["a","b"]}}}`, false},
			{`{"a":"Bearer tok-9f8e7d6c5b4a"}`, true},
			{`{"a":"\u0074ok-9f8e7d6c5b4a"}`, true},          // escaped: only the walk decodes it
			{`{"a":"tok-9f8e7d6c5b4\u0061","b":"\n"}`, true}, // escape at the end
			{`{"a":"no secret here\n\t\"quoted\""}`, false},  // escapes, no secret
			{`{"tok-9f8e7d6c5b4a":1}`, true},                 // a key
			{`["tok-9f8e7d6c5b4a"]`, true},                   // an array
			{`{"a":"tok-9f8e7d6c5b4"}`, false},               // a prefix only
			{`{"a":`, false},                                 // invalid: MaskJSON's error
			{`{"a":"x"} {"b":"tok-9f8e7d6c5b4a"}`, false},    // invalid, with the secret
			{`{"a":"x"}` + "\x00", false},                    // invalid trailing byte
			{`{"a":"héllo wörld, tok-9f8e7d6c5b4a!"}`, true}, // UTF-8 around it
		} {
			data := []byte(tc.doc)
			mem, stored, err := r.Protect(data, "/tasks/t1/outputData")
			want, wantErr := m.MaskJSON(data)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("registered=%v %s: err %v, MaskJSON err %v", registered, tc.doc, err, wantErr)
			}
			if err != nil {
				if !errors.Is(err, masking.ErrInvalidJSON) {
					t.Fatalf("%s: %v is not ErrInvalidJSON", tc.doc, err)
				}
				continue
			}
			if !bytes.Equal(mem, want) || !bytes.Equal(stored, want) {
				t.Fatalf("registered=%v %s: mem %s stored %s, want %s", registered, tc.doc, mem, stored, want)
			}
			// A resolved template's output (valid) is protected alike.
			if rm, rs, err := r.ProtectResolved(data, "/tasks/t1/inputData"); err != nil || !bytes.Equal(rm, want) || !bytes.Equal(rs, want) {
				t.Fatalf("registered=%v %s: ProtectResolved %s %s %v, want %s", registered, tc.doc, rm, rs, err, want)
			}
			changed := !bytes.Equal(mem, data)
			if changed != (registered && tc.changed) {
				t.Fatalf("registered=%v %s: changed=%v (%s)", registered, tc.doc, changed, mem)
			}
			if changed && bytes.Contains(mem, []byte(secret)) {
				t.Fatalf("%s: secret left in %s", tc.doc, mem)
			}
			if !changed && &mem[0] != &data[0] {
				t.Fatalf("%s: unchanged output was copied", tc.doc)
			}
		}
	}
}

// TestRemaskStoredMembers: Remask keeps a form's sealed members as they
// are, even when a registered value occurs in their base64, and masks
// whole a form with a `_secrets` member that is not sealed (never one
// Protect wrote): the plain member's value is masked too.
func TestRemaskStoredMembers(t *testing.T) {
	const ptr = "/tasks/t1/outputData"
	r, err := New("run-1", nil, testRing(t))
	if err != nil {
		t.Fatal(err)
	}
	_, stored, err := r.Protect([]byte(`{"_secrets":{"tok":"abcdefghij-secret"},"x":"y"}`), ptr)
	if err != nil {
		t.Fatal(err)
	}
	sealed := string(stored[len(`{"_secrets":"`) : bytes.IndexByte(stored[len(`{"_secrets":"`):], '"')+len(`{"_secrets":"`)])
	if !bytes.HasPrefix([]byte(sealed), []byte(SealedPrefix)) {
		t.Fatalf("stored %s: no sealed member", stored)
	}
	piece := sealed[len(SealedPrefix)+8 : len(SealedPrefix)+16]
	r.Register(piece)
	r.Register("plain-value-1234")
	tests := []struct {
		name, form string
		keeps      bool // the sealed member stays whole
	}{
		{"sealed members only", string(stored), true},
		{"a member not sealed", strings.Replace(string(stored), `"x":"y"`, `"x":{"_secrets":{"p":"plain-value-1234"}}`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := string(r.Remask([]byte(tt.form), ptr))
			if got := strings.Contains(out, sealed); got != tt.keeps {
				t.Fatalf("sealed member kept: %v, want %v: %s", got, tt.keeps, out)
			}
			if strings.Contains(out, "plain-value-1234") {
				t.Fatalf("a registered value left in %s", out)
			}
		})
	}
}
