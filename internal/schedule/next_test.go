package schedule

import (
	"testing"
	"time"
)

func sched(t *testing.T, when, tz string) Schedule {
	t.Helper()
	return mustParse(t, "id: s\njob_id: j\ntarget: {all: true}\ntz: "+tz+"\n"+when+"\n")
}

// fires returns the first n fire times after from, formatted in the zone.
func fires(t *testing.T, s Schedule, from time.Time, n int) []string {
	t.Helper()
	var out []string
	for _, f := range s.Preview(from, n) {
		out = append(out, f.Format("2006-01-02 15:04:05 MST"))
	}
	return out
}

func eq(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestNextCron(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// 6 fields: seconds first.
	eq(t, fires(t, sched(t, "cron: '*/2 * * * * *'", "utc"), utc("2027-01-05 10:00:01"), 3),
		"2027-01-05 10:00:02 UTC", "2027-01-05 10:00:04 UTC", "2027-01-05 10:00:06 UTC")
	// 5 fields: minute resolution, second 0.
	eq(t, fires(t, sched(t, "cron: '*/15 * * * *'", "utc"), utc("2027-01-05 10:00:01"), 2),
		"2027-01-05 10:15:00 UTC", "2027-01-05 10:30:00 UTC")
	// Strictly after: a fire time itself is not returned again.
	s := sched(t, "cron: '0 9 * * *'", "utc")
	if n, _ := s.Next(utc("2027-01-05 09:00:00")); !n.Equal(utc("2027-01-06 09:00:00")) {
		t.Fatalf("next %v", n)
	}
	// tz: 09:00 in Tokyo is 00:00 UTC.
	tokyo := sched(t, "cron: '0 9 * * mon-fri'", "Asia/Tokyo")
	n, ok := tokyo.Next(utc("2027-01-04 23:00:00")) // Tue 08:00 JST
	if !ok || !n.Equal(utc("2027-01-05 00:00:00")) || n.Location().String() != "Asia/Tokyo" {
		t.Fatalf("tokyo next %v", n)
	}
	// Friday 09:00 JST → next is Monday.
	eq(t, fires(t, tokyo, utc("2027-01-08 00:00:00"), 1), "2027-01-11 09:00:00 JST")
	// Descriptor.
	eq(t, fires(t, sched(t, "cron: '@daily'", "Europe/Paris"), utc("2027-01-05 10:00:00"), 1), "2027-01-06 00:00:00 CET")
}

func TestNextCalendar(t *testing.T) {
	t.Parallel()
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) // a Friday
	// tue#2: the second Tuesday of each month.
	eq(t, fires(t, sched(t, "calendar: {at: '09:00', days: [tue#2]}", "utc"), from, 3),
		"2027-01-12 09:00:00 UTC", "2027-02-09 09:00:00 UTC", "2027-03-09 09:00:00 UTC")
	// friL: the last Friday.
	eq(t, fires(t, sched(t, "calendar: {at: '18:30', days: [friL]}", "utc"), from, 3),
		"2027-01-29 18:30:00 UTC", "2027-02-26 18:30:00 UTC", "2027-03-26 18:30:00 UTC")
	// tue#5 exists only in some months.
	eq(t, fires(t, sched(t, "calendar: {at: '09:00', days: [tue#5]}", "utc"), from, 2),
		"2027-03-30 09:00:00 UTC", "2027-06-29 09:00:00 UTC")
	// Plain days and a mix.
	eq(t, fires(t, sched(t, "calendar: {at: '07:05', days: [mon, fri]}", "utc"), from, 3),
		"2027-01-01 07:05:00 UTC", "2027-01-04 07:05:00 UTC", "2027-01-08 07:05:00 UTC")
	// A range wrapping over the weekend: fri, sat, sun, mon.
	eq(t, fires(t, sched(t, "calendar: {at: '12:00', days: [fri-mon]}", "utc"), from, 5),
		"2027-01-01 12:00:00 UTC", "2027-01-02 12:00:00 UTC", "2027-01-03 12:00:00 UTC", "2027-01-04 12:00:00 UTC", "2027-01-08 12:00:00 UTC")
	// No days: every day; today's time already passed → tomorrow.
	eq(t, fires(t, sched(t, "calendar: {at: '00:00'}", "utc"), from, 2), "2027-01-02 00:00:00 UTC", "2027-01-03 00:00:00 UTC")
	// tz: the wall-clock time is local to the schedule.
	eq(t, fires(t, sched(t, "calendar: {at: '09:00', days: [mon-fri]}", "Asia/Tokyo"), from.Add(-time.Hour), 2),
		"2027-01-01 09:00:00 JST", "2027-01-04 09:00:00 JST")
}

