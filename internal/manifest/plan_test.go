package manifest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	good := map[string]time.Duration{
		"30s": 30 * time.Second, "10m": 10 * time.Minute, "1h30m": 90 * time.Minute, "1d": Day,
		"2d12h": 60 * time.Hour, "1.5h": 90 * time.Minute, "500ms": 500 * time.Millisecond, "0": 0,
		"0s": 0, "1h 30m": 90 * time.Minute, " 5m ": 5 * time.Minute, "365d": MaxDuration, "+1s": time.Second,
		"1m30s": 90 * time.Second, ".5s": 500 * time.Millisecond,
	}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := []string{"", " ", "-1s", "-0s", "5", "10 minutes", "1y", "1w", "s", "1..5s", ".s", "1h-5m", "366d",
		"9223372036854775807ns", "99999999999999999999999999999999999999d", "1e3s", "NaNs", "1 h", "5µ", "1s5"}
	for _, in := range bad {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want error", in, d)
		}
	}
	for _, d := range []time.Duration{0, time.Second, 36 * time.Hour, 90 * time.Second, 1500 * time.Millisecond, MaxDuration} {
		back, err := ParseDuration(FormatDuration(d))
		if err != nil || back != d {
			t.Errorf("FormatDuration(%v) = %q → %v, %v", d, FormatDuration(d), back, err)
		}
	}
	if FormatDuration(36*time.Hour) != "1d12h" {
		t.Errorf("FormatDuration(36h) = %q", FormatDuration(36*time.Hour))
	}
}

func TestParsePlanAccepted(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc string
		subjects  []string
	}{
		{"all", `{"target":{"all":true}}`, []string{"commands.all"}},
		{"groups and pcs", `{"target":{"groups":["canary","web"],"pcs":["pc-1"]},"jitter":"5m"}`,
			[]string{"commands.group.canary", "commands.group.web", "commands.pc.pc-1"}},
		{"waves", "rollout:\n  strategy: wave\n  waves:\n    - {group: canary}\n    - {group: wave1, delay: 30m}\n",
			[]string{"commands.group.canary", "commands.group.wave1"}},
		{"deadline", `{"target":{"pcs":["a"]},"deadline_at":"2027-01-05T09:00:00+09:00"}`, []string{"commands.pc.a"}},
		{"all false plus groups", `{"target":{"all":false,"groups":["g"]},"rollout":null}`, []string{"commands.group.g"}},
		{"sliced", "target: {all: true}\nrollout:\n  waves: [{group: canary}, {percent: 25, delay: 10m}, {rest: true, delay: 1h}]\n  halt_on: {failures: 2}\n",
			[]string{}},
		{"sliced pct halt", `{"target":{"groups":["web"]},"rollout":{"waves":[{"percent":100}],"halt_on":{"failure_pct":10}}}`, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePlan([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Subjects(), c.subjects) {
				t.Fatalf("subjects %v want %v", p.Subjects(), c.subjects)
			}
			back, err := ParsePlan(p.JSON())
			if err != nil || string(back.JSON()) != string(p.JSON()) {
				t.Fatalf("round trip %s: %v", p.JSON(), err)
			}
		})
	}
	p, _ := ParsePlan([]byte(`{"target":{"pcs":["a"]},"deadline_at":"2027-01-05T09:00:00+09:00","jitter":"90s"}`))
	if !p.DeadlineAt.Equal(time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC)) || p.DeadlineAt.Location() != time.UTC || p.JitterSecs() != 90 {
		t.Fatalf("plan %+v", p)
	}
	p, _ = ParsePlan([]byte("rollout: {waves: [{group: a}, {group: b, delay: 1h}]}"))
	if p.Rollout.Waves[0].DelayDuration() != 0 || p.Rollout.Waves[1].DelayDuration() != time.Hour || !p.Waves() {
		t.Fatalf("waves %+v", p.Rollout)
	}
}

