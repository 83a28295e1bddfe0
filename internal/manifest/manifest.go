// Package manifest is the job catalog's document model (SPEC §4): the job
// Manifest (what runs) and the exec Plan (where it runs: target, waves,
// jitter, deadline). Both parse strictly from YAML or JSON — unknown keys,
// wrong shapes and bad values are rejected with a *FieldError naming the
// field path, e.g. "execute.timout" — and serialise to the JSON stored in
// KV `jobs` / sent as the body of POST /api/exec/{job_id}.
//
// Always decode with Parse / ParsePlan (not json.Unmarshal): they apply
// defaults and validate.
package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kanade-fleet/kanade/internal/check"
	"github.com/kanade-fleet/kanade/internal/manifest/strict"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// FieldError is the error type of every parse and validation failure: Field
// is the path of the offending field ("execute.timeout",
// "rollout.waves[1].delay"; empty for a syntax error of the whole document)
// so the API can answer 422 {"error": err.Error(), "field": fe.Field}. It is
// wire.FieldError, so one errors.As covers config scopes too.
type FieldError = wire.FieldError

// Limits on manifest fields.
const (
	MaxScriptBytes = 512 << 10 // the script travels inline in every Command
	MaxVersionLen  = 64
	MaxTextLen     = 4096 // description, cwd
	MaxTags        = 64
)

// Run-as modes.
const (
	RunAsSystem = "system"
	RunAsUser   = "user"
)

