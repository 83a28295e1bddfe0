-- +goose Up
-- Timestamps are TEXT in fixed-width RFC 3339 UTC (store.TS), so string order
-- is time order on both SQLite and PostgreSQL.

CREATE TABLE agents (
    pc_id           TEXT PRIMARY KEY,
    hostname        TEXT NOT NULL DEFAULT '',
    os_family       TEXT NOT NULL DEFAULT '',
    os_version      TEXT NOT NULL DEFAULT '',
    arch            TEXT NOT NULL DEFAULT '',
    agent_version   TEXT NOT NULL DEFAULT '',
    last_heartbeat  TEXT NOT NULL,           -- backend receive time
    agent_at        TEXT,                    -- the agent's own clock
    boot_time       TEXT,
    agent_rss_bytes BIGINT NOT NULL DEFAULT 0,
    agent_cpu_pct   DOUBLE PRECISION NOT NULL DEFAULT 0,
    running         INTEGER NOT NULL DEFAULT 0,
    first_seen      TEXT NOT NULL
);
CREATE INDEX agents_last_heartbeat ON agents (last_heartbeat);
CREATE INDEX agents_hostname ON agents (hostname);

-- Projection of KV agent_groups, so lists can filter and join by group.
CREATE TABLE agent_groups (
    pc_id      TEXT NOT NULL,
    group_name TEXT NOT NULL,
    PRIMARY KEY (pc_id, group_name)
);
CREATE INDEX agent_groups_group ON agent_groups (group_name, pc_id);

CREATE TABLE executions (
    exec_id       TEXT PRIMARY KEY,
    job_id        TEXT NOT NULL,
    version       TEXT NOT NULL DEFAULT '',
    initiated_by  TEXT NOT NULL DEFAULT '',
    initiated_at  TEXT NOT NULL,
    target_count  INTEGER NOT NULL DEFAULT 1,
    success_count INTEGER NOT NULL DEFAULT 0,
    failure_count INTEGER NOT NULL DEFAULT 0,
    skipped_count INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL DEFAULT 'pending'
);
CREATE INDEX executions_job ON executions (job_id, initiated_at);
CREATE INDEX executions_status ON executions (status, initiated_at);
CREATE INDEX executions_initiated ON executions (initiated_at);

CREATE TABLE execution_results (
    result_id   TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL DEFAULT '',
    exec_id     TEXT NOT NULL DEFAULT '',
    pc_id       TEXT NOT NULL,
    job_id      TEXT NOT NULL DEFAULT '',    -- manifest id
    version     TEXT NOT NULL DEFAULT '',
    exit_code   INTEGER,                     -- NULL while in flight
    stdout      TEXT NOT NULL DEFAULT '',
    stderr      TEXT NOT NULL DEFAULT '',
    started_at  TEXT NOT NULL,
    finished_at TEXT,                        -- NULL while in flight
    recorded_at TEXT NOT NULL,               -- JetStream publish time
    expires_at  TEXT,
    reaped      INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    timed_out   INTEGER NOT NULL DEFAULT 0,
    killed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX results_exec ON execution_results (exec_id, recorded_at);
CREATE INDEX results_pc ON execution_results (pc_id, recorded_at);
CREATE INDEX results_job ON execution_results (job_id, recorded_at);
CREATE INDEX results_recorded ON execution_results (recorded_at);
CREATE INDEX results_inflight ON execution_results (expires_at, started_at) WHERE finished_at IS NULL;
CREATE INDEX results_failures ON execution_results (recorded_at) WHERE exit_code <> 0 AND skipped = 0;

-- The JetStream sequence is the key: replays and redeliveries collapse.
CREATE TABLE audit_log (
    stream_seq  BIGINT PRIMARY KEY,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    payload     TEXT NOT NULL DEFAULT '{}',
    occurred_at TEXT NOT NULL,
    source_ip   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_occurred ON audit_log (occurred_at);
CREATE INDEX audit_actor ON audit_log (actor, occurred_at);
CREATE INDEX audit_action ON audit_log (action, occurred_at);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE execution_results;
DROP TABLE executions;
DROP TABLE agent_groups;
DROP TABLE agents;