func TestParsePlanRejected(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, doc, field, msg string }{
		{"empty object", `{}`, "target", "required"},
		{"empty target", `{"target":{}}`, "target", "required"},
		{"all false", `{"target":{"all":false}}`, "target", "required"},
		{"all and groups", `{"target":{"all":true,"groups":["g"]}}`, "target.all", "cannot be combined"},
		{"all not bool", `{"target":{"all":"yes"}}`, "target.all", "true or false"},
		{"group dot", `{"target":{"groups":["a.b"]}}`, "target.groups[0]", "not a valid id"},
		{"pc space", `{"target":{"pcs":["ok","pc 1"]}}`, "target.pcs[1]", "not a valid id"},
		{"pc dup", `{"target":{"pcs":["a","a"]}}`, "target.pcs[1]", "twice"},
		{"unknown target key", `{"target":{"al":true}}`, "target.al", "unknown field"},
		{"unknown top", `{"target":{"all":true},"jiter":"5m"}`, "jiter", "unknown field"},
		{"percent without target", `{"rollout":{"waves":[{"percent":10}]}}`, "rollout.waves[0].percent", "needs a target"},
		{"rest without target", `{"rollout":{"waves":[{"group":"a"},{"rest":true}]}}`, "rollout.waves[1].rest", "needs a target"},
		{"percent zero", `{"target":{"all":true},"rollout":{"waves":[{"group":"a"},{"percent":0}]}}`, "rollout.waves[1]", "exactly one"},
		{"percent over", `{"target":{"all":true},"rollout":{"waves":[{"group":"a"},{"percent":101}]}}`, "rollout.waves[1].percent", "between 1 and 100"},
		{"percent negative", `{"target":{"all":true},"rollout":{"waves":[{"percent":-5}]}}`, "rollout.waves[0].percent", "between 1 and 100"},
		{"percent not number", `{"target":{"all":true},"rollout":{"waves":[{"percent":"ten"}]}}`, "rollout.waves[0].percent", "whole number"},
		{"percent fraction", `{"target":{"all":true},"rollout":{"waves":[{"percent":2.5}]}}`, "rollout.waves[0].percent", "whole number"},
		{"two kinds", `{"target":{"all":true},"rollout":{"waves":[{"group":"a","percent":10}]}}`, "rollout.waves[0]", "more than one"},
		{"group and rest", `{"target":{"all":true},"rollout":{"waves":[{"group":"a","rest":true}]}}`, "rollout.waves[0]", "more than one"},
		{"rest not last", `{"target":{"all":true},"rollout":{"waves":[{"rest":true},{"group":"a"}]}}`, "rollout.waves[0].rest", "last"},
		{"two rests", `{"target":{"all":true},"rollout":{"waves":[{"rest":true},{"rest":true}]}}`, "rollout.waves[0].rest", "last"},
		{"sliced wave empty", `{"target":{"all":true},"rollout":{"waves":[{"delay":"1m"}]}}`, "rollout.waves[0]", "exactly one"},
		{"sliced dup group", `{"target":{"all":true},"rollout":{"waves":[{"group":"a"},{"group":"a"}]}}`, "rollout.waves[1].group", "earlier wave"},
		{"rest not bool", `{"target":{"all":true},"rollout":{"waves":[{"rest":"yes"}]}}`, "rollout.waves[0].rest", "true or false"},
		{"halt both", `{"target":{"all":true},"rollout":{"waves":[{"rest":true}],"halt_on":{"failures":1,"failure_pct":5}}}`, "rollout.halt_on", "exactly one"},
		{"halt none", `{"target":{"all":true},"rollout":{"waves":[{"rest":true}],"halt_on":{}}}`, "rollout.halt_on", "exactly one"},
		{"halt negative", `{"rollout":{"waves":[{"group":"a"}],"halt_on":{"failures":-1}}}`, "rollout.halt_on.failures", "at least 1"},
		{"halt pct over", `{"rollout":{"waves":[{"group":"a"}],"halt_on":{"failure_pct":150}}}`, "rollout.halt_on.failure_pct", "between 1 and 100"},
		{"halt unknown", `{"rollout":{"waves":[{"group":"a"}],"halt_on":{"failure":2}}}`, "rollout.halt_on.failure", "unknown field"},
		{"sliced bad target", `{"target":{"all":true,"pcs":["a"]},"rollout":{"waves":[{"rest":true}]}}`, "target.all", "cannot be combined"},
		{"no waves", `{"rollout":{"waves":[]}}`, "rollout.waves", "at least one"},
		{"wave no group", `{"rollout":{"waves":[{"delay":"1m"}]}}`, "rollout.waves[0].group", "required"},
		{"wave bad delay", `{"rollout":{"waves":[{"group":"a"},{"group":"b","delay":"soon"}]}}`, "rollout.waves[1].delay", "invalid duration"},
		{"wave negative delay", `{"rollout":{"waves":[{"group":"a","delay":"-1m"}]}}`, "rollout.waves[0].delay", "negative"},
		{"wave dup group", `{"rollout":{"waves":[{"group":"a"},{"group":"a","delay":"1m"}]}}`, "rollout.waves[1].group", "earlier wave"},
		{"wave unknown key", `{"rollout":{"waves":[{"group":"a","dealy":"1m"}]}}`, "rollout.waves[0].dealy", "unknown field"},
		{"wave not map", `{"rollout":{"waves":["a"]}}`, "rollout.waves[0]", "must be a mapping"},
		{"bad strategy", `{"rollout":{"strategy":"blue-green","waves":[{"group":"a"}]}}`, "rollout.strategy", "not supported"},
		{"bad jitter", `{"target":{"all":true},"jitter":"5"}`, "jitter", "unit"},
		{"bad deadline", `{"target":{"all":true},"deadline_at":"tomorrow"}`, "deadline_at", "RFC 3339"},
		{"groups not list", `{"target":{"groups":"g"}}`, "target.groups", "must be a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePlan([]byte(c.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if f := fieldOf(t, err); f != c.field || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("field %q err %v; want %q / %q", f, err, c.field, c.msg)
			}
		})
	}
}

