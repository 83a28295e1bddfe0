package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
)

// The MFA tables (migration 00020_mfa.sql): account_mfa,
// account_recovery_codes, mfa_challenges_used and settings. Every read and
// every "use" goes through the writer: a used TOTP step, recovery code or
// mfa_token must be seen as used by the very next request on any replica
// (the read pool of a replicated PostgreSQL could lag), and each use is one
// conditional write, so two replicas cannot both accept the same code.

var _ auth.MFAStore = (*DB)(nil)

// GetMFA reads an account's MFA row (zero state when it has none).
func (db *DB) GetMFA(ctx context.Context, accountID string) (auth.MFAState, error) {
	st := auth.MFAState{AccountID: accountID}
	var enabled int
	err := db.write.QueryRowContext(ctx, db.q(`SELECT secret, pending_secret, enabled, last_step
		FROM account_mfa WHERE account_id = ?`), accountID).Scan(&st.Secret, &st.PendingSecret, &enabled, &st.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read mfa: %w", err)
	}
	st.Enabled = enabled != 0
	return st, nil
}

// MFAStatus reads the account's enabled flag and the require-all policy in
// one round trip (it runs on each request of a signed-in account).
func (db *DB) MFAStatus(ctx context.Context, accountID string) (auth.MFAStatus, error) {
	var enabled int
	var policy string
	err := db.write.QueryRowContext(ctx, db.q(`SELECT
		COALESCE((SELECT enabled FROM account_mfa WHERE account_id = ?), 0),
		COALESCE((SELECT value FROM settings WHERE name = ?), '')`), accountID, auth.SettingMFARequired).Scan(&enabled, &policy)
	if err != nil {
		return auth.MFAStatus{}, fmt.Errorf("read mfa status: %w", err)
	}
	return auth.MFAStatus{Enabled: enabled != 0, RequireAll: policy == "true"}, nil
}

// MFAEnabledAccounts returns the ids of accounts with MFA enabled.
func (db *DB) MFAEnabledAccounts(ctx context.Context) (map[string]bool, error) {
	rows, err := db.write.QueryContext(ctx, `SELECT account_id FROM account_mfa WHERE enabled = 1`)
	if err != nil {
		return nil, fmt.Errorf("list mfa accounts: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list mfa accounts: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list mfa accounts: %w", err)
	}
	return out, nil
}

// BeginMFA stores a pending enrolment and replaces the recovery codes;
// auth.ErrMFAEnabled when MFA is on (checked in the transaction).
func (db *DB) BeginMFA(ctx context.Context, accountID, pendingSecret string, codeHashes []string, at time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin mfa: %w", err)
	}
	defer tx.Rollback()
	ts := TS(at)
	res, err := tx.ExecContext(ctx, db.q(`INSERT INTO account_mfa (account_id, pending_secret, created_at, updated_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET pending_secret = excluded.pending_secret, updated_at = excluded.updated_at
		WHERE account_mfa.enabled = 0`), accountID, pendingSecret, ts, ts)
	if err != nil {
		return fmt.Errorf("begin mfa: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("begin mfa: %w", err)
	} else if n == 0 {
		return auth.ErrMFAEnabled
	}
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM account_recovery_codes WHERE account_id = ?`), accountID); err != nil {
		return fmt.Errorf("begin mfa: %w", err)
	}
	for _, h := range codeHashes {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO account_recovery_codes (account_id, code_hash) VALUES (?, ?)`),
			accountID, h); err != nil {
			return fmt.Errorf("begin mfa: store recovery code: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("begin mfa: commit: %w", err)
	}
	return nil
}

