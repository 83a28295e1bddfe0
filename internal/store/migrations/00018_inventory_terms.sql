-- +goose Up
-- The distinct values of each inventory column (issue 17): a substring
-- search (where=column:contains:x, q=x) first finds the few distinct
-- values that contain x here — thousands of names, not millions of rows —
-- and then reads only their rows through inventory_values_sort. Written
-- with ON CONFLICT DO NOTHING beside every inventory_values insert; a term
-- whose last row went is left for retention to prune (a stale term only
-- costs one empty index lookup). Keyed by sort_value before value: a
-- search groups the terms by (column, sort_value) in key order to learn
-- whether every value sharing a sort key contains the text.
CREATE TABLE inventory_terms (
    table_name  TEXT NOT NULL,
    column_name TEXT NOT NULL,
    value       TEXT NOT NULL, -- lowercased, as inventory_values.value
    sort_value  TEXT NOT NULL,
    PRIMARY KEY (table_name, column_name, sort_value, value)
);
INSERT INTO inventory_terms (table_name, column_name, value, sort_value)
    SELECT DISTINCT table_name, column_name, value, sort_value FROM inventory_values;

-- +goose Down
DROP TABLE inventory_terms;
