-- +goose Up
-- Waves not yet sent: an execution is not completed while any remain, even
-- if every target counted so far has reported.
ALTER TABLE executions ADD COLUMN pending_waves INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE executions DROP COLUMN pending_waves;