func TestPlanMatches(t *testing.T) {
	t.Parallel()
	all := Plan{Target: Target{All: true}}
	some := Plan{Target: Target{Groups: []string{"web"}, PCs: []string{"pc-9"}}}
	waves := Plan{Rollout: &Rollout{Waves: []Wave{{Group: "canary"}, {Group: "rest", Delay: "1h"}}}}
	for _, c := range []struct {
		p      Plan
		pc     string
		groups []string
		want   bool
	}{
		{all, "x", nil, true},
		{some, "pc-9", nil, true},
		{some, "pc-1", []string{"db", "web"}, true},
		{some, "pc-1", []string{"db"}, false},
		{waves, "pc-1", []string{"rest"}, true},
		{waves, "pc-1", []string{"web"}, false},
	} {
		if got := c.p.Matches(c.pc, c.groups); got != c.want {
			t.Errorf("%+v Matches(%s, %v) = %v", c.p, c.pc, c.groups, got)
		}
	}
}

func TestSlicedPlan(t *testing.T) {
	t.Parallel()
	p, err := ParsePlan([]byte("target: {all: true}\nrollout:\n  waves: [{group: canary}, {percent: 25, delay: 10m}, {rest: true, delay: 1h}]\n  halt_on: {failures: 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Sliced() || !p.Waves() || p.Rollout.HaltOn == nil || p.Rollout.HaltOn.Failures != 2 {
		t.Fatalf("plan %+v", p)
	}
	w := p.Rollout.Waves
	if w[0].Group != "canary" || w[1].Percent != 25 || w[1].DelayDuration() != 10*time.Minute || !w[2].Rest {
		t.Fatalf("waves %+v", w)
	}
	if got := []string{w[0].Label(), w[1].Label(), w[2].Label()}; !slices.Equal(got, []string{"canary", "25%", "rest"}) {
		t.Fatalf("labels %v", got)
	}
	// A sliced rollout matches its target, not its waves' groups.
	if !p.Matches("pc-x", nil) {
		t.Fatal("target all does not match")
	}
	back, err := ParsePlan(p.JSON())
	if err != nil || string(back.JSON()) != string(p.JSON()) {
		t.Fatalf("round trip %s → %s (%v)", p.JSON(), back.JSON(), err)
	}
}

func TestHaltOn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		h                 *HaltOn
		failures, targets int
		halted            bool
		why               string
	}{
		{nil, 5, 5, false, ""},
		{&HaltOn{Failures: 2}, 1, 10, false, ""},
		{&HaltOn{Failures: 2}, 2, 10, true, "2 failures ≥ halt_on.failures 2"},
		{&HaltOn{FailurePct: 20}, 1, 10, false, ""},
		{&HaltOn{FailurePct: 20}, 2, 10, true, "2 failures of 10 targets (20%) ≥ halt_on.failure_pct 20"},
		{&HaltOn{FailurePct: 100}, 0, 0, false, ""},
	} {
		halted, why := c.h.Halted(c.failures, c.targets)
		if halted != c.halted || why != c.why {
			t.Errorf("%+v %d/%d: %v %q; want %v %q", c.h, c.failures, c.targets, halted, why, c.halted, c.why)
		}
	}
}

// Percent slices are deterministic: the same PCs give the same slice in
// any input order, rounded up, a prefix of SliceOrder, and not simply the
// alphabetically first PCs.
func TestPercentSlice(t *testing.T) {
	t.Parallel()
	var pcs []string
	for i := range 40 {
		pcs = append(pcs, fmt.Sprintf("pc-%02d", i))
	}
	a := PercentSlice(pcs, 25)
	rev := slices.Clone(pcs)
	slices.Reverse(rev)
	if b := PercentSlice(rev, 25); !slices.Equal(a, b) {
		t.Fatalf("order-dependent: %v vs %v", a, b)
	}
	if len(a) != 10 {
		t.Fatalf("25%% of 40 = %d", len(a))
	}
	if s := slices.Sorted(slices.Values(a)); slices.Equal(s, pcs[:10]) {
		t.Fatalf("slice is the first ten by name: %v", s)
	}
	if !slices.Equal(a, SliceOrder(pcs)[:10]) {
		t.Fatal("not a prefix of SliceOrder")
	}
	for _, c := range []struct{ n, pct, want int }{{0, 50, 0}, {1, 1, 1}, {3, 1, 1}, {3, 34, 2}, {3, 100, 3}, {16, 25, 4}, {7, 50, 4}} {
		if got := len(PercentSlice(pcs[:c.n], c.pct)); got != c.want {
			t.Errorf("%d%% of %d = %d, want %d", c.pct, c.n, got, c.want)
		}
	}
	// Growing the population keeps earlier members' relative order.
	small, big := SliceOrder(pcs[:20]), SliceOrder(pcs)
	var filtered []string
	for _, pc := range big {
		if slices.Contains(pcs[:20], pc) {
			filtered = append(filtered, pc)
		}
	}
	if !slices.Equal(small, filtered) {
		t.Fatal("order depends on the other PCs")
	}
}
