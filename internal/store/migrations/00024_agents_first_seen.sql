-- +goose Up
-- GET /api/stats/agents-online counts the PCs first seen within its window.
CREATE INDEX agents_first_seen ON agents (first_seen);

-- +goose Down
DROP INDEX agents_first_seen;
