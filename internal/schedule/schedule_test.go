package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/manifest"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustParse(t *testing.T, doc string) Schedule {
	t.Helper()
	s, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%q): %v", doc, err)
	}
	return s
}

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var fe *manifest.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FieldError", err, err)
	}
	return fe.Field
}

func TestParseAccepted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc string
		check     func(Schedule) bool
	}{
		{"cron 6 fields in when", "id: s1\njob_id: j\nwhen: {cron: '*/10 * * * * *'}\ntarget: {all: true}\n",
			func(s Schedule) bool { return s.When.Cron == "*/10 * * * * *" && s.Enabled && s.TZ == "local" }},
		{"cron shorthand 5 fields", "id: s1\njob_id: j\ncron: '0 9 * * mon-fri'\ntarget: {groups: [web]}\ntz: Asia/Tokyo\n",
			func(s Schedule) bool {
				return s.When.Cron == "0 9 * * mon-fri" && s.Location().String() == "Asia/Tokyo"
			}},
		{"descriptor", `{"id":"s","job_id":"j","when":{"cron":"@daily"},"target":{"all":true},"tz":"UTC"}`,
			func(s Schedule) bool { return s.Location() == time.UTC }},
		{"calendar", "id: s\njob_id: j\nwhen:\n  calendar: {at: '09:00', days: [mon, fri, tue#2, friL]}\ntarget: {pcs: [pc-1]}\n",
			func(s Schedule) bool { return len(s.When.Calendar.Days) == 4 }},
		{"calendar days string", "id: s\njob_id: j\nwhen: {calendar: {at: '7:05', days: mon-fri}}\ntarget: {all: true}\n",
			func(s Schedule) bool { return s.When.Calendar.Days[0] == "mon-fri" }},
		{"one shot", "id: s\njob_id: j\ncalendar: {at: '2027-01-05 09:00'}\ntarget: {all: true}\nenabled: false\n",
			func(s Schedule) bool { return !s.Enabled }},
		{"per_pc once", "id: s\njob_id: j\nwhen: {per_pc: once}\ntarget: {all: true}\njitter: 5m\nstarting_deadline: 1h\n",
			func(s Schedule) bool { return s.When.PerPC.Once && s.IsPerPC() }},
		{"per_pc every", `{"id":"s","job_id":"j","when":{"per_pc":{"every":"6h"}},"target":{"all":true}}`,
			func(s Schedule) bool { return s.When.PerPC.EveryDuration() == 6*time.Hour }},
		{"waves", "id: s\njob_id: j\ncron: '0 3 * * *'\nrollout: {waves: [{group: canary}, {group: rest, delay: 2h}]}\n",
			func(s Schedule) bool { return len(s.Rollout.Waves) == 2 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustParse(t, c.doc)
			if !c.check(s) {
				t.Fatalf("unexpected %+v", s)
			}
			back, err := Parse(s.JSON())
			if err != nil {
				t.Fatalf("reparse %s: %v", s.JSON(), err)
			}
			if string(back.JSON()) != string(s.JSON()) {
				t.Fatalf("round trip\n%s\n%s", s.JSON(), back.JSON())
			}
		})
	}
}

