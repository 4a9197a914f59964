package engine

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// parseDuration and parseUntil read WAIT's inputs. They accept Go durations
// ("10m20s"), Conductor's spelled-out form ("2 hours 30 minutes",
// "30 seconds") and days ("1d"). The tasks package exports the same parsers
// (ParseDuration/ParseUntil); these stay local so the engine's validation does
// not depend on leaf-task internals.
var durationPart = regexp.MustCompile(`(?i)^\s*(\d+)\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\s*,?\s*`)

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("negative duration")
		}
		return d, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		m := durationPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("cannot read %q (want e.g. 10m20s, \"2 hours 30 minutes\", 1d)", rest)
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return 0, err
		}
		unit := strings.ToLower(m[2])
		var u time.Duration
		switch {
		case unit[0] == 'd':
			u = 24 * time.Hour
		case unit[0] == 'h':
			u = time.Hour
		case unit[0] == 'm':
			u = time.Minute
		default:
			u = time.Second
		}
		total += time.Duration(n) * u
		rest = rest[len(m[0]):]
	}
	return total, nil
}

var untilLayouts = []string{"2006-01-02 15:04 MST", "2006-01-02 15:04 -0700", "2006-01-02 15:04", "2006-01-02", time.RFC3339}

func parseUntil(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range untilLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want yyyy-MM-dd HH:mm z, yyyy-MM-dd HH:mm or yyyy-MM-dd")
}
