package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// The fleet's version distribution (GET /api/agents/versions, SPEC §13):
// how many PCs run each agent_version, how many of them are online, where
// their self-update stands, and how many PCs quarantined each version.

// AgentVersions counts the agents table by agent_version and update_state
// (one walk of index agents_version) and by quarantined_version (a range
// of agents_quarantined). A version only quarantined (every PC rolled
// back from it) is listed with zero agents. PCs whose agent reports no
// update_state (older than self-update) count in Agents and in no state.
func (db *DB) AgentVersions(ctx context.Context, now time.Time) ([]apiv1.AgentVersion, error) {
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT agent_version, update_state, COUNT(*),
		SUM(CASE WHEN last_heartbeat >= ? THEN 1 ELSE 0 END)
		FROM agents GROUP BY agent_version, update_state`), TS(now.Add(-OnlineWindow)))
	if err != nil {
		return nil, fmt.Errorf("agent versions: %w", err)
	}
	defer rows.Close()
	byVersion := map[string]*apiv1.AgentVersion{}
	row := func(v string) *apiv1.AgentVersion {
		r := byVersion[v]
		if r == nil {
			r = &apiv1.AgentVersion{Version: v, States: map[string]int{}}
			for _, s := range wire.UpdateStates {
				r.States[s] = 0
			}
			byVersion[v] = r
		}
		return r
	}
	for rows.Next() {
		var v, state string
		var n, online int
		if err := rows.Scan(&v, &state, &n, &online); err != nil {
			return nil, fmt.Errorf("agent versions: %w", err)
		}
		r := row(v)
		r.Agents += n
		r.Online += online
		if state != "" {
			r.States[state] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("agent versions: %w", err)
	}
	rows.Close()
	// > '' rather than <> '': a range the index serves.
	q, err := db.read.QueryContext(ctx, `SELECT quarantined_version, COUNT(*) FROM agents
		WHERE quarantined_version > '' GROUP BY quarantined_version`)
	if err != nil {
		return nil, fmt.Errorf("quarantined versions: %w", err)
	}
	defer q.Close()
	for q.Next() {
		var v string
		var n int
		if err := q.Scan(&v, &n); err != nil {
			return nil, fmt.Errorf("quarantined versions: %w", err)
		}
		row(v).Quarantined += n
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("quarantined versions: %w", err)
	}
	out := make([]apiv1.AgentVersion, 0, len(byVersion))
	for _, r := range byVersion {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b apiv1.AgentVersion) int { return CompareVersions(a.Version, b.Version) })
	return out, nil
}

// CompareVersions orders version strings naturally: runs of digits compare
// as numbers, so 1.10.0 sorts after 1.9.2 (and "" first).
func CompareVersions(a, b string) int {
	for a != "" && b != "" {
		ca, ra := versionChunk(a)
		cb, rb := versionChunk(b)
		if c := compareChunk(ca, cb); c != 0 {
			return c
		}
		a, b = ra, rb
	}
	return cmp.Compare(len(a), len(b))
}

// versionChunk splits off the leading run of digits or of non-digits.
func versionChunk(s string) (chunk, rest string) {
	digit := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == digit {
		i++
	}
	return s[:i], s[i:]
}

func compareChunk(a, b string) int {
	if isDigit(a[0]) && isDigit(b[0]) {
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if c := cmp.Compare(len(a), len(b)); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
