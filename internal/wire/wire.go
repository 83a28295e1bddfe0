// Package wire defines the JSON messages that cross the broker (SPEC §3) and
// the strict decoders the backend and agents use on untrusted input.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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

// Field limits of the decoders. Messages come from agents and the network,
// so every id is checked against the subject-token rules of SPEC §2 and every
// field has a bound; anything else is refused and the projectors log, count
// and acknowledge it.
const (
	MaxTokenLen   = 128 // result_id, request_id, exec_id (UUIDs in practice)
	MaxVersionLen = 64  // as the manifest rule
	MaxTextLen    = 256 // free-text heartbeat fields (hostname, os_version, …)
	// MaxWireOutput bounds stdout and stderr in a result: the agent keeps them
	// to MaxInlineOutput (head and tail with a marker); the margin leaves room
	// for a writer that counts the marker slightly differently.
	MaxWireOutput = MaxInlineOutput + 4<<10
)

// ValidToken reports whether s can be one token of a NATS subject and a KV
// key (SPEC §2): 1..max bytes of valid UTF-8 without '.', '*', '>',
// whitespace or control characters (NUL included).
func ValidToken(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return r == '.' || r == '*' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	}) < 0
}

// validVersion is the manifest's version rule: at most MaxVersionLen bytes,
// no whitespace or control characters; empty is allowed (ad-hoc runs).
func validVersion(v string) bool {
	return len(v) <= MaxVersionLen && utf8.ValidString(v) && strings.IndexFunc(v, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	}) < 0
}

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
	// StdoutRef and StderrRef name the full output in object store
	// result_output (OutputRef) when Stdout/Stderr are only its head and
	// tail; the agent publishes the chunks (OutputChunk) before the result.
	StdoutRef string `json:"stdout_ref,omitempty"`
	StderrRef string `json:"stderr_ref,omitempty"`
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
	// Self-update (SPEC §13). Empty state from an older agent means
	// "current".
	UpdateState        string `json:"update_state,omitempty"`
	UpdateError        string `json:"update_error,omitempty"`
	QuarantinedVersion string `json:"quarantined_version,omitempty"`
}

// Update states an agent reports in heartbeats (SPEC §13).
const (
	UpdateCurrent     = "current"     // running its target (or no target)
	UpdateDownloading = "downloading" // fetching and verifying the target's binary
	UpdateRestarting  = "restarting"  // binary swapped; restarting into it
	UpdateFailed      = "failed"      // the last attempt failed (update_error says why); retried later
	UpdateQuarantined = "quarantined" // the target crash-looped here and was rolled back
)

// UpdateStates lists the valid update states.
var UpdateStates = []string{UpdateCurrent, UpdateDownloading, UpdateRestarting, UpdateFailed, UpdateQuarantined}

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

// decode is json.Unmarshal, which refuses anything after the value (as
// the json.Decoder + More() check it replaced did, and also a stray closing
// bracket that one let through) without the Decoder's buffer copy and
// allocation per message: the projectors decode every result with it.
func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func require(field, v string) error {
	if v == "" {
		return invalid(field, "is required")
	}
	return nil
}

// invalid is a validation failure that wraps ErrInvalid and names the field
// (Reason reads it for the projectors' drop counter).
func invalid(field, msg string) error {
	return fmt.Errorf("%w: %w", ErrInvalid, &FieldError{Field: field, Msg: msg})
}

// Reason names why a decoder refused a message, for metric labels: the
// offending field, or "malformed" when the JSON itself did not decode.
func Reason(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return "malformed"
}

// idField is one id of a message and whether it may be empty.
type idField struct {
	name     string
	v        string
	required bool
}

// checkIDs applies the id rules: pc_id as ValidPCID, manifest_id as the
// manifest's id rule, every other id as a subject token of MaxTokenLen.
func checkIDs(ids ...idField) error {
	for _, f := range ids {
		if f.v == "" {
			if f.required {
				return invalid(f.name, "is required")
			}
			continue
		}
		var ok bool
		switch f.name {
		case "pc_id":
			ok = ValidPCID(f.v)
		case "manifest_id":
			ok = ValidID(f.v)
		default:
			ok = ValidToken(f.v, MaxTokenLen)
		}
		if !ok {
			return invalid(f.name, fmt.Sprintf("%.40q breaks the id rules (SPEC §2)", f.v))
		}
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
	if err := checkIDs(idField{"result_id", e.ResultID, true}, idField{"pc_id", e.PCID, true},
		idField{"request_id", e.RequestID, false}, idField{"exec_id", e.ExecID, false},
		idField{"manifest_id", e.ManifestID, false}); err != nil {
		return e, err
	}
	if !validVersion(e.Version) {
		return e, invalid("version", fmt.Sprintf("must be at most %d bytes without spaces or control characters", MaxVersionLen))
	}
	if e.StartedAt.IsZero() {
		return e, invalid("started_at", "is required")
	}
	return e, nil
}

// DecodeExecResult decodes and validates an ExecResult.
func DecodeExecResult(data []byte) (ExecResult, error) {
	var r ExecResult
	if err := decode(data, &r); err != nil {
		return r, err
	}
	if err := checkIDs(idField{"result_id", r.ResultID, true}, idField{"pc_id", r.PCID, true},
		idField{"request_id", r.RequestID, false}, idField{"exec_id", r.ExecID, false},
		idField{"manifest_id", r.ManifestID, false}); err != nil {
		return r, err
	}
	if !validVersion(r.Version) {
		return r, invalid("version", fmt.Sprintf("must be at most %d bytes without spaces or control characters", MaxVersionLen))
	}
	if len(r.Stdout) > MaxWireOutput {
		return r, invalid("stdout", fmt.Sprintf("is %d bytes, over the %d inline limit", len(r.Stdout), MaxWireOutput))
	}
	if len(r.Stderr) > MaxWireOutput {
		return r, invalid("stderr", fmt.Sprintf("is %d bytes, over the %d inline limit", len(r.Stderr), MaxWireOutput))
	}
	for _, f := range [][3]string{{"stdout_ref", r.StdoutRef, OutputStdout}, {"stderr_ref", r.StderrRef, OutputStderr}} {
		if f[1] != "" && f[1] != OutputRef(r.ResultID, f[2]) {
			return r, invalid(f[0], fmt.Sprintf("must be %q", OutputRef(r.ResultID, f[2])))
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
	if err := checkIDs(idField{"pc_id", h.PCID, true}); err != nil {
		return h, err
	}
	for _, f := range [][2]string{{"hostname", h.Hostname}, {"os_family", h.OSFamily}, {"os_version", h.OSVersion},
		{"arch", h.Arch}, {"agent_version", h.AgentVersion}, {"update_error", h.UpdateError},
		{"quarantined_version", h.QuarantinedVersion}} {
		if len(f[1]) > MaxTextLen {
			return h, invalid(f[0], fmt.Sprintf("must be at most %d bytes", MaxTextLen))
		}
	}
	if h.UpdateState != "" && !slices.Contains(UpdateStates, h.UpdateState) {
		return h, invalid("update_state", "must be one of "+strings.Join(UpdateStates, ", "))
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
