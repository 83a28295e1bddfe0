package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// Heartbeats upsert the agents table (agents.go reads it).

// Heartbeat is one agent heartbeat with the backend's receive time.
type Heartbeat struct {
	wire.Heartbeat
	ReceivedAt time.Time
}

// UpsertHeartbeats writes the newest heartbeat of each PC in one transaction.
func (db *DB) UpsertHeartbeats(ctx context.Context, hbs []Heartbeat) error {
	return db.d.upsertHeartbeats(ctx, db, hbs)
}

// heartbeatInsert is the upsert of one heartbeat up to its SET list.
const heartbeatInsert = `INSERT INTO agents
		(pc_id, hostname, os_family, os_version, arch, agent_version, last_heartbeat, agent_at, boot_time,
		 agent_rss_bytes, agent_cpu_pct, running, first_seen, update_state, update_error, quarantined_version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (pc_id) DO UPDATE SET
		 hostname = CASE WHEN excluded.hostname <> '' THEN excluded.hostname ELSE agents.hostname END,
		 os_family = CASE WHEN excluded.os_family <> '' THEN excluded.os_family ELSE agents.os_family END,
		 os_version = CASE WHEN excluded.os_version <> '' THEN excluded.os_version ELSE agents.os_version END,
		 arch = CASE WHEN excluded.arch <> '' THEN excluded.arch ELSE agents.arch END,
		 last_heartbeat = excluded.last_heartbeat, agent_at = excluded.agent_at, boot_time = excluded.boot_time,
		 agent_rss_bytes = excluded.agent_rss_bytes, agent_cpu_pct = excluded.agent_cpu_pct,
		 running = excluded.running`

// upsertHeartbeatsRows is UpsertHeartbeats one prepared statement per row
// (two for a heartbeat whose version or update state changed). SQLite
// rewrites the entries of every index whose column an UPDATE sets, changed
// or not; setting agent_version and the update columns (indexes
// agents_update_state and agents_version) in every heartbeat halved the
// write rate. So the usual statement leaves them out and applies only
// while they are unchanged; a heartbeat it does not apply to (a change, or
// older than the row) goes through the full one.
func (db *DB) upsertHeartbeatsRows(ctx context.Context, hbs []Heartbeat) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	same, err := tx.PrepareContext(ctx, db.q(heartbeatInsert+`
		 WHERE excluded.last_heartbeat >= agents.last_heartbeat AND agents.agent_version = excluded.agent_version
		  AND agents.update_state = excluded.update_state AND agents.update_error = excluded.update_error
		  AND agents.quarantined_version = excluded.quarantined_version`))
	if err != nil {
		return fmt.Errorf("prepare heartbeat upsert: %w", err)
	}
	defer same.Close()
	changed, err := tx.PrepareContext(ctx, db.q(heartbeatInsert+`, agent_version = excluded.agent_version,
		 update_state = excluded.update_state, update_error = excluded.update_error,
		 quarantined_version = excluded.quarantined_version
		 WHERE excluded.last_heartbeat >= agents.last_heartbeat`))
	if err != nil {
		return fmt.Errorf("prepare heartbeat upsert: %w", err)
	}
	defer changed.Close()
	for _, h := range hbs {
		args := []any{h.PCID, h.Hostname, h.OSFamily, h.OSVersion, h.Arch, h.AgentVersion,
			TS(h.ReceivedAt), NullTS(h.At), NullTS(h.BootTime), int64(h.AgentRSSBytes), h.AgentCPUPct, h.Running,
			TS(h.ReceivedAt), h.UpdateState, h.UpdateError, h.QuarantinedVersion}
		res, err := same.ExecContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("upsert agent pc_id=%s: %w", h.PCID, err)
		}
		if n, err := res.RowsAffected(); err == nil && n > 0 {
			continue // inserted, or updated with nothing indexed changing
		}
		if _, err := changed.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("upsert agent pc_id=%s: %w", h.PCID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit heartbeats: %w", err)
	}
	return nil
}

