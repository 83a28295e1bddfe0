package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
)

// The api_tokens table (migration 17): API tokens for automation, stored
// as SHA-256 hashes. Like users, it lives only in SQL: it is not rebuilt
// from JetStream, so backups of the database cover it.

var _ auth.APITokens = (*DB)(nil)

const apiTokenCols = `id, name, token_hash, role, groups_json, account_id, created_by, created_at, expires_at, last_used_at`

func scanAPIToken(s scanner) (auth.APIToken, error) {
	var (
		t              auth.APIToken
		role, groups   string
		created        string
		expires, usedS sql.NullString
	)
	if err := s.Scan(&t.ID, &t.Name, &t.Hash, &role, &groups, &t.AccountID, &t.CreatedBy, &created, &expires, &usedS); err != nil {
		return t, err
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return t, fmt.Errorf("api token %q: %w", t.Name, err)
	}
	t.Role = r
	if err := json.Unmarshal([]byte(groups), &t.Groups); err != nil {
		return t, fmt.Errorf("api token %q groups: %w", t.Name, err)
	}
	t.CreatedAt = ParseTS(created)
	t.ExpiresAt, t.LastUsedAt = nullTime(expires), nullTime(usedS)
	return t, nil
}

// InsertAPIToken stores t; auth.ErrTokenExists for a duplicate name.
func (db *DB) InsertAPIToken(ctx context.Context, t auth.APIToken) error {
	groups := t.Groups
	if groups == nil {
		groups = []string{}
	}
	gj, err := json.Marshal(groups)
	if err != nil {
		return fmt.Errorf("create api token: %w", err)
	}
	var exp sql.NullString
	if t.ExpiresAt != nil {
		exp = NullTS(*t.ExpiresAt)
	}
	_, err = db.write.ExecContext(ctx, db.q(`INSERT INTO api_tokens (`+apiTokenCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`),
		t.ID, t.Name, t.Hash, t.Role.String(), string(gj), t.AccountID, t.CreatedBy, TS(t.CreatedAt), exp)
	if err != nil {
		if isUniqueViolation(err) {
			return auth.ErrTokenExists
		}
		return fmt.Errorf("create api token %q: %w", t.Name, err)
	}
	return nil
}

func (db *DB) getAPIToken(ctx context.Context, col, v string) (auth.APIToken, error) {
	// The writer, not the read pool: a revocation must be seen at once by
	// the next request even where the read pool could lag (a replicated
	// PostgreSQL).
	t, err := scanAPIToken(db.write.QueryRowContext(ctx, db.q(`SELECT `+apiTokenCols+` FROM api_tokens WHERE `+col+` = ?`), v))
	if errors.Is(err, sql.ErrNoRows) {
		return t, auth.ErrTokenNotFound
	}
	if err != nil {
		return t, fmt.Errorf("read api token: %w", err)
	}
	return t, nil
}

// GetAPITokenByHash reads the token with the hash.
func (db *DB) GetAPITokenByHash(ctx context.Context, hash string) (auth.APIToken, error) {
	return db.getAPIToken(ctx, "token_hash", hash)
}

// GetAPIToken reads the token with the id.
func (db *DB) GetAPIToken(ctx context.Context, id string) (auth.APIToken, error) {
	return db.getAPIToken(ctx, "id", id)
}

// ListAPITokens returns one account's tokens (all for ""), newest first.
func (db *DB) ListAPITokens(ctx context.Context, accountID string) ([]auth.APIToken, error) {
	var w where
	if accountID != "" {
		w.add("account_id = ?", accountID)
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+apiTokenCols+` FROM api_tokens`+w.sql()+` ORDER BY created_at DESC, id DESC`), w.args...)
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	defer rows.Close()
	out := []auth.APIToken{}
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list api tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	return out, nil
}

// DeleteAPIToken revokes the token with the id.
func (db *DB) DeleteAPIToken(ctx context.Context, id string) error {
	res, err := db.write.ExecContext(ctx, db.q(`DELETE FROM api_tokens WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("revoke api token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke api token: %w", err)
	} else if n == 0 {
		return auth.ErrTokenNotFound
	}
	return nil
}

// TouchAPIToken sets last_used_at (never backwards).
func (db *DB) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	ts := TS(at)
	_, err := db.write.ExecContext(ctx, db.q(`UPDATE api_tokens SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`), ts, id, ts)
	if err != nil {
		return fmt.Errorf("touch api token: %w", err)
	}
	return nil
}
