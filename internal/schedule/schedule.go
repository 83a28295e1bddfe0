// Package schedule is the Schedule document of SPEC §4 (KV `schedules`):
// which job runs, where (an inline plan) and when — exactly one of a cron
// expression, a calendar rule, or a per-PC reconcile mode — and the
// computation of its fire times (Next, Preview).
//
// Parsing is strict like package manifest: every error is a
// *manifest.FieldError naming the field path ("when.cron", "tz").
//
// Fire-time semantics, all evaluated in the schedule's tz:
//
//   - cron: 5 fields (minute hour dom month dow) or 6 with seconds first,
//     plus @hourly/@daily/@weekly/@monthly/@yearly and @every <dur>
//     (robfig/cron syntax; when both dom and dow are restricted a day
//     matching either fires, as in Vixie cron). Cron matches wall-clock
//     readings: on a spring-forward day a time inside the skipped hour does
//     not fire at all; on a fall-back day a time inside the repeated hour
//     fires twice (once per occurrence). Use tz: utc to avoid both.
//   - calendar {at: "HH:MM", days: [...]}: fires once per matching local
//     day. days: mon..sun, ranges (mon-fri, fri-mon), the nth weekday of the
//     month (tue#2, n = 1..5) and the last one (friL); empty = every day. A
//     skipped local time fires shifted forward by the gap (02:30 → 03:30);
//     a repeated local time fires once, at its first occurrence.
//   - calendar {at: "YYYY-MM-DD HH:MM"}: one shot; once it is in the past
//     Next reports false.
//   - per_pc: once | {every: dur}: the scheduler re-evaluates every
//     EvaluateEvery (on the minute); Next returns those evaluation ticks.
//     Which PCs are dispatched at a tick is the scheduler's decision.
//
// Next ignores Enabled; the scheduler checks it.
package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	// Embed the IANA database: Windows hosts and minimal containers have no
	// zoneinfo, and an operator's tz must not depend on the host.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/manifest/strict"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// EvaluateEvery is how often per_pc schedules are re-evaluated.
const EvaluateEvery = time.Minute

// MaxPreview caps Preview's n.
const MaxPreview = 1000

// Time zone names with a special meaning.
const (
	TZLocal = "local" // the backend host's zone (default)
	TZUTC   = "utc"
)

// Schedule is the value of KV schedules.<id>.
type Schedule struct {
	ID               string            `json:"id"`
	JobID            string            `json:"job_id"`
	Enabled          bool              `json:"enabled"`
	TZ               string            `json:"tz"`
	When             When              `json:"when"`
	Target           manifest.Target   `json:"target"`
	Rollout          *manifest.Rollout `json:"rollout,omitempty"`
	Jitter           string            `json:"jitter,omitempty"`
	StartingDeadline string            `json:"starting_deadline,omitempty"`
	// CountManual (per_pc only; default true): a success of the same job
	// from any source (a manual exec, another schedule) counts as this
	// PC's run. false: only this schedule's own dispatches count.
	CountManual *bool `json:"count_manual,omitempty"`

	c *compiled // set by Parse/Validate; Next compiles on demand without it
}

// When holds exactly one trigger.
type When struct {
	Cron     string    `json:"cron,omitempty"`
	Calendar *Calendar `json:"calendar,omitempty"`
	PerPC    *PerPC    `json:"per_pc,omitempty"`
}

// Calendar is a wall-clock trigger: At is "HH:MM" with Days (repeating) or
// "YYYY-MM-DD HH:MM" without Days (one shot).
type Calendar struct {
	At   string   `json:"at"`
	Days []string `json:"days,omitempty"`
}

// PerPC reconciles each target PC: Once = until it has succeeded once;
// otherwise re-run when its last success is older than Every.
type PerPC struct {
	Once  bool
	Every string
}

// MarshalJSON writes "once" or {"every": "6h"}, the authored shapes.
func (p PerPC) MarshalJSON() ([]byte, error) {
	if p.Once {
		return []byte(`"once"`), nil
	}
	return json.Marshal(map[string]string{"every": p.Every})
}

