package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// agent_facts (the latest built-in report per PC) and the 'facts' rows of
// inventory_history, projected from stream INVENTORY (SPEC §14).

// FactsReport is one Inventory message with its stream sequence.
type FactsReport struct {
	wire.Inventory
	Seq uint64
}

// FactsTable is inventory_history.table_name of built-in facts.
const FactsTable = "facts"

// History changes.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// ApplyFacts projects Inventory messages in one transaction, in order. A
// message whose sequence is not newer than the one stored for its PC is a
// redelivery or a replay of what is applied already: it changes nothing.
// Otherwise every fact field whose value differs from the stored report
// adds one history row (free disk space excepted: it moves on every
// report) and the report replaces the stored one. A PC's first report
// records no history: there is nothing it changed from. It returns what
// was applied (for the dashboard's live events).
//
// Two replicas applying two reports of one PC at the same time could both
// diff against the same stored report; the upsert keeps the newer report
// whatever the order, and the history keys are the messages', so nothing
// is duplicated.
func (db *DB) ApplyFacts(ctx context.Context, batch []FactsReport) (FactsOutcome, error) {
	var out FactsOutcome
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	hist, err := tx.PrepareContext(ctx, db.q(`INSERT INTO inventory_history
		(stream, stream_seq, table_name, item_key, field, pc_id, change, old_value, new_value, at)
		VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`))
	if err != nil {
		return out, fmt.Errorf("prepare inventory history insert: %w", err)
	}
	defer hist.Close()
	for _, r := range batch {
		old, seq, found, err := db.storedFacts(ctx, tx, r.PCID)
		if err != nil {
			return out, err
		}
		if found && seq >= int64(r.Seq) {
			continue
		}
		if found {
			for _, c := range diffFacts(old, r.Facts) {
				if _, err := hist.ExecContext(ctx, bus.StreamInventory, int64(r.Seq), FactsTable, c.field, r.PCID, c.change,
					c.old, c.new, TS(r.CollectedAt)); err != nil {
					return out, fmt.Errorf("insert history of %s field %s: %w", r.PCID, c.field, err)
				}
				out.Changes++
			}
		}
		if err := db.upsertFacts(ctx, tx, r); err != nil {
			return out, err
		}
		if !slices.Contains(out.PCs, r.PCID) {
			out.PCs = append(out.PCs, r.PCID)
		}
	}
	if err := tx.Commit(); err != nil {
		return FactsOutcome{}, fmt.Errorf("commit facts: %w", err)
	}
	return out, nil
}

// FactsOutcome is what ApplyFacts applied: the PCs whose facts it stored
// and how many history rows it added.
type FactsOutcome struct {
	PCs     []string
	Changes int
}

const factsCols = `pc_id, stream_seq, collected_at, hostname, os_family, os_version, os_build, kernel, arch, cpu_model,
	cpu_cores, memory_bytes, boot_time, timezone, agent_version, logged_in_users, disks, interfaces`

func (db *DB) storedFacts(ctx context.Context, tx *sql.Tx, pc string) (wire.Facts, int64, bool, error) {
	row, err := scanFacts(tx.QueryRowContext(ctx, db.q(`SELECT `+factsCols+` FROM agent_facts WHERE pc_id = ?`), pc))
	if errors.Is(err, sql.ErrNoRows) {
		return wire.Facts{}, 0, false, nil
	}
	if err != nil {
		return wire.Facts{}, 0, false, fmt.Errorf("read facts of %s: %w", pc, err)
	}
	return row.Facts, row.seq, true, nil
}

