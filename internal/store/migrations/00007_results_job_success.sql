-- +goose Up
-- per_pc schedules ask, every minute, for each PC's last success of a job
-- (count_manual): an index of successes only keeps that a short scan even
-- when the job has a million results.
CREATE INDEX results_job_success ON execution_results (job_id, pc_id, finished_at) WHERE exit_code = 0 AND skipped = 0;

-- +goose Down
DROP INDEX results_job_success;
