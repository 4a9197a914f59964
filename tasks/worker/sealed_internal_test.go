package worker

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
)

func testRing(t *testing.T) *seal.Keyring {
	t.Helper()
	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func testRun(t *testing.T, ring *seal.Keyring) *runsecrets.Run {
	t.Helper()
	rs, err := runsecrets.New("wf-1/task-1", store.NewRunView(memory.New(), store.LocalPrincipal, "", ""), ring)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// An answer's `_secrets` leaves go out sealed for their run (strings,
// numbers, booleans; null stays null), everything else masked; a later
// task of the same run opens them — whole, keeping their JSON type, or
// inside text — and registers each value.
func TestSealedLeavesRoundTrip(t *testing.T) {
	const tok = "tok-Sealed-Rq58Xv31Lp"
	ring := testRing(t)
	out := `{"_secrets":{"token":"` + tok + `","n":9123456789012345678,"ok":true,"none":null,"list":["item-Aa11Bb22"]},"copy":"seen ` + tok + `","plain":"x"}`
	answer, err := clean(testRun(t, ring), ring, "wf-1", json.RawMessage(out))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(answer), tok) || strings.Contains(string(answer), "91234567") || strings.Contains(string(answer), "item-Aa11") {
		t.Fatalf("answer holds a value: %s", answer)
	}
	if !strings.Contains(string(answer), `"copy":"seen ***"`) || !strings.Contains(string(answer), `"none":null`) || strings.Count(string(answer), sealedPrefix) != 4 {
		t.Fatalf("answer: %s", answer)
	}
	var a struct {
		Secrets struct {
			Token, N, OK string
			List         []string
		} `json:"_secrets"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		t.Fatal(err)
	}
	// The server hands them to the next task: whole and in text.
	in := map[string]any{"auth": "Bearer " + a.Secrets.Token + "!", "n": a.Secrets.N, "ok": a.Secrets.OK, "item": a.Secrets.List[0],
		"nested": []any{map[string]any{"v": a.Secrets.Token}}}
	next := testRun(t, ring)
	opened, err := openSealed(ring, "wf-1", in, "inputData", next.RegisterValues)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(opened)
	if want := `{"auth":"Bearer ` + tok + `!","item":"item-Aa11Bb22","n":9123456789012345678,"nested":[{"v":"` + tok + `"}],"ok":true}`; string(got) != want {
		t.Errorf("opened %s\nwant   %s", got, want)
	}
	if m := next.Masker().MaskString("x " + tok + " item-Aa11Bb22"); m != "x *** ***" {
		t.Errorf("the opened values are not registered: %q", m)
	}
}

// A sealed leaf opens only in its own run, with the key that sealed it, as
// sealed; otherwise the task fails naming where, never quoting it.
func TestSealedLeafRefused(t *testing.T) {
	ring := testRing(t)
	answer, err := clean(testRun(t, ring), ring, "wf-1", json.RawMessage(`{"_secrets":{"k":"value-Zz90Yy81"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		S struct{ K string } `json:"_secrets"`
	}
	_ = json.Unmarshal(answer, &a)
	sealed := a.S.K
	flip := []byte(sealed)
	flip[len(flip)-3] ^= 1
	if flip[len(flip)-3] == '`' || !isBase64URL(flip[len(flip)-3]) {
		flip[len(flip)-3] = 'A'
	}
	for name, tc := range map[string]struct {
		ring *seal.Keyring
		wf   string
		v    string
		want string
	}{
		"another run":     {ring, "wf-2", sealed, "sealed for another run, or altered"},
		"altered":         {ring, "wf-1", string(flip), "sealed for another run, or altered"},
		"another key":     {testRing(t), "wf-1", sealed, "sealed with another key"},
		"no key":          {nil, "wf-1", sealed, "this worker has no key to open it"},
		"not base64":      {ring, "wf-1", sealedPrefix + "!!", "not a sealed value"},
		"empty after tag": {ring, "wf-1", "x " + sealedPrefix, "not a sealed value"},
	} {
		_, err := openSealed(tc.ring, tc.wf, map[string]any{"h": tc.v}, "inputData", func(...string) {})
		if !errors.Is(err, errSealed) || !strings.Contains(err.Error(), "inputData.h: ") || !strings.Contains(err.Error(), tc.want) ||
			strings.Contains(err.Error(), sealed[len(sealedPrefix):len(sealedPrefix)+12]) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Without a key the leaves are left out, as before; a placeholder that
// masking altered (a registered value inside it) is left out too, never
// sent as text.
func TestSealedLeavesWithoutKeyOrAltered(t *testing.T) {
	ring := testRing(t)
	answer, err := clean(testRun(t, ring), nil, "wf-1", json.RawMessage(`{"_secrets":{"k":"value-Zz90Yy81"},"a":1}`))
	if err != nil || string(answer) != `{"a":1}` {
		t.Errorf("no key: %s %v", answer, err)
	}
	rs := testRun(t, ring)
	rs.RegisterValues("sealed-slot")
	answer, err = clean(rs, ring, "wf-1", json.RawMessage(`{"_secrets":{"k":"value-Zz90Yy81"},"a":1}`))
	if err != nil || strings.Contains(string(answer), "value-Zz90") || strings.Contains(string(answer), "slot") || !strings.Contains(string(answer), `"k":null`) {
		t.Errorf("altered placeholder: %s %v", answer, err)
	}
}

// fillSlots puts each leaf in its own placeholder's place, telling slot 1
// from slot 10; a placeholder found twice or not at all (masking altered
// it) leaves its leaf out, and only that one.
func TestFillSlots(t *testing.T) {
	ring := testRing(t)
	leaves := make([][]byte, 12)
	var doc strings.Builder
	doc.WriteString(`{"_secrets":{`)
	for i := range leaves {
		leaves[i] = []byte(`"leaf-value-` + strings.Repeat("x", i) + `"`)
		if i > 0 {
			doc.WriteString(",")
		}
		slot := sealSlot(i)
		switch i {
		case 3:
			slot = "***" // masking altered it
		case 5:
			slot = sealSlot(7) // 7 twice
		}
		doc.WriteString(`"k` + strings.Repeat("0", i) + `":"` + slot + `"`)
	}
	doc.WriteString(`},"text":"` + sealSlot(1) + `0 is not a slot"}`)
	out, err := fillSlots(ring, "wf-1", []byte(doc.String()), leaves)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Secrets map[string]any `json:"_secrets"`
		Text    string         `json:"text"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i := range leaves {
		got, _ := v.Secrets["k"+strings.Repeat("0", i)].(string)
		switch i {
		case 3, 5, 7:
			if got != "" {
				t.Errorf("leaf %d: %q, want it left out", i, got)
			}
			continue
		}
		b, err := openLeaf(ring, "wf-1", strings.TrimPrefix(got, sealedPrefix))
		if err != nil || string(b) != string(leaves[i]) {
			t.Errorf("leaf %d: opens to %s (%v), want %s", i, b, err, leaves[i])
		}
	}
	if v.Text != sealSlot(1)+"0 is not a slot" {
		t.Errorf("text outside _secrets changed: %q", v.Text)
	}
}

// BenchmarkFillSlots: an answer of about 64 KB with k `_secrets` leaves;
// the time per byte stays flat as k grows (one pass over the answer).
func BenchmarkFillSlots(b *testing.B) {
	ring, err := seal.NewKeyring(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range []int{1, 16, 256} {
		leaves := make([][]byte, k)
		var doc strings.Builder
		doc.WriteString(`{"body":"` + strings.Repeat("x", 64<<10) + `","_secrets":{`)
		for i := range leaves {
			leaves[i] = []byte(`"v"`)
			if i > 0 {
				doc.WriteString(",")
			}
			doc.WriteString(`"k` + strconv.Itoa(i) + `":"` + sealSlot(i) + `"`)
		}
		doc.WriteString(`}}`)
		masked := []byte(doc.String())
		b.Run("leaves="+strconv.Itoa(k), func(b *testing.B) {
			b.SetBytes(int64(len(masked)))
			for range b.N {
				if _, err := fillSlots(ring, "wf-1", masked, leaves); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