func (db *DB) upsertFacts(ctx context.Context, tx *sql.Tx, r FactsReport) error {
	f := r.Facts
	users, disks, ifaces := jsonText(nonNil(f.LoggedInUsers)), jsonText(nonNil(f.Disks)), jsonText(nonNil(f.Interfaces))
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO agent_facts (`+factsCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (pc_id) DO UPDATE SET stream_seq = excluded.stream_seq, collected_at = excluded.collected_at,
			hostname = excluded.hostname, os_family = excluded.os_family, os_version = excluded.os_version,
			os_build = excluded.os_build, kernel = excluded.kernel, arch = excluded.arch, cpu_model = excluded.cpu_model,
			cpu_cores = excluded.cpu_cores, memory_bytes = excluded.memory_bytes, boot_time = excluded.boot_time,
			timezone = excluded.timezone, agent_version = excluded.agent_version,
			logged_in_users = excluded.logged_in_users, disks = excluded.disks, interfaces = excluded.interfaces
		WHERE agent_facts.stream_seq < excluded.stream_seq`),
		r.PCID, int64(r.Seq), TS(r.CollectedAt), cleanText(f.Hostname), cleanText(f.OSFamily), cleanText(f.OSVersion),
		cleanText(f.OSBuild), cleanText(f.Kernel), cleanText(f.Arch), cleanText(f.CPUModel), f.CPUCores, int64(f.MemoryBytes),
		NullTS(f.BootTime), cleanText(f.Timezone), cleanText(f.AgentVersion), users, disks, ifaces)
	if err != nil {
		return fmt.Errorf("upsert facts of %s: %w", r.PCID, err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// jsonText is v as JSON text without NUL bytes (PostgreSQL TEXT refuses
// them; JSON escapes them as \u0000, which it accepts).
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null" // the types marshalled here always marshal
	}
	return cleanText(string(b))
}

// factChange is one changed fact field: old and new as JSON.
type factChange struct {
	field, change string
	old, new      sql.NullString
}

// diffFacts lists the fields of b that differ from a, in a fixed order.
// Disks are compared, and recorded, without free_bytes.
func diffFacts(a, b wire.Facts) []factChange {
	type pair struct {
		field string
		a, b  any
	}
	ts := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Truncate(time.Second)
	}
	pairs := []pair{
		{"hostname", a.Hostname, b.Hostname},
		{"os_family", a.OSFamily, b.OSFamily},
		{"os_version", a.OSVersion, b.OSVersion},
		{"os_build", a.OSBuild, b.OSBuild},
		{"kernel", a.Kernel, b.Kernel},
		{"arch", a.Arch, b.Arch},
		{"cpu_model", a.CPUModel, b.CPUModel},
		{"cpu_cores", a.CPUCores, b.CPUCores},
		{"memory_bytes", a.MemoryBytes, b.MemoryBytes},
		{"disks", disksSansFree(a.Disks), disksSansFree(b.Disks)},
		{"interfaces", nonNil(a.Interfaces), nonNil(b.Interfaces)},
		{"logged_in_users", nonNil(a.LoggedInUsers), nonNil(b.LoggedInUsers)},
		{"boot_time", ts(a.BootTime), ts(b.BootTime)},
		{"timezone", a.Timezone, b.Timezone},
		{"agent_version", a.AgentVersion, b.AgentVersion},
	}
	var out []factChange
	for _, p := range pairs {
		// Both sides go through the same JSON encoding as what is stored,
		// so a value read back compares equal to the one reported.
		oa, ob := jsonText(p.a), jsonText(p.b)
		if oa == ob {
			continue
		}
		c := factChange{field: p.field, change: ChangeChanged,
			old: sql.NullString{String: oa, Valid: true}, new: sql.NullString{String: ob, Valid: true}}
		switch {
		case oa == "null":
			c.change, c.old = ChangeAdded, sql.NullString{}
		case ob == "null":
			c.change, c.new = ChangeRemoved, sql.NullString{}
		}
		out = append(out, c)
	}
	return out
}

// diskNoFree is a disk as history compares it.
type diskNoFree struct {
	Mount     string `json:"mount"`
	FS        string `json:"fs"`
	SizeBytes uint64 `json:"size_bytes"`
}

func disksSansFree(ds []wire.Disk) []diskNoFree {
	out := make([]diskNoFree, len(ds))
	for i, d := range ds {
		out[i] = diskNoFree{Mount: d.Mount, FS: d.FS, SizeBytes: d.SizeBytes}
	}
	return out
}

// factsRow is an agent_facts row as scanned.
type factsRow struct {
	pc          string
	seq         int64
	collectedAt time.Time
	wire.Facts
}

