package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/manifest"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Jobs is the job catalog: KV jobs (canonical manifest JSON, what exec
// and the scheduler read), jobs_yaml (the submitted text, for editing),
// script_status (ACTIVE | REVOKED, read by agents) and script_current
// (the version pinned by the last exec, read by agents).
type Jobs struct{ s *Store }

// JobState is a job's revocation status and pinned version.
type JobState struct {
	Status string  // wire.StatusActive (also when never set) or wire.StatusRevoked
	Pinned *string // nil when the job was never exec'd
}

// JobEntry is one job of List.
type JobEntry struct {
	ID       string
	Manifest manifest.Manifest // zero but for ID when Err is set
	Err      error             // the stored manifest does not validate (ErrInvalid)
	JobState
}

// Get reads and validates a job: ErrJobNotFound when absent, an error
// wrapping ErrInvalid when the stored manifest does not validate.
func (j *Jobs) Get(ctx context.Context, id string) (manifest.Manifest, error) {
	kv, err := j.s.bucket(ctx, bus.KVJobs)
	if err != nil {
		return manifest.Manifest{}, err
	}
	v, _, ok, err := get(ctx, kv, id)
	if err != nil {
		return manifest.Manifest{}, fmt.Errorf("get job %s: %w", id, err)
	}
	if !ok {
		return manifest.Manifest{}, ErrJobNotFound
	}
	m, err := manifest.Parse(v)
	if err != nil {
		return manifest.Manifest{}, invalid(fmt.Sprintf("job %s in KV does not validate", id), err)
	}
	return m, nil
}

// Text returns the submitted text of a job (jobs_yaml); ok false when
// there is none or it cannot be read (the caller shows the JSON instead).
func (j *Jobs) Text(ctx context.Context, id string) (string, bool) {
	kv, err := j.s.bucket(ctx, bus.KVJobsYAML)
	if err != nil {
		return "", false
	}
	v, _, ok, err := get(ctx, kv, id)
	if err != nil || !ok {
		return "", false
	}
	return string(v), true
}

// Put stores a validated manifest and the text it was submitted as
// (the JSON first: that is what exec reads). created reports a new job.
func (j *Jobs) Put(ctx context.Context, m manifest.Manifest, text []byte) (created bool, err error) {
	jobs, err := j.s.bucket(ctx, bus.KVJobs)
	if err != nil {
		return false, err
	}
	_, _, existed, err := get(ctx, jobs, m.ID)
	if err != nil {
		return false, fmt.Errorf("get job %s: %w", m.ID, err)
	}
	if _, err := jobs.Put(ctx, m.ID, m.JSON()); err != nil {
		return false, fmt.Errorf("put job %s: %w", m.ID, err)
	}
	yk, err := j.s.bucket(ctx, bus.KVJobsYAML)
	if err != nil {
		return false, err
	}
	if _, err := yk.Put(ctx, m.ID, text); err != nil {
		return false, fmt.Errorf("put job text %s: %w", m.ID, err)
	}
	return !existed, nil
}

// Delete removes a job and its text (absent keys are fine). Its
// script_status stays: a job re-created later is still REVOKED.
func (j *Jobs) Delete(ctx context.Context, id string) error {
	for _, b := range []string{bus.KVJobsYAML, bus.KVJobs} {
		kv, err := j.s.bucket(ctx, b)
		if err != nil {
			return err
		}
		if err := del(ctx, kv, id); err != nil {
			return fmt.Errorf("delete %s.%s: %w", b, id, err)
		}
	}
	return nil
}

// List returns every job sorted by id, each with its state. A stored
// manifest that does not validate is listed with Err set.
func (j *Jobs) List(ctx context.Context) ([]JobEntry, error) {
	jobs, err := j.s.bucket(ctx, bus.KVJobs)
	if err != nil {
		return nil, err
	}
	es, err := entries(ctx, jobs, ">")
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	status, err := j.values(ctx, bus.KVScriptStatus)
	if err != nil {
		return nil, err
	}
	pins, err := j.values(ctx, bus.KVScriptCurrent)
	if err != nil {
		return nil, err
	}
	out := make([]JobEntry, 0, len(es))
	for _, e := range es {
		je := JobEntry{ID: e.key, JobState: JobState{Status: wire.StatusActive}}
		if m, err := manifest.Parse(e.value); err != nil {
			je.Manifest, je.Err = manifest.Manifest{ID: e.key}, invalid("", err)
		} else {
			je.Manifest = m
		}
		if s, ok := status[e.key]; ok {
			je.Status = s
		}
		if v, ok := pins[e.key]; ok {
			je.Pinned = &v
		}
		out = append(out, je)
	}
	slices.SortFunc(out, func(a, b JobEntry) int { return strings.Compare(a.Manifest.ID, b.Manifest.ID) })
	return out, nil
}

