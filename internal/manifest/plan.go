package manifest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/manifest/strict"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// MaxWaves bounds a rollout.
const MaxWaves = 64

// Plan is where (and how fast) a job runs: the body of
// POST /api/exec/{job_id}, and inline in a schedule.
//
// Rules: a target, rollout.waves, or both. A target is either all: true,
// or a non-empty list of groups and/or pcs (their union). Waves alone each
// name one group and a delay from the exec (0 = at once); a group may
// appear in one wave only. With a target (a sliced rollout, SPEC §17) the
// target is the whole population and each wave names exactly one of
// group (the target's members of it), percent (1..100 of the PCs no
// earlier wave took, by pc_id hash) or rest (everything left; only as the
// last wave); a PC is in at most one wave. Jitter ≥ 0; deadline_at is
// RFC 3339.
type Plan struct {
	Target     Target     `json:"target"`
	Rollout    *Rollout   `json:"rollout,omitempty"`
	Jitter     string     `json:"jitter,omitempty"` // duration as written; agents sleep a random [0, jitter) first
	DeadlineAt *time.Time `json:"deadline_at,omitempty"`
	// AllowEmpty sends the exec even when its target reaches no known PC
	// (SPEC §17); only the exec body has it: a schedule whose target is
	// empty skips the fire instead.
	AllowEmpty bool `json:"allow_empty,omitempty"`
}

// ErrNoTargets is matched (errors.Is) by an exec refused because its
// target reaches no known PC and allow_empty was not set.
var ErrNoTargets = errors.New("the target reaches no known PC")

// Target selects PCs: all of them, or members of groups plus listed pcs.
type Target struct {
	All    bool     `json:"all,omitempty"`
	Groups []string `json:"groups,omitempty"`
	PCs    []string `json:"pcs,omitempty"`
}

// Rollout is a staged deploy. Without a target: one Command per wave on
// commands.group.<g>. With a target: waves slice it, and each wave is sent
// to its PCs one by one (commands.pc.<pc>), resolved when it is sent.
type Rollout struct {
	Waves []Wave `json:"waves"`
	// HaltOn stops sending later waves once the failures so far reach it.
	HaltOn *HaltOn `json:"halt_on,omitempty"`
}

// Wave is one stage of a rollout: exactly one of Group, Percent and Rest
// (Percent and Rest only with a target).
type Wave struct {
	Group   string `json:"group"`             // "" in percent and rest waves
	Percent int    `json:"percent,omitempty"` // of the target's PCs no earlier wave took
	Rest    bool   `json:"rest,omitempty"`    // every PC of the target left
	Delay   string `json:"delay,omitempty"`   // from the exec; empty or "0" = immediately
}

// HaltOn is a rollout's failure threshold, checked when each later wave
// is due: at least Failures failed results of the execution so far, or
// failures making at least FailurePct percent of its targets so far.
// Exactly one is set.
type HaltOn struct {
	Failures   int `json:"failures,omitempty"`
	FailurePct int `json:"failure_pct,omitempty"`
}

// Label names the wave in logs and audit: the group, "10%" or "rest".
func (w Wave) Label() string {
	switch {
	case w.Rest:
		return "rest"
	case w.Percent > 0:
		return fmt.Sprintf("%d%%", w.Percent)
	}
	return w.Group
}