func scanFacts(s scanner) (factsRow, error) {
	var r factsRow
	var collected string
	var boot sql.NullString
	var mem int64
	var users, disks, ifaces string
	if err := s.Scan(&r.pc, &r.seq, &collected, &r.Hostname, &r.OSFamily, &r.OSVersion, &r.OSBuild, &r.Kernel, &r.Arch,
		&r.CPUModel, &r.CPUCores, &mem, &boot, &r.Timezone, &r.AgentVersion, &users, &disks, &ifaces); err != nil {
		return r, err
	}
	r.collectedAt = ParseTS(collected)
	r.MemoryBytes = uint64(mem)
	if boot.Valid {
		r.BootTime = ParseTS(boot.String)
	}
	// Stored by upsertFacts from decoded values: they parse.
	_ = json.Unmarshal([]byte(users), &r.LoggedInUsers)
	_ = json.Unmarshal([]byte(disks), &r.Disks)
	_ = json.Unmarshal([]byte(ifaces), &r.Interfaces)
	return r, nil
}

func (r factsRow) api() apiv1.AgentFacts {
	a := apiv1.AgentFacts{PCID: r.pc, CollectedAt: r.collectedAt, Hostname: r.Hostname, OSFamily: r.OSFamily,
		OSVersion: r.OSVersion, OSBuild: r.OSBuild, Kernel: r.Kernel, Arch: r.Arch, CPUModel: r.CPUModel,
		CPUCores: r.CPUCores, MemoryBytes: r.MemoryBytes, Timezone: r.Timezone, AgentVersion: r.AgentVersion,
		Disks: []apiv1.FactDisk{}, Interfaces: []apiv1.FactInterface{}, LoggedInUsers: nonNil(r.LoggedInUsers)}
	if !r.BootTime.IsZero() {
		t := r.BootTime
		a.BootTime = &t
	}
	for _, d := range r.Disks {
		a.Disks = append(a.Disks, apiv1.FactDisk{Mount: d.Mount, FS: d.FS, SizeBytes: d.SizeBytes, FreeBytes: d.FreeBytes})
	}
	for _, i := range r.Interfaces {
		a.Interfaces = append(a.Interfaces, apiv1.FactInterface{Name: i.Name, MAC: i.MAC, IPs: nonNil(i.IPs)})
	}
	return a
}

// FactsFilter selects agent_facts rows.
type FactsFilter struct {
	PCID  string
	Q     string // substring of pc_id or hostname
	Group string
	Scope []string // a scoped caller's groups (scope.go); nil = all
}

var factsOrder = []sortCol{{col: "pc_id"}}

func factsKey(a apiv1.AgentFacts) cursor.Key { return cursor.Key{a.PCID} }

