package schedule

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// calSpec is a compiled calendar trigger.
type calSpec struct {
	oneShot bool
	y, d    int
	m       time.Month
	hour    int
	min     int
	any     bool       // no days: every day
	wd      [7]bool    // plain weekdays
	nth     [7][6]bool // nth[weekday][n], n = 1..5
	last    [7]bool    // last <weekday> of the month
}

var (
	hhmmRe = regexp.MustCompile(`^([01]?[0-9]|2[0-3]):([0-5][0-9])$`)
	dateRe = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})[ T]([01]?[0-9]|2[0-3]):([0-5][0-9])$`)
	dayRe  = regexp.MustCompile(`^([a-z]{3})(?:-([a-z]{3})|#([1-5])|(l))?$`)
)

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseCalendar(c Calendar) (*calSpec, error) {
	at := strings.TrimSpace(c.At)
	cs := &calSpec{}
	if at == "" {
		return nil, ferr("when.calendar.at", "is required (\"HH:MM\" or \"YYYY-MM-DD HH:MM\")")
	}
	if m := dateRe.FindStringSubmatch(at); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		cs.hour, _ = strconv.Atoi(m[4])
		cs.min, _ = strconv.Atoi(m[5])
		if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, time.Month(mo)) {
			return nil, ferr("when.calendar.at", "%q is not a valid date", clip(at))
		}
		if len(c.Days) > 0 {
			return nil, ferr("when.calendar.days", "is not allowed with a one-shot date")
		}
		cs.oneShot, cs.y, cs.m, cs.d = true, y, time.Month(mo), d
		return cs, nil
	}
	m := hhmmRe.FindStringSubmatch(at)
	if m == nil {
		return nil, ferr("when.calendar.at", "%q must be \"HH:MM\" (24 h) or \"YYYY-MM-DD HH:MM\"", clip(at))
	}
	cs.hour, _ = strconv.Atoi(m[1])
	cs.min, _ = strconv.Atoi(m[2])
	if len(c.Days) == 0 {
		cs.any = true
		return cs, nil
	}
	if len(c.Days) > 64 {
		return nil, ferr("when.calendar.days", "at most 64 entries")
	}
	for i, raw := range c.Days {
		path := fmt.Sprintf("when.calendar.days[%d]", i)
		dm := dayRe.FindStringSubmatch(strings.ToLower(strings.TrimSpace(raw)))
		bad := ferr(path, "%q is not a day: use mon..sun, a range (mon-fri), the nth weekday (tue#2) or the last one (friL)", clip(raw))
		if dm == nil {
			return nil, bad
		}
		first, ok := weekdays[dm[1]]
		if !ok {
			return nil, bad
		}
		switch {
		case dm[2] != "":
			end, ok := weekdays[dm[2]]
			if !ok {
				return nil, bad
			}
			for d := first; ; d = (d + 1) % 7 {
				cs.wd[d] = true
				if d == end {
					break
				}
			}
		case dm[3] != "":
			n, _ := strconv.Atoi(dm[3])
			cs.nth[first][n] = true
		case dm[4] != "":
			cs.last[first] = true
		default:
			cs.wd[first] = true
		}
	}
	return cs, nil
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func (cs *calSpec) matches(y int, m time.Month, d int) bool {
	if cs.any {
		return true
	}
	wd := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()
	if cs.wd[wd] || cs.nth[wd][(d-1)/7+1] {
		return true
	}
	return cs.last[wd] && d+7 > daysIn(y, m)
}

// searchDays bounds the day-by-day search: every rule matches at least
// once a year, so two years is ample.
const searchDays = 2 * 366

func (cs *calSpec) next(after time.Time, loc *time.Location) (time.Time, bool) {
	if cs.oneShot {
		t := wallTime(cs.y, cs.m, cs.d, cs.hour, cs.min, loc)
		return t, t.After(after)
	}
	a := after.In(loc)
	// Start a day early: the previous local date's time may still lie after
	// `after` when a DST shift moved it.
	y, m, d := a.Date()
	for i := -1; i < searchDays; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, time.UTC)
		dy, dm, dd := day.Date()
		if !cs.matches(dy, dm, dd) {
			continue
		}
		if t := wallTime(dy, dm, dd, cs.hour, cs.min, loc); t.After(after) {
			return t, true
		}
	}
	return time.Time{}, false
}

// wallTime is the instant the local clock in loc reads y-m-d h:mi. When that
// reading occurs twice (fall back) it is the first occurrence; when it never
// occurs (spring forward) it is shifted forward by the gap, e.g. 02:30 →
// 03:30 — the same rule as ISO 8601 / java.time.
func wallTime(y int, m time.Month, d, h, mi int, loc *time.Location) time.Time {
	w := time.Date(y, m, d, h, mi, 0, 0, time.UTC)
	g := time.Date(y, m, d, h, mi, 0, 0, loc)
	var best, latest time.Time
	for _, probe := range []time.Time{g.Add(-12 * time.Hour), g, g.Add(12 * time.Hour)} {
		_, off := probe.Zone()
		c := w.Add(-time.Duration(off) * time.Second).In(loc)
		if latest.IsZero() || c.After(latest) {
			latest = c
		}
		cy, cm, cd := c.Date()
		if cy == y && cm == m && cd == d && c.Hour() == h && c.Minute() == mi {
			if best.IsZero() || c.Before(best) {
				best = c
			}
		}
	}
	if best.IsZero() {
		return latest
	}
	return best
}