func TestParseRejected(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, doc, field, msg string }{
		{"malformed yaml", "id: s\nwhen: {cron: '* * * * *'\n", "", "malformed YAML"},
		{"unknown key", "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\nmode: every_tick\n", "mode", "unknown field"},
		{"unknown when key", "id: s\njob_id: j\nwhen: {crn: '* * * * *'}\ntarget: {all: true}\n", "when.crn", "unknown field"},
		{"unknown calendar key", "id: s\njob_id: j\nwhen: {calendar: {at: '09:00', day: [mon]}}\ntarget: {all: true}\n", "when.calendar.day", "unknown field"},
		{"no when", "id: s\njob_id: j\ntarget: {all: true}\n", "when", "required"},
		{"two whens", "id: s\njob_id: j\ncron: '* * * * *'\nwhen: {per_pc: once}\ntarget: {all: true}\n", "when.per_pc", "only one"},
		{"two in when", "id: s\njob_id: j\nwhen: {per_pc: once, cron: '* * * * *'}\ntarget: {all: true}\n", "when.per_pc", "only one"},
		{"id dot", "id: a.b\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\n", "id", "no dots"},
		{"id space", "id: 'a b'\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\n", "id", "not a valid id"},
		{"job id dot", "id: s\njob_id: j.x\ncron: '* * * * *'\ntarget: {all: true}\n", "job_id", "not a valid id"},
		{"no job", "id: s\ncron: '* * * * *'\ntarget: {all: true}\n", "job_id", "required"},
		{"bad cron", "id: s\njob_id: j\nwhen: {cron: '61 * * * *'}\ntarget: {all: true}\n", "when.cron", "invalid cron"},
		{"bad cron shorthand", "id: s\njob_id: j\ncron: 'every minute'\ntarget: {all: true}\n", "cron", "invalid cron"},
		{"cron 7 fields", "id: s\njob_id: j\ncron: '0 0 0 * * * 2027'\ntarget: {all: true}\n", "cron", "invalid cron"},
		{"cron 4 fields", "id: s\njob_id: j\ncron: '0 0 * *'\ntarget: {all: true}\n", "cron", "invalid cron"},
		{"cron never", "id: s\njob_id: j\ncron: '0 0 30 2 *'\ntarget: {all: true}\n", "cron", "never fires"},
		{"cron tz prefix", "id: s\njob_id: j\ncron: 'TZ=UTC 0 0 * * *'\ntarget: {all: true}\n", "cron", "tz"},
		{"cron not string", "id: s\njob_id: j\ncron: [1]\ntarget: {all: true}\n", "cron", "must be a string"},
		{"bad tz", "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\ntz: Mars/Base\n", "tz", "unknown time zone"},
		{"tz path", "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\ntz: ../../etc/passwd\n", "tz", "not a time zone"},
		{"calendar bad at", "id: s\njob_id: j\ncalendar: {at: '25:00'}\ntarget: {all: true}\n", "calendar.at", "HH:MM"},
		{"calendar no at", "id: s\njob_id: j\nwhen: {calendar: {days: [mon]}}\ntarget: {all: true}\n", "when.calendar.at", "required"},
		{"calendar bad day", "id: s\njob_id: j\nwhen: {calendar: {at: '09:00', days: [mon, funday]}}\ntarget: {all: true}\n", "when.calendar.days[1]", "not a day"},
		{"calendar nth 6", "id: s\njob_id: j\nwhen: {calendar: {at: '09:00', days: [tue#6]}}\ntarget: {all: true}\n", "when.calendar.days[0]", "not a day"},
		{"calendar bad date", "id: s\njob_id: j\nwhen: {calendar: {at: '2027-02-30 09:00'}}\ntarget: {all: true}\n", "when.calendar.at", "not a valid date"},
		{"one shot with days", "id: s\njob_id: j\nwhen: {calendar: {at: '2027-01-05 09:00', days: [mon]}}\ntarget: {all: true}\n", "when.calendar.days", "one-shot"},
		{"per_pc bad", "id: s\njob_id: j\nwhen: {per_pc: twice}\ntarget: {all: true}\n", "when.per_pc", "once"},
		{"per_pc no every", "id: s\njob_id: j\nwhen: {per_pc: {}}\ntarget: {all: true}\n", "when.per_pc.every", "required"},
		{"per_pc bad every", "id: s\njob_id: j\nwhen: {per_pc: {every: 6 hours}}\ntarget: {all: true}\n", "when.per_pc.every", "invalid duration"},
		{"per_pc every too short", "id: s\njob_id: j\nwhen: {per_pc: {every: 30s}}\ntarget: {all: true}\n", "when.per_pc.every", "at least"},
		{"per_pc unknown", "id: s\njob_id: j\nwhen: {per_pc: {every: 1h, cooldown: 1h}}\ntarget: {all: true}\n", "when.per_pc.cooldown", "unknown field"},
		{"per_pc with waves", "id: s\njob_id: j\nper_pc: once\nrollout: {waves: [{group: a}]}\n", "rollout", "not allowed"},
		{"no target", "id: s\njob_id: j\ncron: '* * * * *'\n", "target", "required"},
		{"target dot group", "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {groups: [a.b]}\n", "target.groups[0]", "not a valid id"},
		{"bad jitter", "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\njitter: soon\n", "jitter", "invalid duration"},
		{"bad deadline", "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\nstarting_deadline: 0s\n", "starting_deadline", "at least"},
		{"enabled string", "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\nenabled: 'no'\n", "enabled", "true or false"},
		{"deadline_at not authored", "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\ndeadline_at: '2027-01-01T00:00:00Z'\n", "deadline_at", "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if f := fieldOf(t, err); f != c.field || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("field %q err %v; want %q / %q", f, err, c.field, c.msg)
			}
		})
	}
}

func TestParseAll(t *testing.T) {
	t.Parallel()
	docs, err := ParseAll([]byte("id: a\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\n---\n# b\nid: b\njob_id: j\nper_pc: once\ntarget: {all: true}\n"))
	if err != nil || len(docs) != 2 || docs[1].Schedule.ID != "b" || !strings.HasPrefix(string(docs[1].Source), "# b") {
		t.Fatalf("%v %+v", err, docs)
	}
	_, err = ParseAll([]byte("id: a\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\n---\nid: b\njob_id: j\ncron: nope\ntarget: {all: true}\n"))
	var de *manifest.DocumentError
	if !errors.As(err, &de) || de.Index != 2 || fieldOf(t, err) != "cron" {
		t.Fatalf("err %v", err)
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {groups: [g]}\njitter: 90s\nstarting_deadline: 10m\n")
	tick := time.Date(2027, 1, 5, 9, 0, 0, 0, time.UTC)
	p := s.Plan(tick)
	if p.DeadlineAt == nil || !p.DeadlineAt.Equal(tick.Add(10*time.Minute)) || p.JitterSecs() != 90 || p.Subjects()[0] != "commands.group.g" {
		t.Fatalf("plan %+v", p)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	s = mustParse(t, "id: s\njob_id: j\ncron: '* * * * *'\ntarget: {all: true}\n")
	if s.Plan(tick).DeadlineAt != nil {
		t.Fatal("deadline without starting_deadline")
	}
}
