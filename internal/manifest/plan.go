package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
// Rules: exactly one of target and rollout.waves. A target is either
// all: true, or a non-empty list of groups and/or pcs (their union). Waves
// each name one group and a delay from the exec (0 = at once); a group may
// appear in one wave only. Jitter ≥ 0; deadline_at is RFC 3339.
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

// Rollout is a staged deploy: one Command per wave on commands.group.<g>.
type Rollout struct {
	Waves []Wave `json:"waves"`
}

// Wave is one stage of a rollout.
type Wave struct {
	Group string `json:"group"`
	Delay string `json:"delay,omitempty"` // from the exec; empty or "0" = immediately
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
			p.Rollout.Waves = append(p.Rollout.Waves, Wave{Group: wo.Str("group"), Delay: wo.Str("delay")})
			wo.Close()
		}
		ro.Close()
	}
	p.Jitter = o.Str("jitter")
	return p
}

// Validate applies the plan rules (see Plan). The error is a *FieldError.
func (p Plan) Validate() error {
	t := p.Target
	hasTarget := t.All || len(t.Groups) > 0 || len(t.PCs) > 0
	if p.Rollout != nil {
		if len(p.Rollout.Waves) == 0 {
			return ferr("rollout.waves", "must list at least one wave")
		}
		if hasTarget {
			return ferr("rollout", "cannot be combined with target: each wave names its own group")
		}
		if len(p.Rollout.Waves) > MaxWaves {
			return ferr("rollout.waves", "at most %d waves", MaxWaves)
		}
		seen := map[string]bool{}
		for i, w := range p.Rollout.Waves {
			path := fmt.Sprintf("rollout.waves[%d]", i)
			if err := CheckID(path+".group", w.Group); err != nil {
				return err
			}
			if seen[w.Group] {
				return ferr(path+".group", "group %q is already in an earlier wave", w.Group)
			}
			seen[w.Group] = true
			if w.Delay != "" {
				if _, err := ParseDuration(w.Delay); err != nil {
					return ferr(path+".delay", "%v", err)
				}
			}
		}
	} else {
		if !hasTarget {
			return ferr("target", "is required: all: true, groups or pcs (or rollout.waves)")
		}
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

// Subject is the NATS subject of the wave.
func (w Wave) Subject() string { return bus.CommandsGroup(w.Group) }

// Waves reports whether the plan is a staged rollout.
func (p Plan) Waves() bool { return p.Rollout != nil && len(p.Rollout.Waves) > 0 }

// Subjects lists the command subjects of a target plan, one Command each:
// commands.all, or commands.group.<g> for each group then commands.pc.<pc>
// for each pc. For a rollout it lists each wave's subject in wave order.
func (p Plan) Subjects() []string {
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
// any wave's group. Use it to count target_count over known live PCs.
func (p Plan) Matches(pcID string, groups []string) bool {
	if p.Waves() {
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
