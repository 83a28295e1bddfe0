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
// (a walk of index agents_version alone), the offline PCs by version (a
// range of agents_last_heartbeat: the few silent PCs, not the fleet; online
// = all − offline) and by quarantined_version (a range of the partial
// agents_quarantined). last_heartbeat stays out of agents_version, which
// would make every heartbeat rewrite it. A version only quarantined (every
// PC rolled back from it) is listed with zero agents. PCs whose agent
// reports no update_state (older than self-update) count in Agents and in
// no state.
func (db *DB) AgentVersions(ctx context.Context, now time.Time) ([]apiv1.AgentVersion, error) {
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
	err := db.scanCounts(ctx, `SELECT agent_version, update_state, COUNT(*) FROM agents GROUP BY agent_version, update_state`, nil,
		func(v, state string, n int) {
			r := row(v)
			r.Agents += n
			r.Online += n
			if state != "" {
				r.States[state] += n
			}
		})
	if err != nil {
		return nil, fmt.Errorf("agent versions: %w", err)
	}
	// Counted here, not grouped in SQL: with a GROUP BY, SQLite walks
	// agents_version (every row) to skip a sort instead of taking the range.
	err = db.scanCounts(ctx, `SELECT agent_version, '', 1 FROM agents WHERE last_heartbeat < ?`,
		[]any{TS(now.Add(-OnlineWindow))}, func(v, _ string, n int) { row(v).Online -= n })
	if err != nil {
		return nil, fmt.Errorf("offline agent versions: %w", err)
	}
	// > '' rather than <> '': the partial index's own predicate.
	err = db.scanCounts(ctx, `SELECT quarantined_version, '', COUNT(*) FROM agents
		WHERE quarantined_version > '' GROUP BY quarantined_version`, nil, func(v, _ string, n int) { row(v).Quarantined += n })
	if err != nil {
		return nil, fmt.Errorf("quarantined versions: %w", err)
	}
	out := make([]apiv1.AgentVersion, 0, len(byVersion))
	for _, r := range byVersion {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b apiv1.AgentVersion) int { return CompareVersions(a.Version, b.Version) })
	return out, nil
}

// scanCounts runs a (text, text, count) query and hands each row to fn.
func (db *DB) scanCounts(ctx context.Context, q string, args []any, fn func(a, b string, n int)) error {
	rows, err := db.read.QueryContext(ctx, db.q(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		var n int
		if err := rows.Scan(&a, &b, &n); err != nil {
			return err
		}
		fn(a, b, n)
	}
	return rows.Err()
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
