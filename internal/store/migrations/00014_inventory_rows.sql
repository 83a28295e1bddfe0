-- +goose Up
-- Inventory jobs (SPEC §14): the rows an inventory job's last applied
-- result reported on each PC. row is a JSON object of the declared
-- columns, every value a string; item_key identifies the row on the PC
-- (the key column's value, or a JSON array of the key columns' values).
-- result_id/updated_at name the result that last added or changed it.
CREATE TABLE inventory_rows (
    table_name TEXT NOT NULL,
    pc_id      TEXT NOT NULL,
    item_key   TEXT NOT NULL,
    row        TEXT NOT NULL,
    search     TEXT NOT NULL, -- the values, lowercased, for q
    result_id  TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (table_name, pc_id, item_key)
);
CREATE INDEX inventory_rows_key ON inventory_rows (table_name, item_key, pc_id);

-- One row per column value of inventory_rows, so where=column:op:value is
-- an index range: sort_value is the value's version-aware sort key (hex of
-- an encoding where string order is store.CompareVersions order; hex so
-- any collation orders it the same), value the text lowercased for contains.
CREATE TABLE inventory_values (
    table_name  TEXT NOT NULL,
    column_name TEXT NOT NULL,
    pc_id       TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    value       TEXT NOT NULL,
    sort_value  TEXT NOT NULL,
    PRIMARY KEY (table_name, pc_id, item_key, column_name)
);
CREATE INDEX inventory_values_sort ON inventory_values (table_name, column_name, sort_value, pc_id, item_key);

-- Which result each PC's rows of a table come from: a result is applied
-- only when it is newer (finished_at, then stream_seq), so a late or
-- replayed older result changes nothing and a replay ends in the same
-- state. row_count and columns (JSON array) serve GET /api/inventory/tables
-- without counting inventory_rows.
CREATE TABLE inventory_sources (
    table_name  TEXT NOT NULL,
    pc_id       TEXT NOT NULL,
    result_id   TEXT NOT NULL,
    stream_seq  BIGINT NOT NULL,
    finished_at TEXT NOT NULL,
    row_count   INTEGER NOT NULL,
    columns     TEXT NOT NULL,
    PRIMARY KEY (table_name, pc_id)
);

-- Why a successful inventory job's output was not applied ('' = applied
-- or not an inventory job).
ALTER TABLE execution_results ADD COLUMN inventory_error TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE execution_results DROP COLUMN inventory_error;
DROP TABLE inventory_sources;
DROP TABLE inventory_values;
DROP TABLE inventory_rows;