// EveryDuration is the re-run interval of per_pc: {every} (0 for once).
func (p PerPC) EveryDuration() time.Duration {
	if p.Once {
		return 0
	}
	d, _ := manifest.ParseDuration(p.Every)
	return d
}

// Document is one parsed schedule of a stream with its source text.
type Document struct {
	Schedule Schedule
	Source   []byte
}

func ferr(field, format string, a ...any) error {
	return &manifest.FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Parse decodes and validates one schedule from YAML or JSON. The trigger
// is written under `when:`; a top-level cron/calendar/per_pc key is accepted
// as shorthand. Serialisation (JSON) always uses `when`.
func Parse(data []byte) (Schedule, error) {
	docs, err := strict.ParseDocuments(data)
	if err != nil {
		return Schedule{}, err
	}
	switch len(docs) {
	case 0:
		return Schedule{}, ferr("", "empty document")
	case 1:
	default:
		return Schedule{}, ferr("", "found %d YAML documents; submit one at a time", len(docs))
	}
	return fromNode(docs[0])
}

// ParseAll decodes every schedule of a multi-document YAML stream (or one
// JSON object), for `kanade schedule apply`; a bad document fails the call
// with a *manifest.DocumentError.
func ParseAll(data []byte) ([]Document, error) {
	srcs, err := manifest.SplitDocuments(data)
	if err != nil {
		return nil, err
	}
	out := make([]Document, 0, len(srcs))
	for i, src := range srcs {
		s, err := Parse(src)
		if err != nil {
			return nil, &manifest.DocumentError{Index: i + 1, Err: err}
		}
		out = append(out, Document{Schedule: s, Source: src})
	}
	return out, nil
}

var whenKeys = []string{"cron", "calendar", "per_pc"}

func fromNode(n *strict.Node) (Schedule, error) {
	r := &strict.Reader{}
	o := r.Object(n, "")
	s := Schedule{
		ID:               o.Str("id"),
		JobID:            o.Str("job_id"),
		Enabled:          o.Bool("enabled", true),
		TZ:               o.Str("tz"),
		Jitter:           "",
		StartingDeadline: o.Str("starting_deadline"),
	}
	if o.Has("count_manual") {
		v := o.Bool("count_manual", true)
		s.CountManual = &v
	}
	p := manifest.ReadPlanFields(r, o)
	s.Target, s.Rollout, s.Jitter = p.Target, p.Rollout, p.Jitter

	// Collect triggers from `when:` and from top-level shorthand keys.
	type src struct {
		key, path string
		n         *strict.Node
	}
	var found []src
	w := o.Object("when")
	if o.Has("when") && !w.Present() && r.Err() == nil {
		r.Fail("when", "must be a mapping")
	}
	for _, k := range whenKeys {
		if v := w.Get(k); v != nil {
			found = append(found, src{k, w.Path(k), v})
		}
		if v := o.Get(k); v != nil {
			found = append(found, src{k, k, v})
		}
	}
	w.Close()
	shorthand := false
	switch {
	case r.Err() != nil:
	case len(found) == 0:
		r.Fail("when", "is required: one of cron, calendar, per_pc")
	case len(found) > 1:
		r.Fail(found[1].path, "only one trigger is allowed (found %s and %s)", found[0].path, found[1].path)
	default:
		f := found[0]
		shorthand = f.path == f.key
		switch f.key {
		case "cron":
			s.When.Cron = r.ScalarText(f.n, f.path)
		case "calendar":
			co := r.Object(f.n, f.path)
			cal := &Calendar{At: co.Str("at")}
			if d := co.Get("days"); d != nil && d.Kind == strict.Scalar {
				cal.Days = []string{d.Text} // days: mon-fri
			} else {
				cal.Days = co.StrList("days")
			}
			co.Close()
			s.When.Calendar = cal
		case "per_pc":
			if f.n.Kind == strict.Scalar {
				if f.n.Text != "once" {
					r.Fail(f.path, "must be once or {every: <duration>}, not %q", clip(f.n.Text))
				}
				s.When.PerPC = &PerPC{Once: true}
			} else {
				po := r.Object(f.n, f.path)
				s.When.PerPC = &PerPC{Every: po.Str("every")}
				if s.When.PerPC.Every == "" && r.Err() == nil {
					r.Fail(po.Path("every"), "is required (e.g. every: 6h)")
				}
				po.Close()
			}
		}
	}
	o.Close()
	if err := r.Err(); err != nil {
		return Schedule{}, err
	}
	if s.TZ == "" {
		s.TZ = TZLocal
	}
	if err := s.Validate(); err != nil {
		var fe *manifest.FieldError
		if shorthand && errors.As(err, &fe) {
			fe.Field = strings.TrimPrefix(fe.Field, "when.")
		}
		return Schedule{}, err
	}
	return s, nil
}

func clip(s string) string {
	if len(s) > 70 {
		return s[:70] + "…"
	}
	return s
}

// Validate checks every field and compiles the trigger (so Next is cheap);
// Parse calls it. The error is a *manifest.FieldError.
func (s *Schedule) Validate() error {
	if err := manifest.CheckID("id", s.ID); err != nil {
		return err
	}
	if err := manifest.CheckID("job_id", s.JobID); err != nil {
		return err
	}
	if s.JobID == wire.AdhocJobID {
		return ferr("job_id", "%q is reserved for ad-hoc runs", wire.AdhocJobID)
	}
	loc, err := LoadTZ(s.TZ)
	if err != nil {
		return ferr("tz", "%v", err)
	}
	n := 0
	if s.When.Cron != "" {
		n++
	}
	if s.When.Calendar != nil {
		n++
	}
	if s.When.PerPC != nil {
		n++
	}
	if n != 1 {
		return ferr("when", "exactly one of cron, calendar, per_pc is required")
	}
	plan := s.Plan(time.Time{})
	if err := plan.Validate(); err != nil {
		return err
	}
	if s.CountManual != nil && s.When.PerPC == nil {
		return ferr("count_manual", "is only meaningful with per_pc")
	}
	if s.When.PerPC != nil && s.Rollout != nil {
		return ferr("rollout", "is not allowed with per_pc: each PC is dispatched on its own")
	}
	if s.StartingDeadline != "" {
		d, err := manifest.ParseDuration(s.StartingDeadline)
		if err != nil {
			return ferr("starting_deadline", "%v", err)
		}
		if d < time.Second {
			return ferr("starting_deadline", "must be at least 1s")
		}
	}
	c, err := compile(s.When, loc)
	if err != nil {
		return err
	}
	s.c = c
	return nil
}

var tzRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$`)

// LoadTZ resolves a schedule tz: "local" (or empty) is the host's zone,
// "utc" is UTC (both case-insensitive), anything else an IANA name such as
// "Asia/Tokyo".
func LoadTZ(tz string) (*time.Location, error) {
	switch strings.ToLower(tz) {
	case "", TZLocal:
		return time.Local, nil
	case TZUTC:
		return time.UTC, nil
	}
	if !tzRe.MatchString(tz) || strings.Contains(tz, "..") {
		return nil, fmt.Errorf("%q is not a time zone (use local, utc or an IANA name like Europe/Paris)", clip(tz))
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (use local, utc or an IANA name like Europe/Paris)", tz)
	}
	return loc, nil
}

// Location is the schedule's time zone (time.Local if tz is invalid).
func (s Schedule) Location() *time.Location {
	loc, err := LoadTZ(s.TZ)
	if err != nil {
		return time.Local
	}
	return loc
}

// CountsManual reports whether a per_pc schedule counts successes of its
// job from any source (the default), not only its own dispatches.
func (s Schedule) CountsManual() bool { return s.CountManual == nil || *s.CountManual }

// IsPerPC reports whether the schedule reconciles per PC (per_pc once or every).
func (s Schedule) IsPerPC() bool { return s.When.PerPC != nil }

// Plan is the exec plan of a fire at tick: the schedule's target, rollout
// and jitter, with deadline_at = tick + starting_deadline when one is set.
func (s Schedule) Plan(tick time.Time) manifest.Plan {
	p := manifest.Plan{Target: s.Target, Rollout: s.Rollout, Jitter: s.Jitter}
	if s.StartingDeadline != "" && !tick.IsZero() {
		if d, err := manifest.ParseDuration(s.StartingDeadline); err == nil {
			dl := tick.Add(d).UTC()
			p.DeadlineAt = &dl
		}
	}
	return p
}

// JSON is the canonical serialisation stored in KV schedules.
func (s Schedule) JSON() []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("schedule: marshal: %v", err)) // plain strings and bools only
	}
	return b
}

// Next returns the first fire time strictly after after, in the schedule's
// tz, or false when there is none (a one-shot in the past, or a schedule
// that does not validate).
func (s Schedule) Next(after time.Time) (time.Time, bool) {
	c := s.c
	if c == nil {
		cp := s
		if cp.Validate() != nil {
			return time.Time{}, false
		}
		c = cp.c
	}
	return c.next(after)
}

// Preview lists up to n fire times after from (n is capped at MaxPreview),
// for GET /api/schedules/{id}/preview.
func (s Schedule) Preview(from time.Time, n int) []time.Time {
	n = min(n, MaxPreview)
	out := []time.Time{}
	c := s.c
	if c == nil {
		cp := s
		if cp.Validate() != nil {
			return out
		}
		c = cp.c
	}
	t := from
	for len(out) < n {
		next, ok := c.next(t)
		if !ok {
			break
		}
		out = append(out, next)
		t = next
	}
	return out
}

// cronParser accepts 5 or 6 fields (seconds optional) and descriptors.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

type compiled struct {
	loc   *time.Location
	cron  cron.Schedule
	cal   *calSpec
	perPC bool
}

func compile(w When, loc *time.Location) (*compiled, error) {
	c := &compiled{loc: loc}
	switch {
	case w.Cron != "":
		sched, err := parseCron(w.Cron)
		if err != nil {
			return nil, ferr("when.cron", "%v", err)
		}
		// robfig gives up after five years: an expression like Feb 30 never fires.
		ref := time.Date(2000, 1, 1, 0, 0, 0, 0, loc)
		if sched.Next(ref).IsZero() {
			return nil, ferr("when.cron", "%q never fires", clip(w.Cron))
		}
		c.cron = sched
	case w.Calendar != nil:
		cs, err := parseCalendar(*w.Calendar)
		if err != nil {
			return nil, err
		}
		c.cal = cs
	case w.PerPC != nil:
		if !w.PerPC.Once {
			if w.PerPC.Every == "" {
				return nil, ferr("when.per_pc.every", "is required (e.g. every: 6h)")
			}
			d, err := manifest.ParseDuration(w.PerPC.Every)
			if err != nil {
				return nil, ferr("when.per_pc.every", "%v", err)
			}
			if d < EvaluateEvery {
				return nil, ferr("when.per_pc.every", "must be at least %s (per_pc is evaluated every minute)", manifest.FormatDuration(EvaluateEvery))
			}
		}
		c.perPC = true
	}
	return c, nil
}

func parseCron(expr string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("invalid cron expression %q", clip(expr))
		}
	}()
	e := strings.TrimSpace(expr)
	if strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ=") {
		return nil, errors.New("set the time zone with tz, not inside the expression")
	}
	if len(e) > 200 {
		return nil, errors.New("expression is too long")
	}
	sched, err = cronParser.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %v (use 5 fields, or 6 with seconds first)", clip(expr), err)
	}
	return sched, nil
}

func (c *compiled) next(after time.Time) (time.Time, bool) {
	switch {
	case c.cron != nil:
		t := c.cron.Next(after.In(c.loc))
		return t, !t.IsZero()
	case c.cal != nil:
		return c.cal.next(after, c.loc)
	case c.perPC:
		return after.Truncate(EvaluateEvery).Add(EvaluateEvery).In(c.loc), true
	}
	return time.Time{}, false
}
