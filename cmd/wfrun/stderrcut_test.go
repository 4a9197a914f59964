package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// A failing worker command's stderr is kept for the reason up to 4 KiB;
// beyond that the reason ends with the cut mark, as every text wfrun cuts
// does. A value written across the 4 KiB point is masked before the cut
// (never a piece of it), and a cut inside a UTF-8 sequence drops the rest
// of it rather than keep half a character.
func TestWorkerStderrCutIsMarked(t *testing.T) {
	const secret = "Nf5Gw8Jd3Xs6Bq9Tc2Pk"
	for _, tc := range []struct{ name, stderr string }{
		{"value across the cut", strings.Repeat("x", 4090) + secret + strings.Repeat("y", 300)},
		{"character across the cut", strings.Repeat("x", 4095) + "é" + strings.Repeat("y", 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring, err := seal.NewKeyring(bytes.Repeat([]byte{7}, 32))
			if err != nil {
				t.Fatal(err)
			}
			sec, err := runsecrets.New("w", nil, ring)
			if err != nil {
				t.Fatal(err)
			}
			sec.RegisterValues(secret)
			ctx := runsecrets.NewContext(context.Background(), sec)
			_, err = commandWorker(`printf '%s' "$(cat)" >&2; exit 3`, nil)(ctx, []byte(tc.stderr))
			if err == nil {
				t.Fatal("the command failed, the worker did not")
			}
			reason := err.Error()
			if !strings.HasSuffix(reason, masking.CutMark) || !utf8.ValidString(reason) {
				t.Fatalf("reason (%d bytes) does not end with the cut mark, or is not UTF-8: …%q", len(reason), reason[max(len(reason)-40, 0):])
			}
			if len(reason) > 4096+100 {
				t.Fatalf("reason kept more than 4 KiB of stderr (%d bytes)", len(reason))
			}
			noPiece(t, "reason", reason, secret)
		})
	}
}

// A stderr within 4 KiB is kept whole, with no mark.
func TestWorkerStderrUncutHasNoMark(t *testing.T) {
	_, err := commandWorker(`printf 'short failure' >&2; exit 3`, nil)(context.Background(), []byte("{}"))
	if err == nil || !strings.HasSuffix(err.Error(), ": short failure") {
		t.Fatalf("reason: %v", err)
	}
}
