package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OperatorCred is one issued operator broker credential (its secret is
// never stored: it was shown once).
type OperatorCred struct {
	PublicKey string
	Name      string
	CreatedBy string
	CreatedAt time.Time
	RevokedAt time.Time // zero while it works
}

// InsertOperatorCred records an issued credential.
func (db *DB) InsertOperatorCred(ctx context.Context, c OperatorCred) error {
	_, err := db.write.ExecContext(ctx, db.q(`INSERT INTO operator_creds (public_key, name, created_by, created_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (public_key) DO NOTHING`), c.PublicKey, c.Name, c.CreatedBy, TS(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("record operator credential %s: %w", c.PublicKey, err)
	}
	return nil
}

// ListOperatorCreds returns every issued credential, newest first.
func (db *DB) ListOperatorCreds(ctx context.Context) ([]OperatorCred, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT public_key, name, created_by, created_at, revoked_at
		FROM operator_creds ORDER BY created_at DESC, public_key`)
	if err != nil {
		return nil, fmt.Errorf("list operator credentials: %w", err)
	}
	defer rows.Close()
	out := []OperatorCred{}
	for rows.Next() {
		var (
			c          OperatorCred
			at, revoke string
		)
		if err := rows.Scan(&c.PublicKey, &c.Name, &c.CreatedBy, &at, &revoke); err != nil {
			return nil, fmt.Errorf("list operator credentials: %w", err)
		}
		c.CreatedAt = ParseTS(at)
		if revoke != "" {
			c.RevokedAt = ParseTS(revoke)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RevokeOperatorCred marks the credential revoked and records its key in
// broker_revocations of account, in one transaction. Revoking it again
// changes nothing; false when no such credential was issued.
func (db *DB) RevokeOperatorCred(ctx context.Context, publicKey, account string, at time.Time) (OperatorCred, bool, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return OperatorCred{}, false, fmt.Errorf("revoke operator credential: begin: %w", err)
	}
	defer tx.Rollback()
	c := OperatorCred{PublicKey: publicKey}
	var created, revoked string
	err = tx.QueryRowContext(ctx, db.q(`SELECT name, created_by, created_at, revoked_at FROM operator_creds WHERE public_key = ?`),
		publicKey).Scan(&c.Name, &c.CreatedBy, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("revoke operator credential %s: %w", publicKey, err)
	}
	c.CreatedAt = ParseTS(created)
	if revoked != "" {
		c.RevokedAt = ParseTS(revoked)
		return c, true, nil
	}
	c.RevokedAt = ParseTS(TS(at)) // as stored, so a second revoke answers the same
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE operator_creds SET revoked_at = ? WHERE public_key = ?`), TS(at), publicKey); err != nil {
		return c, false, fmt.Errorf("revoke operator credential %s: %w", publicKey, err)
	}
	// pc_id says whose key it was; an operator credential has no PC.
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO broker_revocations (account, public_key, revoked_at, pc_id)
		VALUES (?, ?, ?, ?) ON CONFLICT (account, public_key) DO NOTHING`), account, publicKey, at.Unix(), "operator:"+c.Name); err != nil {
		return c, false, fmt.Errorf("revoke operator credential %s: %w", publicKey, err)
	}
	if err := tx.Commit(); err != nil {
		return c, false, fmt.Errorf("revoke operator credential %s: commit: %w", publicKey, err)
	}
	return c, true, nil
}
