-- +goose Up
-- Every status filter of GET /api/results has an index of its own (SPEC
-- §18), as failures and in-flight runs already had: successes newest first
-- (without it SQLite walked results_job_success and sorted every success),
-- and skips (rare, so without an index a page of them could read the whole
-- table). internal/store/plan_test.go checks each filter uses its index.
CREATE INDEX results_success ON execution_results (recorded_at) WHERE exit_code = 0 AND skipped = 0;
CREATE INDEX results_skipped ON execution_results (recorded_at) WHERE skipped = 1;

-- +goose Down
DROP INDEX results_skipped;
DROP INDEX results_success;
