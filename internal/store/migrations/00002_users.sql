-- +goose Up
-- Accounts of the HTTP API (internal/auth). Portable SQLite/PostgreSQL:
-- timestamps are TEXT in fixed-width RFC 3339 UTC, booleans INTEGER 0/1.
CREATE TABLE users (
    username       TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,            -- argon2id PHC string
    role           TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled       INTEGER NOT NULL DEFAULT 0,
    must_change_pw INTEGER NOT NULL DEFAULT 0,
    failed_logins  INTEGER NOT NULL DEFAULT 0, -- consecutive, reset on success or lock
    locked_until   TEXT,                       -- NULL = not locked
    token_version  INTEGER NOT NULL DEFAULT 0, -- bumped on password change: older JWTs die
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
-- The last-enabled-admin guard counts these.
CREATE INDEX users_role_disabled ON users (role, disabled);

-- +goose Down
DROP TABLE users;
