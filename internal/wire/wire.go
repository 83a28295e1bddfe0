// Package wire defines the JSON messages that cross the broker (SPEC §3) and
// the strict decoders the backend and agents use on untrusted input.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Reserved exit codes (SPEC §3).
const (
	ExitKilled      = -1  // killed or timed out
	ExitRefused     = 123 // bad signature: a failure, not a skip
	ExitVersionPin  = 124 // skip: script_current differs
	ExitDeadline    = 125 // skip: deadline_at passed
	ExitRevoked     = 126 // skip: script_status REVOKED
	AdhocJobID      = "adhoc"
	StatusActive    = "ACTIVE"
	StatusRevoked   = "REVOKED"
	MaxInlineOutput = 256 << 10 // bytes of stdout/stderr carried inline in a result
)

// Shells accepted in commands and manifests.
var Shells = []string{"sh", "bash", "powershell", "pwsh", "cmd"}

// ValidShell reports whether s is one of Shells.
func ValidShell(s string) bool {
	for _, x := range Shells {
		if x == s {
			return true
		}
	}
	return false
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether id can be used as a job, schedule or group id: it
// becomes part of NATS subjects and KV keys, so '.', '*', '>' and spaces are
// excluded by construction.
func ValidID(id string) bool { return idRe.MatchString(id) }

var pcRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$`)

// ValidPCID reports whether id is usable as a pc_id (a subject token and a KV key).
func ValidPCID(id string) bool { return pcRe.MatchString(id) }

// Command is published on commands.* (stream EXEC).
type Command struct {
	ID          string     `json:"id"`
	Version     string     `json:"version"`
	RequestID   string     `json:"request_id"`
	ExecID      string     `json:"exec_id"`
	Shell       string     `json:"shell"`
	Script      string     `json:"script"`
	TimeoutSecs int64      `json:"timeout_secs"`
	JitterSecs  int64      `json:"jitter_secs,omitempty"`
	RunAs       string     `json:"run_as,omitempty"`
	Cwd         string     `json:"cwd,omitempty"`
	DeadlineAt  *time.Time `json:"deadline_at,omitempty"`
}

// EventStarted is published by an agent on events.started.<exec_id>.<pc>.
type EventStarted struct {
	ResultID   string    `json:"result_id"`
	RequestID  string    `json:"request_id"`
	ExecID     string    `json:"exec_id"`
	PCID       string    `json:"pc_id"`
	StartedAt  time.Time `json:"started_at"`
	ManifestID string    `json:"manifest_id"`
	Version    string    `json:"version"`
}

// ExecResult is published by an agent on results.<request_id>.
type ExecResult struct {
	ResultID   string    `json:"result_id"`
	RequestID  string    `json:"request_id"`
	ExecID     string    `json:"exec_id"`
	PCID       string    `json:"pc_id"`
	ManifestID string    `json:"manifest_id"`
	Version    string    `json:"version"`
	ExitCode   int       `json:"exit_code"`
	Stdout     string    `json:"stdout"`
	Stderr     string    `json:"stderr"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Skipped    bool      `json:"skipped,omitempty"`
	TimedOut   bool      `json:"timed_out,omitempty"`
	Killed     bool      `json:"killed,omitempty"`
}

// Heartbeat is published on heartbeat.<pc> (core NATS) and returned by ping.
type Heartbeat struct {
	PCID          string    `json:"pc_id"`
	Hostname      string    `json:"hostname"`
	OSFamily      string    `json:"os_family"`
	OSVersion     string    `json:"os_version"`
	Arch          string    `json:"arch"`
	AgentVersion  string    `json:"agent_version"`
	At            time.Time `json:"at"`
	BootTime      time.Time `json:"boot_time"`
	AgentRSSBytes uint64    `json:"agent_rss_bytes"`
	AgentCPUPct   float64   `json:"agent_cpu_pct"`
	Running       int       `json:"running"`
}

