-- +goose Up
-- Inventory (SPEC §14). agent_facts is the latest built-in report per PC,
-- projected from stream INVENTORY; stream_seq is the message applied, so a
-- redelivered or replayed older message changes nothing.
CREATE TABLE agent_facts (
    pc_id           TEXT PRIMARY KEY,
    stream_seq      BIGINT NOT NULL,
    collected_at    TEXT NOT NULL,
    hostname        TEXT NOT NULL DEFAULT '',
    os_family       TEXT NOT NULL DEFAULT '',
    os_version      TEXT NOT NULL DEFAULT '',
    os_build        TEXT NOT NULL DEFAULT '',
    kernel          TEXT NOT NULL DEFAULT '',
    arch            TEXT NOT NULL DEFAULT '',
    cpu_model       TEXT NOT NULL DEFAULT '',
    cpu_cores       INTEGER NOT NULL DEFAULT 0,
    memory_bytes    BIGINT NOT NULL DEFAULT 0,
    boot_time       TEXT,
    timezone        TEXT NOT NULL DEFAULT '',
    agent_version   TEXT NOT NULL DEFAULT '',
    logged_in_users TEXT NOT NULL DEFAULT '[]', -- JSON array
    disks           TEXT NOT NULL DEFAULT '[]', -- JSON array of wire.Disk
    interfaces      TEXT NOT NULL DEFAULT '[]'  -- JSON array of wire.Interface
);
CREATE INDEX agent_facts_os ON agent_facts (os_family, os_version, pc_id);

-- One row per changed fact field (table_name 'facts', item_key '') or per
-- added/removed/changed inventory row (table_name the job's table,
-- item_key the row's key, field ''). The source message (stream and
-- sequence) is part of the key, so replay and redelivery insert nothing
-- twice.
CREATE TABLE inventory_history (
    stream      TEXT NOT NULL,   -- INVENTORY or RESULTS
    stream_seq  BIGINT NOT NULL,
    table_name  TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    field       TEXT NOT NULL,
    pc_id       TEXT NOT NULL,
    change      TEXT NOT NULL,   -- added | removed | changed
    old_value   TEXT,            -- JSON (a fact's value or a row), NULL when added
    new_value   TEXT,            -- JSON, NULL when removed
    at          TEXT NOT NULL,   -- when the agent collected it
    PRIMARY KEY (stream, stream_seq, table_name, item_key, field)
);
CREATE INDEX inventory_history_pc ON inventory_history (pc_id, at);
CREATE INDEX inventory_history_table ON inventory_history (table_name, at);
-- The newest-first list without a filter, and since= (in the list's whole order).
CREATE INDEX inventory_history_at ON inventory_history (at, stream, stream_seq, table_name, item_key, field);

-- +goose Down
DROP TABLE inventory_history;
DROP TABLE agent_facts;
