-- +goose Up
-- Rollout state of an execution with pending waves (SPEC §17), projected
-- from EXECS (paused, resumed, halted messages):
--   rollout_paused: 1 while an operator holds its later waves;
--   rollout_seq: the seq of the last paused/resumed message applied (an
--     older one arriving late changes nothing);
--   halt_reason: why halt_on stopped its later waves ('' = not halted).
ALTER TABLE executions ADD COLUMN rollout_paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN rollout_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN halt_reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE executions DROP COLUMN halt_reason;
ALTER TABLE executions DROP COLUMN rollout_seq;
ALTER TABLE executions DROP COLUMN rollout_paused;