func TestNextOneShot(t *testing.T) {
	t.Parallel()
	s := sched(t, "calendar: {at: '2027-01-05 09:00'}", "Europe/Berlin")
	before := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	eq(t, fires(t, s, before, 5), "2027-01-05 09:00:00 CET")
	at := time.Date(2027, 1, 5, 8, 0, 0, 0, time.UTC)
	if n, ok := s.Next(at); ok {
		t.Fatalf("one-shot fired again at %v", n)
	}
	if n, ok := s.Next(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Fatalf("past one-shot has next %v", n)
	}
	if p := s.Preview(at, 10); len(p) != 0 {
		t.Fatalf("past one-shot preview %v", p)
	}
}

func TestNextPerPC(t *testing.T) {
	t.Parallel()
	s := sched(t, "per_pc: {every: 6h}", "utc")
	from := time.Date(2027, 1, 5, 10, 0, 30, 0, time.UTC)
	eq(t, fires(t, s, from, 3), "2027-01-05 10:01:00 UTC", "2027-01-05 10:02:00 UTC", "2027-01-05 10:03:00 UTC")
	s = sched(t, "per_pc: once", "utc")
	if n, ok := s.Next(time.Date(2027, 1, 5, 10, 1, 0, 0, time.UTC)); !ok || n.Minute() != 2 {
		t.Fatalf("next %v", n)
	}
}

// DST in America/New_York: 2026-03-08 02:00 EST → 03:00 EDT (02:00-02:59
// never happens); 2026-11-01 02:00 EDT → 01:00 EST (01:00-01:59 twice).
func TestDST(t *testing.T) {
	t.Parallel()
	springEve := time.Date(2026, 3, 7, 17, 0, 0, 0, time.UTC)
	fallEve := time.Date(2026, 10, 31, 17, 0, 0, 0, time.UTC)

	// calendar: a skipped time is shifted forward by the gap, a repeated
	// one fires once (first occurrence). One fire per day either way.
	eq(t, fires(t, sched(t, "calendar: {at: '02:30'}", "America/New_York"), springEve, 3),
		"2026-03-08 03:30:00 EDT", "2026-03-09 02:30:00 EDT", "2026-03-10 02:30:00 EDT")
	eq(t, fires(t, sched(t, "calendar: {at: '01:30'}", "America/New_York"), fallEve, 3),
		"2026-11-01 01:30:00 EDT", "2026-11-02 01:30:00 EST", "2026-11-03 01:30:00 EST")
	// Asked between the two occurrences of 01:30, it does not fire the second.
	cal := sched(t, "calendar: {at: '01:30'}", "America/New_York")
	between := time.Date(2026, 11, 1, 5, 45, 0, 0, time.UTC) // 01:45 EDT
	if n, _ := cal.Next(between); n.Day() != 2 {
		t.Fatalf("repeated hour fired twice: %v", n)
	}

	// cron matches wall-clock readings (robfig/cron): nothing in the gap,
	// both occurrences in the repeated hour. Documented in the package doc.
	eq(t, fires(t, sched(t, "cron: '30 2 * * *'", "America/New_York"), springEve, 2),
		"2026-03-09 02:30:00 EDT", "2026-03-10 02:30:00 EDT")
	eq(t, fires(t, sched(t, "cron: '30 1 * * *'", "America/New_York"), fallEve, 3),
		"2026-11-01 01:30:00 EDT", "2026-11-01 01:30:00 EST", "2026-11-02 01:30:00 EST")
	// An interval cron keeps its rhythm in real time across the change.
	got := sched(t, "cron: '0 */30 * * * *'", "America/New_York").Preview(time.Date(2026, 3, 8, 6, 15, 0, 0, time.UTC), 3)
	for i := 1; i < len(got); i++ {
		if d := got[i].Sub(got[i-1]); d != 30*time.Minute {
			t.Fatalf("interval %v across spring forward: %v", d, got)
		}
	}
}

func TestPreview(t *testing.T) {
	t.Parallel()
	s := sched(t, "cron: '* * * * * *'", "utc")
	from := time.Date(2027, 1, 5, 10, 0, 0, 0, time.UTC)
	if p := s.Preview(from, 5000); len(p) != MaxPreview {
		t.Fatalf("preview len %d", len(p))
	}
	if p := s.Preview(from, 0); len(p) != 0 {
		t.Fatalf("preview 0 = %v", p)
	}
	if p := s.Preview(from, -3); p == nil || len(p) != 0 {
		t.Fatalf("preview -3 = %v", p)
	}
	// A Schedule built in code (never validated) computes on demand; an
	// invalid one has no fire times.
	built := Schedule{ID: "b", JobID: "j", Enabled: true, TZ: "utc", When: When{Cron: "0 0 * * *"}, Target: s.Target}
	if n, ok := built.Next(from); !ok || !n.Equal(time.Date(2027, 1, 6, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("built next %v %v", n, ok)
	}
	built.When.Cron = "bogus"
	if _, ok := built.Next(from); ok {
		t.Fatal("invalid schedule has a next fire")
	}
}
