package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"
)

// migrationAccountIDs (17) binds tokens to accounts (issue 19): every
// account gets an immutable id, which JWTs name instead of the username
// (deleting an account and creating another with its name never revives
// its tokens), a last_login_at, and API tokens get their table. A Go
// migration because existing rows need fresh UUIDv7 ids, which neither
// SQLite nor PostgreSQL can generate in the common SQL subset; the
// statements themselves are portable.
const migrationAccountIDs = 17

var accountIDsUp = []string{
	// NOT NULL with a default so ALTER TABLE works on SQLite; the backfill
	// below replaces every '' before the unique index is built.
	`ALTER TABLE users ADD COLUMN id TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE users ADD COLUMN last_login_at TEXT`,
	// backfill runs here
	`CREATE UNIQUE INDEX users_id ON users (id)`,
	// API tokens (SPEC §16). Only the SHA-256 of the token is kept. A token
	// is bound to the account that created it (account_id): it dies with
	// that account. Revocation deletes the row.
	`CREATE TABLE api_tokens (
		id           TEXT PRIMARY KEY,
		name         TEXT NOT NULL UNIQUE,
		token_hash   TEXT NOT NULL UNIQUE,
		role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
		groups_json  TEXT NOT NULL DEFAULT '[]',
		account_id   TEXT NOT NULL,
		created_by   TEXT NOT NULL,
		created_at   TEXT NOT NULL,
		expires_at   TEXT,
		last_used_at TEXT
	)`,
	`CREATE INDEX api_tokens_account ON api_tokens (account_id, created_at)`,
}

var accountIDsDown = []string{
	`DROP TABLE IF EXISTS api_tokens`,
	`DROP INDEX IF EXISTS users_id`,
	`ALTER TABLE users DROP COLUMN last_login_at`,
	`ALTER TABLE users DROP COLUMN id`,
}

func (db *DB) accountIDsMigration(up bool) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		stmts := accountIDsDown
		if up {
			stmts = accountIDsUp
		}
		for i, s := range stmts {
			if up && i == 2 {
				if err := backfillAccountIDs(ctx, db, tx); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("migration %d: %w", migrationAccountIDs, err)
			}
		}
		return nil
	}
}

func backfillAccountIDs(ctx context.Context, db *DB, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT username FROM users WHERE id = ''`)
	if err != nil {
		return fmt.Errorf("migration %d: list accounts: %w", migrationAccountIDs, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("migration %d: %w", migrationAccountIDs, err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migration %d: %w", migrationAccountIDs, err)
	}
	for _, n := range names {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("migration %d: %w", migrationAccountIDs, err)
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE users SET id = ? WHERE username = ?`), id.String(), n); err != nil {
			return fmt.Errorf("migration %d: backfill %q: %w", migrationAccountIDs, n, err)
		}
	}
	return nil
}