// factsQueries builds the count and page queries of PageFacts.
func (db *DB) factsQueries(f FactsFilter, p Page) (w where, list string, args []any, err error) {
	if f.PCID != "" {
		w.add("pc_id = ?", f.PCID)
	}
	if f.Q != "" {
		// A substring: no index serves it, but the table holds one row
		// per PC (bounded by the fleet size).
		l, op := likeEscape(f.Q), db.likeCI()
		w.add(`(pc_id `+op+` ? ESCAPE '\' OR hostname `+op+` ? ESCAPE '\')`, l, l)
	}
	if f.Group != "" {
		w.add("pc_id IN (SELECT pc_id FROM agent_groups WHERE group_name = ?)", f.Group)
	}
	w.addScope("pc_id", f.Scope)
	seek := where{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
	if p.After != nil {
		if err := seek.seek(p.After, factsOrder...); err != nil {
			return w, "", nil, err
		}
	}
	limit, offset := pageArgs(p)
	return w, `SELECT ` + factsCols + ` FROM agent_facts` + seek.sql() + orderBy(factsOrder...) + " LIMIT ? OFFSET ?",
		append(seek.args, limit, offset), nil
}

// PageFacts returns one page of the PCs' latest facts in pc_id order, with
// the exact total (one row per PC) and the next page's key.
func (db *DB) PageFacts(ctx context.Context, f FactsFilter, p Page) (Listing[apiv1.AgentFacts], error) {
	l := Listing[apiv1.AgentFacts]{Rows: []apiv1.AgentFacts{}}
	w, listQ, args, err := db.factsQueries(f, p)
	if err != nil {
		return l, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(listQ), args...)
	if err != nil {
		return l, fmt.Errorf("list facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanFacts(rows)
		if err != nil {
			return l, fmt.Errorf("scan facts: %w", err)
		}
		l.Rows = append(l.Rows, r.api())
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list facts: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if l.Total, l.Estimated, err = db.count(ctx, "agent_facts", w, countExact); err != nil {
		return l, err
	}
	trim(&l, p.Limit, factsKey)
	return l, nil
}

// HistoryFilter selects inventory_history rows.
type HistoryFilter struct {
	PCID  string
	Table string // table_name: facts, or an inventory job's table
	Since time.Time
	Scope []string // a scoped caller's groups (scope.go); nil = all
}

// The order of PageHistory: newest first, then the row's key (stream,
// sequence, table, item, field: unique), all descending.
const historyOrder = " ORDER BY at DESC, stream DESC, stream_seq DESC, table_name DESC, item_key DESC, field DESC"

func historyKey(c apiv1.InventoryChange) cursor.Key {
	return cursor.Key{TS(c.At), c.Stream, strconv.FormatUint(c.Seq, 10), c.Table, c.Key, c.Field}
}

// historyQueries builds the page query of PageHistory and its filter.
func historyQueries(f HistoryFilter, p Page) (w where, list string, args []any, err error) {
	if f.PCID != "" {
		w.add("pc_id = ?", f.PCID)
	}
	if f.Table != "" {
		w.add("table_name = ?", f.Table)
	}
	if !f.Since.IsZero() {
		w.add("at >= ?", TS(f.Since))
	}
	w.addScope("pc_id", f.Scope)
	seek := where{conds: slices.Clone(w.conds), args: slices.Clone(w.args)}
	if p.After != nil {
		k := p.After
		if len(k) != 6 {
			return w, "", nil, ErrBadCursor
		}
		seq, perr := strconv.ParseInt(k[2], 10, 64)
		if perr != nil {
			return w, "", nil, ErrBadCursor
		}
		// "at <= k AND (at < k OR rest < k's rest)": the range on at
		// keeps the index usable, as seek does for two columns.
		seek.add("at <= ? AND (at < ? OR (stream, stream_seq, table_name, item_key, field) < (?, ?, ?, ?, ?))",
			k[0], k[0], k[1], seq, k[3], k[4], k[5])
	}
	limit, offset := pageArgs(p)
	return w, `SELECT stream, stream_seq, table_name, item_key, field, pc_id, change, old_value, new_value, at
		FROM inventory_history` + seek.sql() + historyOrder + " LIMIT ? OFFSET ?", append(seek.args, limit, offset), nil
}

// PageHistory returns one page of inventory changes, newest first, with
// its total (bounded: history only grows) and the next page's key.
func (db *DB) PageHistory(ctx context.Context, f HistoryFilter, p Page) (Listing[apiv1.InventoryChange], error) {
	l := Listing[apiv1.InventoryChange]{Rows: []apiv1.InventoryChange{}}
	w, listQ, args, err := historyQueries(f, p)
	if err != nil {
		return l, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(listQ), args...)
	if err != nil {
		return l, fmt.Errorf("list inventory history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c apiv1.InventoryChange
		var seq int64
		var oldV, newV sql.NullString
		var at string
		if err := rows.Scan(&c.Stream, &seq, &c.Table, &c.Key, &c.Field, &c.PCID, &c.Change, &oldV, &newV, &at); err != nil {
			return l, fmt.Errorf("scan inventory history: %w", err)
		}
		c.Seq, c.At = uint64(seq), ParseTS(at)
		c.Old, c.New = rawJSON(oldV), rawJSON(newV)
		l.Rows = append(l.Rows, c)
	}
	if err := rows.Err(); err != nil {
		return l, fmt.Errorf("list inventory history: %w", err)
	}
	if n, ok := db.endKnown(p, len(l.Rows)); ok {
		l.Total = n
	} else if l.Total, l.Estimated, err = db.count(ctx, "inventory_history", w, countBounded); err != nil {
		return l, err
	}
	trim(&l, p.Limit, historyKey)
	return l, nil
}

// rawJSON is a stored JSON value, null when absent or not JSON.
func rawJSON(s sql.NullString) json.RawMessage {
	if !s.Valid || !json.Valid([]byte(s.String)) {
		return json.RawMessage("null")
	}
	return json.RawMessage(s.String)
}
