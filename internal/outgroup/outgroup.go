// Package outgroup says when two PCs printed "the same thing": the
// normalisation and hash that GET /api/executions/{id}/summary groups
// results by, and the short stderr excerpt of result lists. Both are
// computed when a result is projected (store), from the output the result
// carries (all of a short output; head and tail of a long one), so a
// rebuild of the projection reproduces them exactly.
package outgroup

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"unicode/utf8"
)

// truncMarker is the agent's note in a long output's copy
// (internal/agent/exec capture.go); its byte counts differ between PCs
// whose output is otherwise the same, so it is normalised to one line.
var truncMarker = regexp.MustCompile(`(?m)^\[kanade\] output truncated: \d+ bytes written, \d+ dropped$`)

// Normalize is the text compared across PCs: CRLF and lone CR become LF,
// trailing spaces and tabs of every line are dropped, leading and trailing
// blank lines are dropped, and the agent's truncation note loses its byte
// counts. Nothing else changes (case, inner spacing and timestamps stay
// significant: an operator wants to see outputs that really differ).
func Normalize(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	out := strings.Join(lines, "\n")
	return truncMarker.ReplaceAllString(out, "[kanade] output truncated")
}

// Hash is the grouping key of an output: the first 16 bytes of the
// SHA-256 of Normalize(s), in hex (32 characters). Every output that
// normalises to nothing hashes to "" so "printed nothing" is readable in
// the database.
func Hash(s string) string {
	n := Normalize(s)
	if n == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(n))
	return hex.EncodeToString(sum[:16])
}

// ExcerptMax bounds StderrExcerpt in bytes (before the ellipsis).
const ExcerptMax = 200

// StderrExcerpt is the last non-blank line of s (normalised, surrounding
// spaces trimmed), cut to ExcerptMax bytes on a rune boundary with "…"
// when longer: what a script says last on stderr is usually why it
// failed.
func StderrExcerpt(s string) string {
	n := Normalize(s)
	if i := strings.LastIndexByte(n, '\n'); i >= 0 {
		n = n[i+1:]
	}
	// Normalize dropped trailing blank lines, so the last line has text
	// unless the output was the truncation note's neighbourhood only.
	n = strings.TrimSpace(n)
	if len(n) <= ExcerptMax {
		return n
	}
	cut := ExcerptMax
	for cut > 0 && !utf8.RuneStart(n[cut]) {
		cut--
	}
	return n[:cut] + "…"
}
