-- +goose Up
-- Self-update state from each agent's last heartbeat (SPEC §13). '' until
-- an agent that knows about self-update says (older agents never do). Not
-- in any stream: a rebuilt projection fills them on the next heartbeat,
-- like every other heartbeat column.
ALTER TABLE agents ADD COLUMN update_state TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN update_error TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN quarantined_version TEXT NOT NULL DEFAULT '';
-- The filters of GET /api/agents (update_state=, version=, quarantined=)
-- and the GROUP BY of GET /api/agents/versions. None holds last_heartbeat,
-- and the heartbeat upsert sets their columns only when they change
-- (store/heartbeats.go): SQLite rewrites an index entry whenever an UPDATE
-- names its column. Quarantine is rare, so its index is partial.
-- internal/store/plan_test.go checks each is used.
CREATE INDEX agents_update_state ON agents (update_state, pc_id);
CREATE INDEX agents_version ON agents (agent_version, update_state, pc_id);
CREATE INDEX agents_quarantined ON agents (quarantined_version, pc_id) WHERE quarantined_version > '';

-- +goose Down
DROP INDEX agents_quarantined;
DROP INDEX agents_version;
DROP INDEX agents_update_state;
ALTER TABLE agents DROP COLUMN quarantined_version;
ALTER TABLE agents DROP COLUMN update_error;
ALTER TABLE agents DROP COLUMN update_state;
