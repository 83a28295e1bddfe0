-- +goose Up
-- Dispatches of per_pc schedules, one row per (schedule, PC, exec): how the
-- scheduler knows which PCs succeeded through *this* schedule and which are
-- still in flight. finished_at/success are copied from execution_results
-- once the PC's result is final ("settled"), so a success outlives the
-- results retention (per_pc: once means once, forever).
CREATE TABLE schedule_dispatches (
    schedule_id   TEXT NOT NULL,
    pc_id         TEXT NOT NULL,
    exec_id       TEXT NOT NULL,
    dispatched_at TEXT NOT NULL,
    finished_at   TEXT,                     -- NULL until settled
    success       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (schedule_id, pc_id, exec_id)
);
CREATE INDEX schedule_dispatches_open ON schedule_dispatches (schedule_id, finished_at);

-- +goose Down
DROP TABLE schedule_dispatches;
