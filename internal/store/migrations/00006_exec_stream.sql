-- +goose Up
-- The executions row is rebuilt from the EXECS stream (SPEC §11) and says
-- how its fan-out went (issue 14). Every change an ExecRequested message
-- makes is applied at most once, whichever path (the API at once, the
-- executions projector, a replay) applies it first:
--   subjects_sent, subjects_failed: the first fan-out's outcome (a JSON
--     array of the subjects the broker did not acknowledge, '' when none),
--     set once (fanout_done);
--   wave_subjects: later waves sent (each one subject);
--   waves_done: ',i,j,' — the later waves whose fate (sent or cancelled)
--     is applied, so a redelivered wave message changes nothing.
ALTER TABLE executions ADD COLUMN subjects_sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN subjects_failed TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN fanout_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN wave_subjects INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN waves_done TEXT NOT NULL DEFAULT ',';

-- +goose Down
ALTER TABLE executions DROP COLUMN waves_done;
ALTER TABLE executions DROP COLUMN wave_subjects;
ALTER TABLE executions DROP COLUMN fanout_done;
ALTER TABLE executions DROP COLUMN subjects_failed;
ALTER TABLE executions DROP COLUMN subjects_sent;