// Manifest is a job: what runs. It is the value of KV jobs.<id>.
type Manifest struct {
	ID          string   `json:"id"`
	Version     string   `json:"version"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Execute     Execute  `json:"execute"`
	// Inventory, when set, makes the job an inventory job (SPEC §14): its
	// stdout (a JSON array of objects) replaces the PC's rows of Table.
	Inventory *Inventory `json:"inventory,omitempty"`
	// Check, when set, makes the job a compliance check (SPEC §15): each
	// result updates the PC's check_status and may open or resolve an alert.
	Check *Check `json:"check,omitempty"`
}

// Check is a manifest's `check:` section. Exactly one of Pass.ExitCode and
// Pass.StdoutMatches is set. Parse defaults Severity to warning and
// FlapThreshold to 1 (the first failure turns the state failing).
type Check struct {
	Pass          CheckPass `json:"pass"`
	Severity      string    `json:"severity"`
	FlapThreshold int       `json:"flap_threshold"`
}

// CheckPass is when a result passes: its exit code equals ExitCode, or its
// stdout (the first check.MaxInput bytes) matches the RE2 pattern
// StdoutMatches.
type CheckPass struct {
	ExitCode      *int   `json:"exit_code,omitempty"`
	StdoutMatches string `json:"stdout_matches,omitempty"`
}

// Validate checks a check declaration; field names are relative to the
// manifest ("check.pass.stdout_matches").
func (c Check) Validate() error {
	switch {
	case c.Pass.ExitCode == nil && c.Pass.StdoutMatches == "":
		return ferr("check.pass", "is required: exit_code or stdout_matches")
	case c.Pass.ExitCode != nil && c.Pass.StdoutMatches != "":
		return ferr("check.pass", "set exit_code or stdout_matches, not both")
	case c.Pass.ExitCode != nil && (*c.Pass.ExitCode < 0 || *c.Pass.ExitCode > 255):
		return ferr("check.pass.exit_code", "must be 0-255")
	case c.Pass.StdoutMatches != "":
		if _, err := check.Compile(c.Pass.StdoutMatches); err != nil {
			return ferr("check.pass.stdout_matches", "%v", err)
		}
	}
	if !check.ValidSeverity(c.Severity) {
		return ferr("check.severity", "%q is not one of %s", clip(c.Severity), strings.Join(check.Severities, ", "))
	}
	if c.FlapThreshold < 1 || c.FlapThreshold > check.MaxFlapThreshold {
		return ferr("check.flap_threshold", "must be 1-%d", check.MaxFlapThreshold)
	}
	return nil
}

// Rule compiles the declaration (Validate first).
func (c Check) Rule() (check.Rule, error) {
	r := check.Rule{Severity: c.Severity, FlapThreshold: c.FlapThreshold}
	if c.Pass.StdoutMatches != "" {
		re, err := check.Compile(c.Pass.StdoutMatches)
		if err != nil {
			return r, ferr("check.pass.stdout_matches", "%v", err)
		}
		r.Pattern = re
	} else if c.Pass.ExitCode != nil {
		r.ExitCode = *c.Pass.ExitCode
	}
	return r, nil
}

// Inventory declares the table an inventory job's output fills: Key is the
// columns that identify a row on one PC, Columns every column kept (other
// properties of the output's objects are dropped).
type Inventory struct {
	Table   string   `json:"table"`
	Key     []string `json:"key"`
	Columns []string `json:"columns"`
}

// MaxInventoryColumns bounds inventory.columns.
const MaxInventoryColumns = 64

// ValidTableName reports whether s is an inventory table or column name:
// [a-z][a-z0-9_]{0,62}, so it is safe in URLs, CSV headers and query
// parameters (where=column:op:value splits on ':').
func ValidTableName(s string) bool {
	if len(s) < 1 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Validate checks an inventory declaration; field names are relative to
// the manifest ("inventory.key[0]").
func (inv Inventory) Validate() error {
	if inv.Table == "" {
		return ferr("inventory.table", "is required")
	}
	if !ValidTableName(inv.Table) {
		return ferr("inventory.table", "%q is not a valid table name: use [a-z][a-z0-9_]{0,62}", clip(inv.Table))
	}
	if inv.Table == "facts" {
		return ferr("inventory.table", "%q is reserved for the built-in facts", inv.Table)
	}
	if len(inv.Columns) == 0 {
		return ferr("inventory.columns", "is required (at least one column)")
	}
	if len(inv.Columns) > MaxInventoryColumns {
		return ferr("inventory.columns", "at most %d columns", MaxInventoryColumns)
	}
	cols := map[string]bool{}
	for i, c := range inv.Columns {
		f := fmt.Sprintf("inventory.columns[%d]", i)
		if !ValidTableName(c) {
			return ferr(f, "%q is not a valid column name: use [a-z][a-z0-9_]{0,62}", clip(c))
		}
		if cols[c] {
			return ferr(f, "%q is listed twice", c)
		}
		cols[c] = true
	}
	if len(inv.Key) == 0 {
		return ferr("inventory.key", "is required (the columns that identify a row)")
	}
	seen := map[string]bool{}
	for i, k := range inv.Key {
		f := fmt.Sprintf("inventory.key[%d]", i)
		if !cols[k] {
			return ferr(f, "%q is not one of inventory.columns", clip(k))
		}
		if seen[k] {
			return ferr(f, "%q is listed twice", k)
		}
		seen[k] = true
	}
	return nil
}

// Execute says how the script runs on the agent.
type Execute struct {
	Shell   string `json:"shell"`         // one of wire.Shells
	Script  string `json:"script"`        // inline script text
	Timeout string `json:"timeout"`       // duration as written, e.g. "600s"; see ParseDuration
	Cwd     string `json:"cwd,omitempty"` // working directory on the agent
	RunAs   string `json:"run_as"`        // system (default) | user
}

// DocumentError wraps the error of one document of a multi-document stream
// (ParseAll); errors.As still reaches the inner *FieldError.
type DocumentError struct {
	Index int // 1-based position in the stream
	Err   error
}

func (e *DocumentError) Error() string { return fmt.Sprintf("document %d: %v", e.Index, e.Err) }
func (e *DocumentError) Unwrap() error { return e.Err }

// Document is one parsed manifest of a stream with its source text
// (comments kept), which the CLI submits as is so the backend can keep the
// original YAML for editing.
type Document struct {
	Manifest Manifest
	Source   []byte
}

func ferr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Parse decodes and validates one manifest from YAML or JSON.
func Parse(data []byte) (Manifest, error) {
	n, err := single(data)
	if err != nil {
		return Manifest{}, err
	}
	return fromNode(n)
}

// single parses data as exactly one document.
func single(data []byte) (*strict.Node, error) {
	docs, err := strict.ParseDocuments(data)
	if err != nil {
		return nil, err
	}
	switch len(docs) {
	case 0:
		return nil, ferr("", "empty document")
	case 1:
		return docs[0], nil
	default:
		return nil, ferr("", "found %d YAML documents; submit one at a time", len(docs))
	}
}

// SplitDocuments cuts a stream into the source of each non-empty document:
// a JSON object is one document, YAML is split at "---" lines. It is what
// ParseAll (here and in package schedule) is built on.
func SplitDocuments(data []byte) ([][]byte, error) {
	if len(data) > strict.MaxDocumentBytes*8 {
		return nil, ferr("", "input is larger than %d bytes", strict.MaxDocumentBytes*8)
	}
	if strict.IsJSON(data) {
		return [][]byte{data}, nil
	}
	docs := strict.SplitYAML(data)
	if len(docs) == 0 {
		return nil, ferr("", "empty document")
	}
	return docs, nil
}

// ParseAll decodes every manifest of a multi-document YAML stream (or one
// JSON object), for `kanade job apply|validate`. The first bad document
// fails the whole call with a *DocumentError.
func ParseAll(data []byte) ([]Document, error) {
	srcs, err := SplitDocuments(data)
	if err != nil {
		return nil, err
	}
	out := make([]Document, 0, len(srcs))
	for i, src := range srcs {
		m, err := Parse(src)
		if err != nil {
			return nil, &DocumentError{Index: i + 1, Err: err}
		}
		out = append(out, Document{Manifest: m, Source: src})
	}
	return out, nil
}

func fromNode(n *strict.Node) (Manifest, error) {
	r := &strict.Reader{}
	o := r.Object(n, "")
	m := Manifest{
		ID:          o.Str("id"),
		Version:     o.Str("version"),
		Description: o.Str("description"),
		Tags:        o.StrList("tags"),
	}
	ex := o.Object("execute")
	m.Execute = Execute{
		Shell:   ex.Str("shell"),
		Script:  ex.Str("script"),
		Timeout: ex.Str("timeout"),
		Cwd:     ex.Str("cwd"),
		RunAs:   ex.Str("run_as"),
	}
	ex.Close()
	if inv := o.Object("inventory"); inv.Present() {
		m.Inventory = &Inventory{Table: inv.Str("table"), Key: inv.StrList("key"), Columns: inv.StrList("columns")}
		inv.Close()
	}
	if c := o.Object("check"); c.Present() {
		m.Check = readCheck(r, c)
	}
	o.Close()
	if err := r.Err(); err != nil {
		return Manifest{}, err
	}
	if ex.Present() && m.Execute.RunAs == "" {
		m.Execute.RunAs = RunAsSystem
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// CheckID validates a job, schedule or group id for the field named field:
// [A-Za-z0-9_-]{1,64}, since ids become NATS subject tokens and KV keys.
func CheckID(field, id string) error {
	if id == "" {
		return ferr(field, "is required")
	}
	if !wire.ValidID(id) {
		return ferr(field, "%q is not a valid id: use 1-64 of A-Z a-z 0-9 _ - (no dots or spaces)", clip(id))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 70 {
		return s[:70] + "…"
	}
	return s
}

// Validate checks every field; parse functions call it, and callers that
// build a Manifest in code should too. The error is a *FieldError.
func (m Manifest) Validate() error {
	if err := CheckID("id", m.ID); err != nil {
		return err
	}
	if m.ID == wire.AdhocJobID {
		return ferr("id", "%q is reserved for ad-hoc runs", wire.AdhocJobID)
	}
	if m.Version == "" {
		return ferr("version", "is required")
	}
	if len(m.Version) > MaxVersionLen || strings.IndexFunc(m.Version, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 {
		return ferr("version", "must be at most %d characters without spaces", MaxVersionLen)
	}
	if len(m.Description) > MaxTextLen {
		return ferr("description", "must be at most %d bytes", MaxTextLen)
	}
	if len(m.Tags) > MaxTags {
		return ferr("tags", "at most %d tags", MaxTags)
	}
	for i, t := range m.Tags {
		if strings.TrimSpace(t) == "" || len(t) > 64 {
			return ferr(fmt.Sprintf("tags[%d]", i), "must be 1-64 characters and not blank")
		}
	}
	e := m.Execute
	if e == (Execute{}) {
		return ferr("execute", "is required")
	}
	if e.Shell == "" {
		return ferr("execute.shell", "is required (one of %s)", strings.Join(wire.Shells, ", "))
	}
	if !wire.ValidShell(e.Shell) {
		return ferr("execute.shell", "%q is not one of %s", clip(e.Shell), strings.Join(wire.Shells, ", "))
	}
	if strings.TrimSpace(e.Script) == "" {
		return ferr("execute.script", "is required")
	}
	if len(e.Script) > MaxScriptBytes {
		return ferr("execute.script", "must be at most %d bytes", MaxScriptBytes)
	}
	if e.Timeout == "" {
		return ferr("execute.timeout", "is required (e.g. 30s, 10m, 1h30m, 1d)")
	}
	d, err := ParseDuration(e.Timeout)
	if err != nil {
		return ferr("execute.timeout", "%v", err)
	}
	if d < time.Second {
		return ferr("execute.timeout", "must be at least 1s")
	}
	if len(e.Cwd) > MaxTextLen || strings.ContainsRune(e.Cwd, 0) {
		return ferr("execute.cwd", "must be at most %d bytes without NUL", MaxTextLen)
	}
	switch e.RunAs {
	case RunAsSystem, RunAsUser:
	case "":
		return ferr("execute.run_as", "is required (system or user)")
	default:
		return ferr("execute.run_as", "%q is not one of system, user", clip(e.RunAs))
	}
	if m.Inventory != nil {
		if err := m.Inventory.Validate(); err != nil {
			return err
		}
	}
	if m.Check != nil {
		if m.Inventory != nil {
			return ferr("check", "a job is an inventory job or a check, not both")
		}
		return m.Check.Validate()
	}
	return nil
}

// readCheck reads the `check:` section with its defaults.
func readCheck(r *strict.Reader, o *strict.Object) *Check {
	c := &Check{Severity: o.Str("severity"), FlapThreshold: check.DefaultFlapThreshold}
	if c.Severity == "" {
		c.Severity = check.DefaultSeverity
	}
	if ft := o.Str("flap_threshold"); ft != "" {
		n, err := strconv.Atoi(ft)
		if err != nil {
			r.Fail(o.Path("flap_threshold"), "must be a whole number, not %q", clip(ft))
		}
		c.FlapThreshold = n
	}
	p := o.Object("pass")
	if ec := p.Str("exit_code"); ec != "" {
		n, err := strconv.Atoi(ec)
		if err != nil {
			r.Fail(p.Path("exit_code"), "must be a whole number, not %q", clip(ec))
		}
		c.Pass.ExitCode = &n
	}
	c.Pass.StdoutMatches = p.Str("stdout_matches")
	p.Close()
	o.Close()
	return c
}

// Timeout returns execute.timeout as a duration (0 if it does not parse,
// which Validate rules out).
func (m Manifest) Timeout() time.Duration {
	d, err := ParseDuration(m.Execute.Timeout)
	if err != nil {
		return 0
	}
	return d
}

// TimeoutSecs is Timeout in whole seconds, rounded up, as Command.timeout_secs.
func (m Manifest) TimeoutSecs() int64 { return ceilSecs(m.Timeout()) }

func ceilSecs(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}

// JSON is the canonical serialisation stored in KV jobs.
func (m Manifest) JSON() []byte { return mustJSON(m) }

// Command builds the Command that runs m under plan p. requestID and
// execID are minted by the caller (one request_id per published subject,
// one exec_id per exec); the deadline is the plan's.
func (m Manifest) Command(execID, requestID string, p Plan) wire.Command {
	return wire.Command{
		ID:          m.ID,
		Version:     m.Version,
		RequestID:   requestID,
		ExecID:      execID,
		Shell:       m.Execute.Shell,
		Script:      m.Execute.Script,
		TimeoutSecs: m.TimeoutSecs(),
		JitterSecs:  p.JitterSecs(),
		RunAs:       m.Execute.RunAs,
		Cwd:         m.Execute.Cwd,
		DeadlineAt:  p.DeadlineAt,
	}
}
