package schedule

import (
	"errors"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/manifest"
)

// FuzzParseSchedule checks that no input panics, that failures are
// *FieldError, that accepted schedules round-trip through their KV JSON,
// and that their fire times strictly increase.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{
		"id: s1\njob_id: j\nwhen: {cron: '*/10 * * * * *'}\ntarget: {all: true}\n",
		"id: s\njob_id: j\ncron: '0 9 * * mon-fri'\ntarget: {groups: [web]}\ntz: Asia/Tokyo\njitter: 5m\nstarting_deadline: 1h\n",
		"id: s\njob_id: j\nwhen:\n  calendar: {at: '09:00', days: [mon, fri, tue#2, friL, fri-mon]}\ntarget: {pcs: [pc-1]}\n",
		"id: s\njob_id: j\ncalendar: {at: '2027-01-05 09:00'}\ntarget: {all: true}\nenabled: false\n",
		`{"id":"s","job_id":"j","when":{"per_pc":{"every":"6h"}},"target":{"all":true}}`,
		"id: s\njob_id: j\nper_pc: once\nrollout: {waves: [{group: a}]}\n",
		"id: s\njob_id: j\ncron: '0 3 * * *'\nrollout: {waves: [{group: canary}, {group: rest, delay: 2h}]}\n",
		"id: s\njob_id: j\ncron: '@every 90s'\ntarget: {all: true}\ntz: America/New_York\n",
		"id: s\njob_id: j\ncron: '0 0 30 2 *'\ntarget: {all: true}\n",
		"id: a.b\n", "when: [\n", "cron: TZ=UTC\n",
	} {
		f.Add([]byte(s))
	}
	from := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			var fe *manifest.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T", err, err)
			}
			return
		}
		back, err := Parse(s.JSON())
		if err != nil || string(back.JSON()) != string(s.JSON()) {
			t.Fatalf("round trip of %s: %v", s.JSON(), err)
		}
		prev := from
		for _, n := range s.Preview(from, 3) {
			if !n.After(prev) {
				t.Fatalf("fire %v not after %v", n, prev)
			}
			prev = n
		}
		_, _ = ParseAll(data)
	})
}
