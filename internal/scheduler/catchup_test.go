package scheduler

import (
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/schedule"
)

func mustSchedule(t *testing.T, doc string) schedule.Schedule {
	t.Helper()
	sc, err := schedule.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestLastDue(t *testing.T) {
	daily := mustSchedule(t, "id: d\njob_id: j\ntz: utc\ncron: '0 30 2 * * *'\ntarget: {all: true}\n")
	perSec := mustSchedule(t, "id: s\njob_id: j\ntz: utc\ncron: '* * * * * *'\ntarget: {all: true}\n")
	oneShot := mustSchedule(t, "id: o\njob_id: j\ntz: utc\ncalendar: {at: '2030-01-05 09:00'}\ntarget: {all: true}\n")
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name      string
		sc        schedule.Schedule
		base, now string
		want      string // "" = nothing missed
	}{
		{"daily, down two days", daily, "2030-01-01T00:00:00Z", "2030-01-03T10:00:00Z", "2030-01-03T02:30:00Z"},
		{"daily, nothing missed", daily, "2030-01-03T02:30:00Z", "2030-01-03T10:00:00Z", ""},
		{"daily, exactly due", daily, "2030-01-02T02:30:00Z", "2030-01-03T02:30:00Z", "2030-01-03T02:30:00Z"},
		{"per second after a year", perSec, "2029-01-01T00:00:00Z", "2030-01-03T10:00:00.5Z", "2030-01-03T10:00:00Z"},
		{"one shot missed", oneShot, "2029-12-01T00:00:00Z", "2030-02-01T00:00:00Z", "2030-01-05T09:00:00Z"},
		{"one shot already fired", oneShot, "2030-01-05T09:00:00Z", "2030-02-01T00:00:00Z", ""},
		{"one shot in the future", oneShot, "2029-12-01T00:00:00Z", "2029-12-02T00:00:00Z", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := lastDue(c.sc, at(c.base), at(c.now))
			if c.want == "" {
				if ok {
					t.Fatalf("missed %s, want none", got)
				}
				return
			}
			if !ok || !got.Equal(at(c.want)) {
				t.Fatalf("got %s %v, want %s", got, ok, c.want)
			}
		})
	}
}
