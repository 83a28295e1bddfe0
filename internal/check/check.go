// Package check is the compliance-check rule of SPEC §15: how one job
// result is judged (pass, fail, or no verdict) against a manifest's
// `check:` section. The manifest validates the rule with it and the
// results projector applies it, so both agree on what a pattern means.
package check

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// Severities, lowest first.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Severities lists the accepted severities, lowest first.
var Severities = []string{SeverityInfo, SeverityWarning, SeverityCritical}

// Defaults and bounds of the `check:` section.
const (
	DefaultSeverity      = SeverityWarning
	DefaultFlapThreshold = 1
	MaxFlapThreshold     = 100
	// MaxPatternLen bounds stdout_matches. Go's regexp is RE2 (linear in
	// the input, no backtracking), so the pattern's size is what bounds the
	// compiled program; repetition counts above 1000 are refused by the
	// parser itself.
	MaxPatternLen = 1024
	// MaxInput is how much of stdout a pattern is matched against: the
	// first 64 KiB. A longer output is judged on its head only (a check's
	// output is a status line, not a log), which bounds the projector's work
	// per result whatever an agent prints.
	MaxInput = 64 << 10
)

// ValidSeverity reports whether s is one of Severities.
func ValidSeverity(s string) bool {
	for _, x := range Severities {
		if s == x {
			return true
		}
	}
	return false
}

// Compile compiles a stdout_matches pattern within the bounds above.
func Compile(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, fmt.Errorf("is empty")
	}
	if len(pattern) > MaxPatternLen {
		return nil, fmt.Errorf("must be at most %d bytes", MaxPatternLen)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		// The parser's message quotes the pattern; keep it short.
		msg := err.Error()
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return nil, fmt.Errorf("does not compile: %s", strings.ToValidUTF8(msg, "?"))
	}
	return re, nil
}

// Rule is a compiled `check:` section.
type Rule struct {
	// ExitCode passes a result with this exit code (when Pattern is nil).
	ExitCode int
	// Pattern, when set, passes a result whose stdout (its first MaxInput
	// bytes) it matches.
	Pattern       *regexp.Regexp
	Severity      string
	FlapThreshold int
}

// Verdict is what one result says about a check.
type Verdict int

const (
	// None: the result says nothing (skipped, killed, timed out, refused,
	// or another reserved exit code); the state is left as it is.
	None Verdict = iota
	Pass
	Fail
)

// Reserved reports whether a result carries no verdict: a skip or a
// reserved exit code of SPEC §3 (-1 killed or timed out, 123 refused,
// 124-126 skips).
func Reserved(r wire.ExecResult) bool {
	if r.Skipped || r.TimedOut || r.Killed {
		return true
	}
	switch r.ExitCode {
	case wire.ExitKilled, wire.ExitRefused, wire.ExitVersionPin, wire.ExitDeadline, wire.ExitRevoked:
		return true
	}
	return false
}

// Judge returns the verdict of r under the rule.
func (ru Rule) Judge(r wire.ExecResult) Verdict {
	if Reserved(r) {
		return None
	}
	if ru.Pattern != nil {
		out := r.Stdout
		if len(out) > MaxInput {
			out = out[:MaxInput]
		}
		if ru.Pattern.MatchString(out) {
			return Pass
		}
		return Fail
	}
	if r.ExitCode == ru.ExitCode {
		return Pass
	}
	return Fail
}