// ConfirmMFA enables MFA with the pending secret, records step as used and
// bumps the account's token generation, in one transaction.
func (db *DB) ConfirmMFA(ctx context.Context, accountID, pendingSecret string, step int64, at time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("confirm mfa: %w", err)
	}
	defer tx.Rollback()
	ts := TS(at)
	res, err := tx.ExecContext(ctx, db.q(`UPDATE account_mfa SET secret = pending_secret, pending_secret = '',
		enabled = 1, last_step = ?, confirmed_at = ?, updated_at = ?
		WHERE account_id = ? AND enabled = 0 AND pending_secret = ? AND pending_secret <> ''`),
		step, ts, ts, accountID, pendingSecret)
	if err != nil {
		return fmt.Errorf("confirm mfa: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("confirm mfa: %w", err)
	} else if n == 0 {
		return auth.ErrMFANoPending
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE users SET token_version = token_version + 1, updated_at = ?
		WHERE id = ?`), ts, accountID); err != nil {
		return fmt.Errorf("confirm mfa: revoke sessions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("confirm mfa: commit: %w", err)
	}
	return nil
}

// UseTOTPStep records step as the last used when it is newer: one
// conditional UPDATE, so a code is accepted once across replicas.
func (db *DB) UseTOTPStep(ctx context.Context, accountID string, step int64) (bool, error) {
	res, err := db.write.ExecContext(ctx, db.q(`UPDATE account_mfa SET last_step = ?
		WHERE account_id = ? AND enabled = 1 AND last_step < ?`), step, accountID, step)
	if err != nil {
		return false, fmt.Errorf("use totp step: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("use totp step: %w", err)
	}
	return n == 1, nil
}

// UseRecoveryCode marks an unused recovery code of an enabled account used.
func (db *DB) UseRecoveryCode(ctx context.Context, accountID, codeHash string, at time.Time) (bool, error) {
	res, err := db.write.ExecContext(ctx, db.q(`UPDATE account_recovery_codes SET used_at = ?
		WHERE account_id = ? AND code_hash = ? AND used_at IS NULL
		AND EXISTS (SELECT 1 FROM account_mfa m WHERE m.account_id = account_recovery_codes.account_id AND m.enabled = 1)`),
		TS(at), accountID, codeHash)
	if err != nil {
		return false, fmt.Errorf("use recovery code: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("use recovery code: %w", err)
	}
	return n == 1, nil
}

// DeleteMFA removes an account's MFA and its recovery codes.
func (db *DB) DeleteMFA(ctx context.Context, accountID string) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete mfa: %w", err)
	}
	defer tx.Rollback()
	if err := deleteMFATx(ctx, db, tx, accountID); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete mfa: commit: %w", err)
	}
	return nil
}

// ResetMFA is an admin's reset (a lost or stolen device): the MFA goes
// and every session of the account ends, so whoever held the device and a
// session is out too.
func (db *DB) ResetMFA(ctx context.Context, accountID string, now time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("reset mfa: %w", err)
	}
	defer tx.Rollback()
	if err := deleteMFATx(ctx, db, tx, accountID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, db.q(`UPDATE users SET token_version = token_version + 1, updated_at = ?
		WHERE id = ?`), TS(now), accountID); err != nil {
		return fmt.Errorf("reset mfa: revoke sessions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reset mfa: commit: %w", err)
	}
	return nil
}

func deleteMFATx(ctx context.Context, db *DB, tx *sql.Tx, accountID string) error {
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM account_recovery_codes WHERE account_id = ?`), accountID); err != nil {
		return fmt.Errorf("delete mfa: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM account_mfa WHERE account_id = ?`), accountID); err != nil {
		return fmt.Errorf("delete mfa: %w", err)
	}
	return nil
}

// UseMFAChallenge records an mfa_token id as used (false when it already
// was) and prunes the expired ones, which can no longer be presented.
func (db *DB) UseMFAChallenge(ctx context.Context, jti string, expires, now time.Time) (bool, error) {
	if _, err := db.write.ExecContext(ctx, db.q(`DELETE FROM mfa_challenges_used WHERE expires_at < ?`), TS(now)); err != nil {
		return false, fmt.Errorf("prune mfa tokens: %w", err)
	}
	res, err := db.write.ExecContext(ctx, db.q(`INSERT INTO mfa_challenges_used (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO NOTHING`), jti, TS(expires))
	if err != nil {
		return false, fmt.Errorf("use mfa token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("use mfa token: %w", err)
	}
	return n == 1, nil
}

// GetSetting returns a backend-wide setting ("" when unset).
func (db *DB) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := db.write.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}

// PutSetting sets a backend-wide setting.
func (db *DB) PutSetting(ctx context.Context, name, value, by string, at time.Time) error {
	_, err := db.write.ExecContext(ctx, db.q(`INSERT INTO settings (name, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`),
		name, value, TS(at), by)
	if err != nil {
		return fmt.Errorf("write setting %s: %w", name, err)
	}
	return nil
}
