package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kanade-fleet/kanade/internal/auth"
)

// The users table (migration 00002_users.sql): the accounts of the HTTP
// API. internal/auth validates, hashes and decides; this file only stores,
// and keeps the last-admin guard, which needs the database's locks.

var _ auth.Accounts = (*DB)(nil)

const accountCols = `id, username, password_hash, role, disabled, must_change_pw, failed_logins,
	locked_until, token_version, created_at, updated_at, last_login_at,
	groups_json`

func scanAccount(s scanner) (auth.User, error) {
	var (
		u                auth.User
		role             string
		disabled, mustCh int
		locked, login    sql.NullString
		created, updated string
		groups           string
	)
	if err := s.Scan(&u.ID, &u.Username, &u.PasswordHash, &role, &disabled, &mustCh, &u.FailedLogins,
		&locked, &u.TokenVersion, &created, &updated, &login,
		&groups); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(groups), &u.Groups); err != nil {
		return u, fmt.Errorf("account %q groups: %w", u.Username, err)
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		return u, fmt.Errorf("account %q: %w", u.Username, err)
	}
	u.Role = r
	u.Disabled = disabled != 0
	u.MustChangePW = mustCh != 0
	u.LockedUntil = nullTime(locked)
	u.LastLoginAt = nullTime(login)
	u.CreatedAt, u.UpdatedAt = ParseTS(created), ParseTS(updated)
	return u, nil
}

// getAccount reads one account through q: the reader pool, the writer (so
// a caller sees its own write at once; the reader pool of a replicated
// PostgreSQL could lag) or a transaction.
func (db *DB) getAccount(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, username string) (auth.User, error) {
	return db.getAccountWhere(ctx, q, "username", username)
}

func (db *DB) getAccountWhere(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, col, v string) (auth.User, error) {
	u, err := scanAccount(q.QueryRowContext(ctx, db.q(`SELECT `+accountCols+` FROM users WHERE `+col+` = ?`), v))
	if errors.Is(err, sql.ErrNoRows) {
		return u, auth.ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("read account %s %q: %w", col, v, err)
	}
	return u, nil
}

// GetAccountByID reads the account with the immutable id (from the read
// pool). An empty id matches nothing.
func (db *DB) GetAccountByID(ctx context.Context, id string) (auth.User, error) {
	if id == "" {
		return auth.User{}, auth.ErrNotFound
	}
	return db.getAccountWhere(ctx, db.read, "id", id)
}

// GetAccount reads one account (from the read pool).
func (db *DB) GetAccount(ctx context.Context, username string) (auth.User, error) {
	return db.getAccount(ctx, db.read, username)
}

// CountAccounts returns the number of accounts.
func (db *DB) CountAccounts(ctx context.Context) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts: %w", err)
	}
	return n, nil
}

// ListAccounts returns accounts ordered by username (after the username
// after, when set), and the exact total count (a small table).
func (db *DB) ListAccounts(ctx context.Context, after string, limit, offset int) ([]auth.User, int, error) {
	total, err := db.CountAccounts(ctx)
	if err != nil {
		return nil, 0, err
	}
	var w where
	if after != "" {
		w.add("username > ?", after)
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+accountCols+` FROM users`+w.sql()+` ORDER BY username LIMIT ? OFFSET ?`),
		append(w.args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := []auth.User{}
	for rows.Next() {
		u, err := scanAccount(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list accounts: %w", err)
	}
	return out, total, nil
}

// InsertAccount creates an enabled account; auth.ErrExists on a duplicate
// username.
func (db *DB) InsertAccount(ctx context.Context, a auth.NewAccount) (auth.User, error) {
	at := TS(a.At)
	if a.ID == "" {
		var err error
		if a.ID, err = auth.NewAccountID(); err != nil {
			return auth.User{}, err
		}
	}
	gj, err := groupsJSON(a.Groups)
	if err != nil {
		return auth.User{}, err
	}
	_, err = db.write.ExecContext(ctx, db.q(`INSERT INTO users (id, username, password_hash, role, disabled,
		must_change_pw, failed_logins, token_version, created_at, updated_at, groups_json)
		VALUES (?, ?, ?, ?, 0, ?, 0, 0, ?, ?, ?)`),
		a.ID, a.Username, a.PasswordHash, a.Role.String(), b2i(a.MustChangePW), at, at, gj)
	if err != nil {
		if isUniqueViolation(err) {
			return auth.User{}, auth.ErrExists
		}
		return auth.User{}, fmt.Errorf("create account %q: %w", a.Username, err)
	}
	return db.getAccount(ctx, db.write, a.Username)
}

// InsertFirstAccount creates a when the table is empty and reports whether
// it did.
func (db *DB) InsertFirstAccount(ctx context.Context, a auth.NewAccount) (bool, error) {
	at := TS(a.At)
	// One statement: two replicas starting together create at most one.
	if a.ID == "" {
		var err error
		if a.ID, err = auth.NewAccountID(); err != nil {
			return false, err
		}
	}
	res, err := db.write.ExecContext(ctx, db.q(`INSERT INTO users (id, username, password_hash, role, disabled,
		must_change_pw, failed_logins, token_version, created_at, updated_at)
		SELECT ?, ?, ?, ?, 0, ?, 0, 0, ?, ?
		WHERE NOT EXISTS (SELECT 1 FROM users)`),
		a.ID, a.Username, a.PasswordHash, a.Role.String(), b2i(a.MustChangePW), at, at)
	if err != nil {
		if isUniqueViolation(err) {
			return false, nil
		}
		return false, fmt.Errorf("bootstrap admin: %w", err)
	}
	k, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("bootstrap admin: %w", err)
	}
	return k == 1, nil
}

// UpdateAccount applies c; auth.ErrLastAdmin when it would demote or
// disable the last enabled admin (see guarded).
func (db *DB) UpdateAccount(ctx context.Context, username string, c auth.AccountChange) (auth.User, error) {
	err := db.guarded(ctx, username, c.RemovesAdmin, func(tx *sql.Tx) error {
		sets := []string{}
		args := []any{}
		add := func(col string, v any) {
			args = append(args, v)
			sets = append(sets, col+" = ?")
		}
		if c.Role != nil {
			add("role", c.Role.String())
		}
		if c.Disabled != nil {
			add("disabled", b2i(*c.Disabled))
		}
		if c.PasswordHash != nil {
			add("password_hash", *c.PasswordHash)
			sets = append(sets, "token_version = token_version + 1",
				"failed_logins = 0", "locked_until = NULL")
		}
		if c.MustChangePW != nil {
			add("must_change_pw", b2i(*c.MustChangePW))
		}
		if c.Groups != nil {
			gj, err := groupsJSON(*c.Groups)
			if err != nil {
				return err
			}
			add("groups_json", gj)
		}
		add("updated_at", TS(c.At))
		args = append(args, username)
		_, err := tx.ExecContext(ctx, db.q(`UPDATE users SET `+strings.Join(sets, ", ")+` WHERE username = ?`), args...)
		return err
	})
	if err != nil {
		return auth.User{}, err
	}
	return db.getAccount(ctx, db.write, username)
}

// DeleteAccount removes an account and the API tokens it created (they
// are bound to it and would be refused anyway); auth.ErrLastAdmin for the
// last enabled admin.
func (db *DB) DeleteAccount(ctx context.Context, username string) error {
	return db.guarded(ctx, username, auth.User.IsEnabledAdmin, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM api_tokens
			WHERE account_id IN (SELECT id FROM users WHERE username = ?)`), username); err != nil {
			return err
		}
		for _, t := range []string{"account_recovery_codes", "account_mfa"} { // migration 00020
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM `+t+`
				WHERE account_id IN (SELECT id FROM users WHERE username = ?)`), username); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, db.q(`DELETE FROM users WHERE username = ?`), username)
		return err
	})
}

