package tasks

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ErrBadWaitTime classifies ParseDuration and ParseUntil errors.
var ErrBadWaitTime = errors.New("invalid wait time")

// durationUnits maps the unit spellings WAIT accepts (case-insensitive) to
// their length. Conductor accepts d/h/m/s with long forms; ms is added
// for tests and sub-second waits.
var durationUnits = map[string]time.Duration{
	"ms": time.Millisecond, "msec": time.Millisecond, "msecs": time.Millisecond,
	"millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseDuration parses WAIT's duration: a sequence of number-unit pairs,
// with or without spaces, e.g. "10m20s", "2 hours 30 minutes",
// "30 seconds", "1d", "1 day, 2h", "1.5h". Units: d, h, m, s, ms and their
// long forms (day/days, hour/hours/hr/hrs, minute/minutes/min/mins,
// second/seconds/sec/secs, millisecond(s)); "and" and commas between
// pairs are ignored. Every number needs a unit; the total must be positive
// or zero and fit a time.Duration.
func ParseDuration(s string) (time.Duration, error) {
	src := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty duration", ErrBadWaitTime)
	}
	var total float64
	pairs := 0
	i := 0
	skipSeparators := func() {
		for {
			for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
				i++
			}
			if pairs > 0 && len(s)-i >= 4 && strings.EqualFold(s[i:i+3], "and") && (s[i+3] == ' ' || s[i+3] == '\t') {
				i += 3
				continue
			}
			return
		}
	}
	for {
		skipSeparators()
		if i >= len(s) {
			break
		}
		start := i
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if start == i {
			return 0, fmt.Errorf("%w: %q: expected a number at offset %d", ErrBadWaitTime, src, start)
		}
		n, err := strconv.ParseFloat(s[start:i], 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q: bad number %q", ErrBadWaitTime, src, s[start:i])
		}
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		ustart := i
		for i < len(s) && unicode.IsLetter(rune(s[i])) {
			i++
		}
		unit := strings.ToLower(s[ustart:i])
		d, ok := durationUnits[unit]
		if !ok {
			if unit == "" {
				return 0, fmt.Errorf("%w: %q: number %q has no unit (d, h, m, s)", ErrBadWaitTime, src, s[start:ustart])
			}
			return 0, fmt.Errorf("%w: %q: unknown unit %q", ErrBadWaitTime, src, unit)
		}
		total += n * float64(d)
		pairs++
	}
	if total > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %q is too long", ErrBadWaitTime, src)
	}
	return time.Duration(total), nil
}

// zoneOffsets are the zone abbreviations ParseUntil knows. Go's time.Parse
// invents a zero offset for an abbreviation it does not know, which would
// silently shift a wait by hours; an explicit table fails instead.
var zoneOffsets = map[string]int{
	"UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "WET": 0,
	"WEST": 1, "BST": 1, "CET": 1, "MET": 1,
	"CEST": 2, "MEST": 2, "EET": 2, "SAST": 2,
	"EEST": 3, "MSK": 3,
	"IST": 5*60 + 30, "PKT": 5,
	"ICT": 7, "WIB": 7,
	"SGT": 8, "HKT": 8, "AWST": 8,
	"JST": 9, "KST": 9,
	"ACST": 9*60 + 30, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
	"AST": -4, "ADT": -3, "NST": -(3*60 + 30), "NDT": -(2*60 + 30),
	"EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
	"PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
}

// zoneFor resolves the zone part of an until value: an abbreviation from
// zoneOffsets, an IANA name ("Europe/Paris"), or an offset ("+05:30",
// "-0800", "GMT+5", "UTC-03:00").
func zoneFor(z string) (*time.Location, error) {
	if off, ok := zoneOffsets[strings.ToUpper(z)]; ok {
		secs := off * 3600
		if off > 24 || off < -24 { // stored in minutes
			secs = off * 60
		}
		return time.FixedZone(strings.ToUpper(z), secs), nil
	}
	up := strings.ToUpper(z)
	rest := up
	for _, p := range []string{"GMT", "UTC"} {
		if strings.HasPrefix(up, p) && len(up) > len(p) {
			rest = up[len(p):]
		}
	}
	if rest[0] == '+' || rest[0] == '-' {
		sign := 1
		if rest[0] == '-' {
			sign = -1
		}
		digits := strings.ReplaceAll(rest[1:], ":", "")
		var h, m int
		var err error
		switch len(digits) {
		case 1, 2:
			h, err = strconv.Atoi(digits)
		case 4:
			h, err = strconv.Atoi(digits[:2])
			if err == nil {
				m, err = strconv.Atoi(digits[2:])
			}
		default:
			err = errors.New("bad offset")
		}
		if err != nil || h > 18 || m > 59 {
			return nil, fmt.Errorf("bad zone offset %q", z)
		}
		return time.FixedZone(z, sign*(h*3600+m*60)), nil
	}
	if strings.Contains(z, "/") {
		loc, err := time.LoadLocation(z)
		if err != nil {
			return nil, fmt.Errorf("unknown time zone %q", z)
		}
		return loc, nil
	}
	return nil, fmt.Errorf("unknown time zone %q", z)
}

// ParseUntil parses WAIT's until: "yyyy-MM-dd HH:mm z" (z a zone
// abbreviation such as UTC or PST, an IANA name, or an offset such as
// +05:30 or GMT+5), "yyyy-MM-dd HH:mm" and "yyyy-MM-dd" (midnight), both
// in now's location, or RFC 3339. Seconds ("HH:mm:ss") are accepted too.
func ParseUntil(s string, now time.Time) (time.Time, error) {
	src := s
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: empty until", ErrBadWaitTime)
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	loc := now.Location()
	fields := strings.Fields(s)
	var datePart, timePart, zonePart string
	switch len(fields) {
	case 1:
		datePart = fields[0]
	case 2:
		datePart, timePart = fields[0], fields[1]
	case 3:
		datePart, timePart, zonePart = fields[0], fields[1], fields[2]
	default:
		return time.Time{}, fmt.Errorf("%w: %q: want yyyy-MM-dd HH:mm z", ErrBadWaitTime, src)
	}
	if zonePart != "" {
		z, err := zoneFor(zonePart)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %q: %v", ErrBadWaitTime, src, err)
		}
		loc = z
	}
	layout := "2006-01-02"
	value := datePart
	if timePart != "" {
		value += " " + timePart
		switch strings.Count(timePart, ":") {
		case 1:
			layout += " 15:04"
		case 2:
			layout += " 15:04:05"
		default:
			return time.Time{}, fmt.Errorf("%w: %q: bad time of day %q (want HH:mm)", ErrBadWaitTime, src, timePart)
		}
	}
	t, err := time.ParseInLocation(layout, value, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q: want yyyy-MM-dd HH:mm z", ErrBadWaitTime, src)
	}
	return t, nil
}
