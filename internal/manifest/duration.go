package manifest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Day is 24 hours. Durations in manifests and schedules are elapsed time, so
// "1d" is always 24 h, even across a DST change.
const Day = 24 * time.Hour

// MaxDuration is the largest duration any manifest, plan or schedule field
// accepts. It keeps later arithmetic (deadline = now + timeout + grace) far
// from overflow.
const MaxDuration = 365 * Day

var durationUnits = []struct {
	name string
	d    time.Duration
}{
	// Longest names first so "ms" is not read as "m" + garbage.
	{"ms", time.Millisecond},
	{"us", time.Microsecond},
	{"µs", time.Microsecond},
	{"ns", time.Nanosecond},
	{"d", Day},
	{"h", time.Hour},
	{"m", time.Minute},
	{"s", time.Second},
}

// ParseDuration parses a duration such as "30s", "10m", "1h30m", "1d",
// "2d12h", "1.5h" or "500ms". Components may be separated by spaces
// ("1h 30m"). A bare "0" is zero. Negative values, missing units and values
// above MaxDuration are errors (never a panic or a silent wrap-around).
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if s[0] == '-' {
		return 0, fmt.Errorf("duration %q must not be negative", orig)
	}
	if s[0] == '+' {
		s = s[1:]
	}
	if s == "0" {
		return 0, nil
	}
	var total float64
	for s != "" {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		// number: digits with an optional fraction
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		num := s[:i]
		if num == "" || strings.Count(num, ".") > 1 || num == "." {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 10m, 1h30m, 1d)", orig)
		}
		if len(num) > 30 {
			return 0, fmt.Errorf("duration %q is too large", orig)
		}
		s = s[i:]
		var unit time.Duration
		for _, u := range durationUnits {
			if strings.HasPrefix(s, u.name) {
				unit = u.d
				s = s[len(u.name):]
				break
			}
		}
		if unit == 0 {
			return 0, fmt.Errorf("invalid duration %q: missing or unknown unit after %s (use s, m, h or d; ms, us, ns also work)", orig, num)
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("invalid duration %q", orig)
		}
		total += v * float64(unit)
		if total > float64(MaxDuration) {
			return 0, fmt.Errorf("duration %q is longer than the maximum of %s", orig, FormatDuration(MaxDuration))
		}
	}
	return time.Duration(math.Round(total)), nil
}

// FormatDuration renders d in the syntax ParseDuration reads, using days
// for whole days: 36h → "1d12h", 90s → "1m30s".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		if d == math.MinInt64 {
			return d.String()
		}
		d = -d
	}
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"d", Day}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if d > 0 {
		fmt.Fprintf(&b, "%dns", int64(d))
	}
	return b.String()
}