// guarded runs change in one transaction after locking every enabled admin
// row. The lock is a no-op UPDATE: on SQLite it takes the database write
// lock at once (whatever the connection setup), on PostgreSQL it row-locks
// the enabled admins, so a concurrent guarded change waits and then sees
// the committed result. Two requests removing the two last admins can thus
// never both pass the count.
func (db *DB) guarded(ctx context.Context, username string, removesAdmin func(auth.User) bool, change func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx,
		`UPDATE users SET updated_at = updated_at WHERE role = 'admin' AND disabled = 0`); err != nil {
		return fmt.Errorf("lock admins: %w", err)
	}
	cur, err := db.getAccount(ctx, tx, username)
	if err != nil {
		return err
	}
	if removesAdmin(cur) {
		var others int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM users
			WHERE role = 'admin' AND disabled = 0 AND username <> ?`), username).Scan(&others); err != nil {
			return fmt.Errorf("count admins: %w", err)
		}
		if others == 0 {
			return auth.ErrLastAdmin
		}
	}
	if err := change(tx); err != nil {
		return fmt.Errorf("change account %q: %w", username, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// RecordLoginFailure counts a failed password: the max-th consecutive
// failure sets locked_until and restarts the count. It returns locked_until
// as stored afterwards (zero when NULL); auth.ErrNotFound for no account.
func (db *DB) RecordLoginFailure(ctx context.Context, username string, max int, lockUntil time.Time) (time.Time, error) {
	var locked sql.NullString
	err := db.write.QueryRowContext(ctx, db.q(`UPDATE users SET
		locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END,
		failed_logins = CASE WHEN failed_logins + 1 >= ? THEN 0 ELSE failed_logins + 1 END
		WHERE username = ? RETURNING locked_until`), max, TS(lockUntil), max, username).Scan(&locked)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, auth.ErrNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("record login failure: %w", err)
	}
	if t := nullTime(locked); t != nil {
		return *t, nil
	}
	return time.Time{}, nil
}

// RecordLogin ends the failure streak and any lock and sets last_login_at.
func (db *DB) RecordLogin(ctx context.Context, username string, at time.Time) error {
	_, err := db.write.ExecContext(ctx, db.q(`UPDATE users SET failed_logins = 0, locked_until = NULL,
		last_login_at = ? WHERE username = ?`), TS(at), username)
	if err != nil {
		return fmt.Errorf("record login success: %w", err)
	}
	return nil
}

// groupsJSON is a scope as stored: a JSON array, never null.
func groupsJSON(groups []string) (string, error) {
	if groups == nil {
		groups = []string{}
	}
	b, err := json.Marshal(groups)
	if err != nil {
		return "", fmt.Errorf("account groups: %w", err)
	}
	return string(b), nil
}

func isUniqueViolation(err error) bool {
	msg := strings.ToLower(err.Error())
	// SQLite: "UNIQUE constraint failed"; PostgreSQL: SQLSTATE 23505.
	return strings.Contains(msg, "unique constraint") || strings.Contains(msg, "23505") ||
		strings.Contains(msg, "duplicate key")
}