// upsertHeartbeatsSets writes the newest heartbeat per PC in one statement.
func (db *DB) upsertHeartbeatsSets(ctx context.Context, hbs []Heartbeat) error {
	// ON CONFLICT DO UPDATE may touch a row once per statement: keep the
	// newest heartbeat of each PC, in pc_id order (lock order).
	newest := map[string]Heartbeat{}
	for _, h := range hbs {
		if o, ok := newest[h.PCID]; !ok || !h.ReceivedAt.Before(o.ReceivedAt) {
			newest[h.PCID] = h
		}
	}
	pcs := make([]string, 0, len(newest))
	for pc := range newest {
		pcs = append(pcs, pc)
	}
	slices.Sort(pcs)
	n := len(pcs)
	host, osf, osv, arch, ver, last, at, boot := make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n),
		make(pgText, n), make(pgText, n), make(pgText, n), make(pgText, n)
	ust, uerr, quar := make(pgText, n), make(pgText, n), make(pgText, n)
	rss, running := make([]int64, n), make([]int64, n)
	cpu := make([]float64, n)
	for i, pc := range pcs {
		h := newest[pc]
		host[i], osf[i], osv[i], arch[i], ver[i] = h.Hostname, h.OSFamily, h.OSVersion, h.Arch, h.AgentVersion
		last[i], at[i], boot[i] = TS(h.ReceivedAt), NullTS(h.At).String, NullTS(h.BootTime).String
		rss[i], cpu[i], running[i] = int64(h.AgentRSSBytes), h.AgentCPUPct, int64(h.Running)
		ust[i], uerr[i], quar[i] = h.UpdateState, h.UpdateError, h.QuarantinedVersion
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO agents
		(pc_id, hostname, os_family, os_version, arch, agent_version, last_heartbeat, agent_at, boot_time,
		 agent_rss_bytes, agent_cpu_pct, running, first_seen, update_state, update_error, quarantined_version)
		SELECT u.pc, u.host, u.osf, u.osv, u.arch, u.ver, u.last, NULLIF(u.at, ''), NULLIF(u.boot, ''),
			u.rss, u.cpu, u.running, u.last, u.ust, u.uerr, u.quar
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::bigint[], $11::float8[], $12::bigint[], $13::text[], $14::text[], $15::text[])
			AS u(pc, host, osf, osv, arch, ver, last, at, boot, rss, cpu, running, ust, uerr, quar)
		ON CONFLICT (pc_id) DO UPDATE SET
		 hostname = CASE WHEN excluded.hostname <> '' THEN excluded.hostname ELSE agents.hostname END,
		 os_family = CASE WHEN excluded.os_family <> '' THEN excluded.os_family ELSE agents.os_family END,
		 os_version = CASE WHEN excluded.os_version <> '' THEN excluded.os_version ELSE agents.os_version END,
		 arch = CASE WHEN excluded.arch <> '' THEN excluded.arch ELSE agents.arch END,
		 agent_version = excluded.agent_version, last_heartbeat = excluded.last_heartbeat,
		 agent_at = excluded.agent_at, boot_time = excluded.boot_time,
		 agent_rss_bytes = excluded.agent_rss_bytes, agent_cpu_pct = excluded.agent_cpu_pct,
		 running = excluded.running, update_state = excluded.update_state,
		 update_error = excluded.update_error, quarantined_version = excluded.quarantined_version
		 WHERE excluded.last_heartbeat >= agents.last_heartbeat`,
		pcs, host, osf, osv, arch, ver, last, at, boot, rss, cpu, running, ust, uerr, quar)
	if err != nil {
		return fmt.Errorf("upsert %d agents: %w", n, err)
	}
	return nil
}

// LastHeartbeats returns the stored last_heartbeat of each of pcs that is
// known (the heartbeat projector asks, before writing, whether a PC it is
// about to call online was already online through another replica).
func (db *DB) LastHeartbeats(ctx context.Context, pcs []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(pcs))
	for len(pcs) > 0 {
		chunk := pcs[:min(len(pcs), 500)]
		pcs = pcs[len(chunk):]
		args := make([]any, len(chunk))
		for i, pc := range chunk {
			args[i] = pc
		}
		q := "SELECT pc_id, last_heartbeat FROM agents WHERE pc_id IN (?" + strings.Repeat(",?", len(chunk)-1) + ")"
		rows, err := db.read.QueryContext(ctx, db.q(q), args...)
		if err != nil {
			return nil, fmt.Errorf("last heartbeats: %w", err)
		}
		for rows.Next() {
			var pc, at string
			if err := rows.Scan(&pc, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("last heartbeats: %w", err)
			}
			out[pc] = ParseTS(at)
		}
		err = rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("last heartbeats: %w", err)
		}
	}
	return out, nil
}
