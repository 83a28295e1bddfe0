-- +goose Up
-- Multi-factor authentication (TOTP, RFC 6238; SPEC §16, issue 19).
-- Like users and api_tokens these tables live only in SQL: they are not
-- rebuilt from JetStream, so backups of the database cover them. Portable
-- SQLite/PostgreSQL: timestamps TEXT RFC 3339 UTC, booleans INTEGER 0/1.

-- One row per account that has begun enrolment. secret is the confirmed
-- TOTP secret (base32; '' until confirmed), pending_secret the enrolment
-- awaiting POST /api/auth/mfa/confirm. last_step is the newest TOTP time
-- step accepted: a code of that step or an older one is refused (replay),
-- decided by one conditional UPDATE, so two replicas cannot both accept it.
CREATE TABLE account_mfa (
    account_id     TEXT PRIMARY KEY,          -- users.id (immutable, never reused)
    secret         TEXT NOT NULL DEFAULT '',
    pending_secret TEXT NOT NULL DEFAULT '',
    enabled        INTEGER NOT NULL DEFAULT 0,
    last_step      BIGINT NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    confirmed_at   TEXT
);

-- Recovery codes of the account's current enrolment: only the SHA-256 of
-- each (high-entropy) code; used_at set once, atomically, when one is used.
CREATE TABLE account_recovery_codes (
    account_id TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (account_id, code_hash)
);

-- The mfa_token ids (jti) already exchanged for a session: a second use
-- is refused on every replica. Rows past expires_at are pruned on insert.
CREATE TABLE mfa_challenges_used (
    jti        TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
CREATE INDEX mfa_challenges_used_expires ON mfa_challenges_used (expires_at);

-- Backend-wide settings that must hold on every replica and survive a
-- restart, read on each request (e.g. mfa_require_all).
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE settings;
DROP TABLE mfa_challenges_used;
DROP TABLE account_recovery_codes;
DROP TABLE account_mfa;