func (j *Jobs) values(ctx context.Context, bucket string) (map[string]string, error) {
	kv, err := j.s.bucket(ctx, bucket)
	if err != nil {
		return nil, err
	}
	es, err := entries(ctx, kv, ">")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", bucket, err)
	}
	out := make(map[string]string, len(es))
	for _, e := range es {
		out[e.key] = strings.TrimSpace(string(e.value))
	}
	return out, nil
}

// State returns a job's status (ACTIVE when never set) and pin.
func (j *Jobs) State(ctx context.Context, id string) (JobState, error) {
	st := JobState{Status: wire.StatusActive}
	kv, err := j.s.bucket(ctx, bus.KVScriptStatus)
	if err != nil {
		return st, err
	}
	v, _, ok, err := get(ctx, kv, id)
	if err != nil {
		return st, fmt.Errorf("get script_status %s: %w", id, err)
	}
	if ok {
		st.Status = strings.TrimSpace(string(v))
	}
	cur, err := j.s.bucket(ctx, bus.KVScriptCurrent)
	if err != nil {
		return st, err
	}
	v, _, ok, err = get(ctx, cur, id)
	if err != nil {
		return st, fmt.Errorf("get script_current %s: %w", id, err)
	}
	if ok {
		p := strings.TrimSpace(string(v))
		st.Pinned = &p
	}
	return st, nil
}

// HasStatus reports whether script_status has a key for the job (a
// deleted job keeps its REVOKED status).
func (j *Jobs) HasStatus(ctx context.Context, id string) (bool, error) {
	kv, err := j.s.bucket(ctx, bus.KVScriptStatus)
	if err != nil {
		return false, err
	}
	_, _, ok, err := get(ctx, kv, id)
	return ok, err
}

// Revoked reports whether the job's status is REVOKED (read as agents
// read it, surrounding space ignored).
func (j *Jobs) Revoked(ctx context.Context, id string) (bool, error) {
	kv, err := j.s.bucket(ctx, bus.KVScriptStatus)
	if err != nil {
		return false, err
	}
	v, _, ok, err := get(ctx, kv, id)
	if err != nil || !ok {
		return false, err
	}
	return strings.TrimSpace(string(v)) == wire.StatusRevoked, nil
}

// SetStatus sets script_status.<job> to REVOKED or ACTIVE. (Cancelling the
// job's pending waves on revoke is the dispatcher's part: fanout.)
func (j *Jobs) SetStatus(ctx context.Context, id string, revoked bool) error {
	kv, err := j.s.bucket(ctx, bus.KVScriptStatus)
	if err != nil {
		return err
	}
	status := wire.StatusActive
	if revoked {
		status = wire.StatusRevoked
	}
	if _, err := kv.PutString(ctx, id, status); err != nil {
		return fmt.Errorf("set script_status %s=%s: %w", id, status, err)
	}
	return nil
}

// Pin records the version an exec dispatched (script_current), which
// agents compare a command's version with before running it.
func (j *Jobs) Pin(ctx context.Context, id, version string) error {
	kv, err := j.s.bucket(ctx, bus.KVScriptCurrent)
	if err != nil {
		return err
	}
	if _, err := kv.PutString(ctx, id, version); err != nil {
		return fmt.Errorf("pin %s=%s: %w", id, version, err)
	}
	return nil
}

// Watch follows KV jobs. Values are the stored manifest JSON, undecoded:
// a cache may read single fields leniently (the projector's timeouts).
func (j *Jobs) Watch(ctx context.Context) (*Watch[json.RawMessage], error) {
	kv, err := j.s.bucket(ctx, bus.KVJobs)
	if err != nil {
		return nil, err
	}
	return watch(ctx, kv, ">", func(b []byte) (json.RawMessage, error) { return json.RawMessage(b), nil })
}

// Exists reports whether KV jobs has the id (valid or not).
func (j *Jobs) Exists(ctx context.Context, id string) (bool, error) {
	kv, err := j.s.bucket(ctx, bus.KVJobs)
	if err != nil {
		return false, err
	}
	_, _, ok, err := get(ctx, kv, id)
	if err != nil {
		return false, fmt.Errorf("get job %s: %w", id, err)
	}
	return ok, nil
}
