-- +goose Up
-- Operator broker credentials (operator.creds, POST /api/broker/operator-creds)
-- so each can be listed and revoked on its own (SPEC §12). Revoking one also
-- adds its key to broker_revocations, which the account JWT carries.
-- 00010: 00008 and 00009 were taken by parallel work on issue 15.
CREATE TABLE operator_creds (
    public_key TEXT PRIMARY KEY,       -- NKey user public key (U…)
    name       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,          -- RFC 3339 UTC, fixed width
    revoked_at TEXT NOT NULL DEFAULT '' -- '' while the credential works
);

-- +goose Down
DROP TABLE operator_creds;
