-- +goose Up
-- Enrollment (SPEC §12). Portable SQLite/PostgreSQL like 00002: timestamps
-- TEXT in fixed-width RFC 3339 UTC, booleans INTEGER 0/1.

-- One-time secrets an operator hands to a PC. Only the SHA-256 of the
-- secret is kept: it is 256 random bits, so a fast hash is enough (nothing
-- to brute-force) and a copy of the database enrolls nobody.
CREATE TABLE enrollment_tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,  -- hex SHA-256 of the secret
    group_list TEXT NOT NULL,         -- JSON array of groups, put in agent_groups at enrollment
    uses       INTEGER NOT NULL,
    uses_left  INTEGER NOT NULL,      -- decremented atomically by each enrollment
    expires_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- The enrolled PCs: which NKey each holds the broker credential for.
CREATE TABLE enrollments (
    pc_id            TEXT PRIMARY KEY,
    public_key       TEXT NOT NULL,     -- NKey user public key (U…)
    token_id         TEXT NOT NULL,     -- the token used (it may be deleted since)
    hostname         TEXT NOT NULL,
    os_family        TEXT NOT NULL,
    enrolled_at      TEXT NOT NULL,
    reenroll_allowed INTEGER NOT NULL DEFAULT 0  -- POST /api/agents/{pc}/reenroll
);

-- Revoked broker users (DELETE /api/agents/{pc}, re-enrollment): the
-- backend signs them into the account JWT at every start, so a revocation
-- survives restarts and is shared by replicas.
CREATE TABLE broker_revocations (
    account    TEXT NOT NULL,     -- account public key
    public_key TEXT NOT NULL,     -- user public key
    revoked_at INTEGER NOT NULL,  -- unix seconds: JWTs issued up to then are refused
    pc_id      TEXT NOT NULL,
    PRIMARY KEY (account, public_key)
);

-- +goose Down
DROP TABLE broker_revocations;
DROP TABLE enrollments;
DROP TABLE enrollment_tokens;