// AuditEvent is published on audit.<actor>.<action> (stream AUDIT).
type AuditEvent struct {
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Target     string          `json:"target,omitempty"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	OccurredAt time.Time       `json:"occurred_at"`
	SourceIP   string          `json:"source_ip,omitempty"`
}

// AgentGroups is the value of KV agent_groups.<pc>.
type AgentGroups struct {
	Groups []string `json:"groups"`
}

// Freeze is the value of KV fleet_config.freeze; absent means not frozen.
type Freeze struct {
	Reason string     `json:"reason,omitempty"`
	By     string     `json:"by,omitempty"`
	Since  time.Time  `json:"since"`
	Until  *time.Time `json:"until,omitempty"`
}

// Active reports whether the freeze is in force at now.
func (f Freeze) Active(now time.Time) bool { return f.Until == nil || now.Before(*f.Until) }

// ErrInvalid wraps every validation failure of a decoder.
var ErrInvalid = errors.New("invalid message")

func decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", ErrInvalid)
	}
	return nil
}

func require(field, v string) error {
	if v == "" {
		return fmt.Errorf("%w: %s is required", ErrInvalid, field)
	}
	return nil
}

// DecodeCommand decodes and validates a Command. Unknown fields are ignored
// (forward compatibility); missing essentials are an error.
func DecodeCommand(data []byte) (Command, error) {
	var c Command
	if err := decode(data, &c); err != nil {
		return c, err
	}
	for _, f := range [][2]string{{"id", c.ID}, {"request_id", c.RequestID}, {"exec_id", c.ExecID}, {"shell", c.Shell}} {
		if err := require(f[0], f[1]); err != nil {
			return c, err
		}
	}
	if !ValidShell(c.Shell) {
		return c, fmt.Errorf("%w: shell %q is not one of %v", ErrInvalid, c.Shell, Shells)
	}
	if c.TimeoutSecs < 0 || c.JitterSecs < 0 {
		return c, fmt.Errorf("%w: timeout_secs and jitter_secs must not be negative", ErrInvalid)
	}
	return c, nil
}

// DecodeEventStarted decodes and validates an EventStarted.
func DecodeEventStarted(data []byte) (EventStarted, error) {
	var e EventStarted
	if err := decode(data, &e); err != nil {
		return e, err
	}
	for _, f := range [][2]string{{"result_id", e.ResultID}, {"pc_id", e.PCID}} {
		if err := require(f[0], f[1]); err != nil {
			return e, err
		}
	}
	if e.StartedAt.IsZero() {
		return e, fmt.Errorf("%w: started_at is required", ErrInvalid)
	}
	return e, nil
}

// DecodeExecResult decodes and validates an ExecResult.
func DecodeExecResult(data []byte) (ExecResult, error) {
	var r ExecResult
	if err := decode(data, &r); err != nil {
		return r, err
	}
	for _, f := range [][2]string{{"result_id", r.ResultID}, {"pc_id", r.PCID}} {
		if err := require(f[0], f[1]); err != nil {
			return r, err
		}
	}
	return r, nil
}

// DecodeHeartbeat decodes and validates a Heartbeat.
func DecodeHeartbeat(data []byte) (Heartbeat, error) {
	var h Heartbeat
	if err := decode(data, &h); err != nil {
		return h, err
	}
	if !ValidPCID(h.PCID) {
		return h, fmt.Errorf("%w: pc_id %q", ErrInvalid, h.PCID)
	}
	return h, nil
}

// DecodeAuditEvent decodes and validates an AuditEvent.
func DecodeAuditEvent(data []byte) (AuditEvent, error) {
	var a AuditEvent
	if err := decode(data, &a); err != nil {
		return a, err
	}
	for _, f := range [][2]string{{"actor", a.Actor}, {"action", a.Action}} {
		if err := require(f[0], f[1]); err != nil {
			return a, err
		}
	}
	if len(a.Payload) > 0 && a.Payload[0] != '{' && string(a.Payload) != "null" {
		return a, fmt.Errorf("%w: payload must be an object", ErrInvalid)
	}
	return a, nil
}

// DecodeAgentGroups decodes KV agent_groups values; a bare JSON array is
// accepted too, since operators sometimes write one by hand with the nats CLI.
func DecodeAgentGroups(data []byte) (AgentGroups, error) {
	var g AgentGroups
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if err := decode(trimmed, &g.Groups); err != nil {
			return g, err
		}
	} else if err := decode(data, &g); err != nil {
		return g, err
	}
	for _, name := range g.Groups {
		if !ValidID(name) {
			return g, fmt.Errorf("%w: group %q", ErrInvalid, name)
		}
	}
	return g, nil
}