// ParsePlan decodes and validates an exec plan from JSON or YAML.
func ParsePlan(data []byte) (Plan, error) {
	n, err := single(data)
	if err != nil {
		return Plan{}, err
	}
	r := &strict.Reader{}
	o := r.Object(n, "")
	p := ReadPlanFields(r, o)
	p.AllowEmpty = o.Bool("allow_empty", false)
	if dl := o.Get("deadline_at"); dl != nil {
		s := r.ScalarText(dl, "deadline_at")
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil && r.Err() == nil {
			r.Fail("deadline_at", "%q is not an RFC 3339 time (e.g. 2027-01-05T09:00:00Z)", clip(s))
		}
		if err == nil {
			t = t.UTC()
			p.DeadlineAt = &t
		}
	}
	o.Close()
	if err := r.Err(); err != nil {
		return Plan{}, err
	}
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// ReadPlanFields reads target, rollout and jitter from o (the exec body or a
// schedule document); package schedule shares it so both report the same
// field paths. It records shape errors in r and does not validate values.
func ReadPlanFields(r *strict.Reader, o *strict.Object) Plan {
	var p Plan
	t := o.Object("target")
	p.Target = Target{All: t.Bool("all", false), Groups: t.StrList("groups"), PCs: t.StrList("pcs")}
	t.Close()
	if ro := o.Object("rollout"); ro.Present() {
		if s := ro.Str("strategy"); s != "" && s != "wave" && r.Err() == nil {
			r.Fail(ro.Path("strategy"), "%q is not supported (only wave)", clip(s))
		}
		p.Rollout = &Rollout{Waves: []Wave{}}
		for i, wn := range ro.List("waves") {
			wo := r.Object(wn, fmt.Sprintf("%s[%d]", ro.Path("waves"), i))
			p.Rollout.Waves = append(p.Rollout.Waves, Wave{Group: wo.Str("group"), Percent: readInt(r, wo, "percent"),
				Rest: wo.Bool("rest", false), Delay: wo.Str("delay")})
			wo.Close()
		}
		if ho := ro.Object("halt_on"); ho.Present() {
			p.Rollout.HaltOn = &HaltOn{Failures: readInt(r, ho, "failures"), FailurePct: readInt(r, ho, "failure_pct")}
			ho.Close()
		}
		ro.Close()
	}
	p.Jitter = o.Str("jitter")
	return p
}

// readInt reads an optional whole number (0 when absent), failing at its
// path on anything else.
func readInt(r *strict.Reader, o *strict.Object, key string) int {
	s := o.Str(key)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil && r.Err() == nil {
		r.Fail(o.Path(key), "%q is not a whole number", clip(s))
	}
	return n
}

// Validate applies the plan rules (see Plan). The error is a *FieldError.
func (p Plan) Validate() error {
	t := p.Target
	hasTarget := p.HasTarget()
	if p.Rollout != nil {
		if err := p.Rollout.validate(hasTarget); err != nil {
			return err
		}
	} else if !hasTarget {
		return ferr("target", "is required: all: true, groups or pcs (or rollout.waves)")
	}
	if hasTarget {
		if t.All && (len(t.Groups) > 0 || len(t.PCs) > 0) {
			return ferr("target.all", "all: true cannot be combined with groups or pcs")
		}
		if err := checkList("target.groups", t.Groups, wire.ValidID); err != nil {
			return err
		}
		if err := checkList("target.pcs", t.PCs, wire.ValidPCID); err != nil {
			return err
		}
	}
	if p.Jitter != "" {
		if _, err := ParseDuration(p.Jitter); err != nil {
			return ferr("jitter", "%v", err)
		}
	}
	return nil
}

func (ro *Rollout) validate(sliced bool) error {
	if len(ro.Waves) == 0 {
		return ferr("rollout.waves", "must list at least one wave")
	}
	if len(ro.Waves) > MaxWaves {
		return ferr("rollout.waves", "at most %d waves", MaxWaves)
	}
	seen := map[string]bool{}
	for i, w := range ro.Waves {
		path := fmt.Sprintf("rollout.waves[%d]", i)
		kinds := 0
		for _, set := range []bool{w.Group != "", w.Percent != 0, w.Rest} {
			if set {
				kinds++
			}
		}
		switch {
		case kinds > 1:
			return ferr(path, "names more than one of group, percent and rest (exactly one)")
		case kinds == 0 && sliced:
			return ferr(path, "must name exactly one of group, percent or rest")
		case w.Percent != 0 && !sliced:
			return ferr(path+".percent", "needs a target: a percentage of what (add target: {all: true})")
		case w.Rest && !sliced:
			return ferr(path+".rest", "needs a target: the rest of what (add target: {all: true})")
		case w.Percent != 0 && (w.Percent < 1 || w.Percent > 100):
			return ferr(path+".percent", "must be between 1 and 100, not %d", w.Percent)
		case w.Rest && i != len(ro.Waves)-1:
			return ferr(path+".rest", "only the last wave can be the rest")
		case w.Group != "" || kinds == 0:
			if err := CheckID(path+".group", w.Group); err != nil {
				return err
			}
			if seen[w.Group] {
				return ferr(path+".group", "group %q is already in an earlier wave", w.Group)
			}
			seen[w.Group] = true
		}
		if w.Delay != "" {
			if _, err := ParseDuration(w.Delay); err != nil {
				return ferr(path+".delay", "%v", err)
			}
		}
	}
	if h := ro.HaltOn; h != nil {
		switch {
		case (h.Failures != 0) == (h.FailurePct != 0):
			return ferr("rollout.halt_on", "must set exactly one of failures and failure_pct")
		case h.Failures < 0:
			return ferr("rollout.halt_on.failures", "must be at least 1, not %d", h.Failures)
		case h.FailurePct != 0 && (h.FailurePct < 1 || h.FailurePct > 100):
			return ferr("rollout.halt_on.failure_pct", "must be between 1 and 100, not %d", h.FailurePct)
		}
	}
	return nil
}

// HasTarget reports whether the plan names a target (all, groups or pcs).
func (p Plan) HasTarget() bool {
	t := p.Target
	return t.All || len(t.Groups) > 0 || len(t.PCs) > 0
}

// Sliced reports whether the plan is a rollout whose waves slice a target
// (each wave sent PC by PC when it is due).
func (p Plan) Sliced() bool { return p.Waves() && p.HasTarget() }

// Halted reports whether failed results out of targets so far reach the
// threshold, and why (e.g. "2 failures ≥ halt_on.failures 2").
func (h *HaltOn) Halted(failures, targets int) (bool, string) {
	switch {
	case h == nil:
		return false, ""
	case h.Failures > 0 && failures >= h.Failures:
		return true, fmt.Sprintf("%d failures ≥ halt_on.failures %d", failures, h.Failures)
	case h.FailurePct > 0 && failures > 0 && failures*100 >= h.FailurePct*max(targets, 1):
		return true, fmt.Sprintf("%d failures of %d targets (%d%%) ≥ halt_on.failure_pct %d",
			failures, targets, failures*100/max(targets, 1), h.FailurePct)
	}
	return false, ""
}

// PercentSlice picks percent (1..100) of pcs, rounded up so a non-empty
// list always gives at least one: the first ones in the order of
// SliceOrder. The same PCs give the same slice, whatever their order.
func PercentSlice(pcs []string, percent int) []string {
	if len(pcs) == 0 || percent <= 0 {
		return nil
	}
	n := min((len(pcs)*percent+99)/100, len(pcs))
	return SliceOrder(pcs)[:n]
}

// SliceOrder sorts PCs by the FNV-1a hash of their pc_id (ties by id): a
// stable order that does not follow naming, so a percent wave is not
// simply the alphabetically first PCs (often one site or one batch).
func SliceOrder(pcs []string) []string {
	out := slices.Clone(pcs)
	h := func(s string) uint64 {
		f := fnv.New64a()
		f.Write([]byte(s))
		return f.Sum64()
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := cmp.Compare(h(a), h(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return out
}

func checkList(path string, items []string, valid func(string) bool) error {
	seen := map[string]bool{}
	for i, s := range items {
		if !valid(s) {
			return ferr(fmt.Sprintf("%s[%d]", path, i), "%q is not a valid id (no dots, spaces, * or >)", clip(s))
		}
		if seen[s] {
			return ferr(fmt.Sprintf("%s[%d]", path, i), "%q is listed twice", clip(s))
		}
		seen[s] = true
	}
	return nil
}

// JitterDuration returns the plan's jitter (0 when unset).
func (p Plan) JitterDuration() time.Duration {
	d, _ := ParseDuration(p.Jitter)
	return d
}

// JitterSecs is the jitter in whole seconds (rounded up) for Command.jitter_secs.
func (p Plan) JitterSecs() int64 { return ceilSecs(p.JitterDuration()) }

// DelayDuration returns the wave's delay (0 when unset).
func (w Wave) DelayDuration() time.Duration {
	d, _ := ParseDuration(w.Delay)
	return d
}

// Subject is the NATS subject of a group wave.
func (w Wave) Subject() string { return bus.CommandsGroup(w.Group) }

// Waves reports whether the plan is a staged rollout.
func (p Plan) Waves() bool { return p.Rollout != nil && len(p.Rollout.Waves) > 0 }

// Subjects lists the command subjects of a target plan, one Command each:
// commands.all, or commands.group.<g> for each group then commands.pc.<pc>
// for each pc. For a rollout it lists each wave's subject in wave order; a
// sliced rollout has no subject known in advance (each wave's PCs are
// resolved when it is sent) and lists none.
func (p Plan) Subjects() []string {
	if p.Sliced() {
		return []string{}
	}
	if p.Waves() {
		out := make([]string, 0, len(p.Rollout.Waves))
		for _, w := range p.Rollout.Waves {
			out = append(out, w.Subject())
		}
		return out
	}
	if p.Target.All {
		return []string{bus.SubjCommandsAll}
	}
	out := make([]string, 0, len(p.Target.Groups)+len(p.Target.PCs))
	for _, g := range p.Target.Groups {
		out = append(out, bus.CommandsGroup(g))
	}
	for _, pc := range p.Target.PCs {
		out = append(out, bus.CommandsPC(pc))
	}
	return out
}

// Matches reports whether a PC with the given groups is targeted: by all,
// by being listed, by being in a listed group, or (rollouts) by being in
// any wave's group; a sliced rollout by its target. Use it to count
// target_count over known live PCs.
func (p Plan) Matches(pcID string, groups []string) bool {
	if p.Waves() && !p.HasTarget() {
		for _, w := range p.Rollout.Waves {
			if slices.Contains(groups, w.Group) {
				return true
			}
		}
		return false
	}
	if p.Target.All || slices.Contains(p.Target.PCs, pcID) {
		return true
	}
	for _, g := range p.Target.Groups {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// JSON is the canonical serialisation of the plan.
func (p Plan) JSON() []byte { return mustJSON(p) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain strings, bools and times: cannot fail.
		panic(fmt.Sprintf("manifest: marshal: %v", err))
	}
	return b
}
