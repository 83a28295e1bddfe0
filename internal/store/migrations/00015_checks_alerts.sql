-- +goose Up
-- Compliance checks and alerts (SPEC §15). Everything here is projected:
-- check_status and the check alerts from stream RESULTS (in the result's
-- transaction), agent-offline alerts and acks from stream ALERTS, so a
-- wipe and replay rebuilds the same rows.

-- One row per check job that has reported, with its severity as the
-- manifest declared it when its last result was projected.
CREATE TABLE checks (
    check_id       TEXT PRIMARY KEY,
    severity       TEXT NOT NULL,
    flap_threshold INTEGER NOT NULL DEFAULT 1
);

-- One row per (check, PC). consecutive counts the failures since the last
-- pass; state turns failing at the flap_threshold-th. last_result_id is
-- the result applied last (a redelivery of it changes nothing).
CREATE TABLE check_status (
    check_id       TEXT NOT NULL,
    pc_id          TEXT NOT NULL,
    state          TEXT NOT NULL,   -- passing | failing | unknown
    since          TEXT NOT NULL,   -- when the state began
    last_result_id TEXT NOT NULL DEFAULT '',
    last_at        TEXT NOT NULL,   -- publish time of the last result applied
    consecutive    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (check_id, pc_id)
);
CREATE INDEX check_status_pc ON check_status (pc_id, check_id);
CREATE INDEX check_status_state ON check_status (state, check_id, pc_id);

-- Alerts: kind check (check_id set) or agent-offline (check_id ''). At
-- most one open alert per (kind, check, PC).
CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    check_id    TEXT NOT NULL DEFAULT '',
    pc_id       TEXT NOT NULL,
    severity    TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    resolved_at TEXT,
    acked_by    TEXT,
    acked_at    TEXT
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, check_id, pc_id) WHERE resolved_at IS NULL;
CREATE INDEX alerts_opened ON alerts (opened_at, id);
CREATE INDEX alerts_open_opened ON alerts (opened_at, id) WHERE resolved_at IS NULL;
CREATE INDEX alerts_resolved_opened ON alerts (opened_at, id) WHERE resolved_at IS NOT NULL;
CREATE INDEX alerts_check ON alerts (check_id, opened_at, id);
CREATE INDEX alerts_pc ON alerts (pc_id, opened_at, id);

-- Acks as projected from stream ALERTS, kept apart from alerts so an ack
-- replayed before its alert (the two come from different streams) is not
-- lost: an alert inserted later picks its ack up here.
CREATE TABLE alert_acks (
    alert_id  TEXT PRIMARY KEY,
    acked_by  TEXT NOT NULL,
    acked_at  TEXT NOT NULL
);

-- The outbox of alert transitions, written in the transaction that opens
-- or resolves an alert; notification delivery pages through it by
-- (at, key). key is '<alert_id>:opened' or '<alert_id>:resolved'.
CREATE TABLE alert_transitions (
    key        TEXT PRIMARY KEY,
    alert_id   TEXT NOT NULL,
    transition TEXT NOT NULL,   -- opened | resolved
    kind       TEXT NOT NULL,   -- check | agent-offline
    check_id   TEXT NOT NULL DEFAULT '',
    pc_id      TEXT NOT NULL,
    severity   TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX alert_transitions_at ON alert_transitions (at, key);

-- +goose Down
DROP TABLE alert_transitions;
DROP TABLE alert_acks;
DROP TABLE alerts;
DROP TABLE check_status;
DROP TABLE checks;
