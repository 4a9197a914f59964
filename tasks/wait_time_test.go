package tasks

import (
	"errors"
	"testing"
	"time"
	_ "time/tzdata" // the test needs Europe/Paris on any machine
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"10m20s":                   10*time.Minute + 20*time.Second,
		"2 hours 30 minutes":       2*time.Hour + 30*time.Minute,
		"30 seconds":               30 * time.Second,
		"1d":                       24 * time.Hour,
		"1 day":                    24 * time.Hour,
		"2 days, 3 hrs and 4 mins": 51*time.Hour + 4*time.Minute,
		"1.5h":                     90 * time.Minute,
		"  5 S ":                   5 * time.Second,
		"250ms":                    250 * time.Millisecond,
		"1h1m1s":                   time.Hour + time.Minute + time.Second,
		"0s":                       0,
		"1 hour 1 minute 1 second": time.Hour + time.Minute + time.Second,
		"3 secs":                   3 * time.Second,
	}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "   ", "10", "ten minutes", "5 fortnights", "-5s", "1..2s", "m5", "and 5s", "99999999999999d"} {
		if d, err := ParseDuration(in); !errors.Is(err, ErrBadWaitTime) {
			t.Errorf("ParseDuration(%q) = %v, %v; want an error", in, d, err)
		}
	}
}

func TestParseUntil(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, paris)
	cases := map[string]time.Time{
		"2026-12-25 09:00 UTC":          time.Date(2026, 12, 25, 9, 0, 0, 0, time.UTC),
		"2026-12-25 09:00 PST":          time.Date(2026, 12, 25, 17, 0, 0, 0, time.UTC),
		"2026-12-25 09:00 GMT+5":        time.Date(2026, 12, 25, 4, 0, 0, 0, time.UTC),
		"2026-12-25 09:00 +05:30":       time.Date(2026, 12, 25, 3, 30, 0, 0, time.UTC),
		"2026-12-25 09:00 -0800":        time.Date(2026, 12, 25, 17, 0, 0, 0, time.UTC),
		"2026-12-25 09:00 IST":          time.Date(2026, 12, 25, 3, 30, 0, 0, time.UTC),
		"2026-07-01 09:00 Europe/Paris": time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC),
		"2026-12-25 09:00":              time.Date(2026, 12, 25, 8, 0, 0, 0, time.UTC), // now's zone, CET
		"2026-12-25":                    time.Date(2026, 12, 24, 23, 0, 0, 0, time.UTC),
		"2026-12-25 09:00:30 UTC":       time.Date(2026, 12, 25, 9, 0, 30, 0, time.UTC),
		"2026-12-25T09:00:00Z":          time.Date(2026, 12, 25, 9, 0, 0, 0, time.UTC),
	}
	for in, want := range cases {
		got, err := ParseUntil(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseUntil(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "tomorrow", "2026-13-01", "2026-12-25 25:00", "2026-12-25 09:00 XYZ", "2026-12-25 09:00 Mars/Olympus", "2026-12-25 09:00 +99", "2026-12-25 9 UTC", "a b c d"} {
		if got, err := ParseUntil(in, now); !errors.Is(err, ErrBadWaitTime) {
			t.Errorf("ParseUntil(%q) = %v, %v; want an error", in, got, err)
		}
	}
}
