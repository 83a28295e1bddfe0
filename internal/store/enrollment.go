package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The enrollment tables (migration 00005_enrollment.sql): enrollment
// tokens, enrolled PCs and revoked broker users. internal/enrollment
// decides; this file stores, and makes consuming a token atomic.

// Enrollment refusals (internal/enrollment maps them to HTTP statuses).
var (
	ErrTokenUnknown    = errors.New("unknown enrollment token")
	ErrTokenSpent      = errors.New("enrollment token expired or used up")
	ErrAlreadyEnrolled = errors.New("pc_id already enrolled")
	ErrKeyRevoked      = errors.New("this public key was revoked")
)

// EnrollmentToken is a token row (never the secret).
type EnrollmentToken struct {
	ID        string
	Groups    []string
	Uses      int
	UsesLeft  int
	ExpiresAt time.Time
	CreatedBy string
	CreatedAt time.Time
}

// Enrollment is an enrolled PC.
type Enrollment struct {
	PCID            string
	PublicKey       string
	TokenID         string
	Hostname        string
	OSFamily        string
	EnrolledAt      time.Time
	ReenrollAllowed bool
}

const tokenCols = `id, group_list, uses, uses_left, expires_at, created_by, created_at`

func scanToken(s scanner) (EnrollmentToken, error) {
	var (
		t                  EnrollmentToken
		groups, exp, creat string
	)
	if err := s.Scan(&t.ID, &groups, &t.Uses, &t.UsesLeft, &exp, &t.CreatedBy, &creat); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(groups), &t.Groups); err != nil {
		return t, fmt.Errorf("enrollment token %s: groups: %w", t.ID, err)
	}
	if t.Groups == nil {
		t.Groups = []string{}
	}
	t.ExpiresAt, t.CreatedAt = ParseTS(exp), ParseTS(creat)
	return t, nil
}

// InsertEnrollmentToken stores a new token under the hash of its secret.
func (db *DB) InsertEnrollmentToken(ctx context.Context, t EnrollmentToken, tokenHash string) error {
	groups := t.Groups
	if groups == nil {
		groups = []string{}
	}
	g, err := json.Marshal(groups)
	if err != nil {
		return err
	}
	_, err = db.write.ExecContext(ctx, db.q(`INSERT INTO enrollment_tokens (id, token_hash, group_list, uses,
		uses_left, expires_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		t.ID, tokenHash, string(g), t.Uses, t.UsesLeft, TS(t.ExpiresAt), t.CreatedBy, TS(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("create enrollment token: %w", err)
	}
	return nil
}

// ListEnrollmentTokens returns every token, newest first.
func (db *DB) ListEnrollmentTokens(ctx context.Context) ([]EnrollmentToken, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+tokenCols+` FROM enrollment_tokens ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", err)
	}
	defer rows.Close()
	out := []EnrollmentToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list enrollment tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteEnrollmentToken removes a token; false when there was none.
func (db *DB) DeleteEnrollmentToken(ctx context.Context, id string) (bool, error) {
	res, err := db.write.ExecContext(ctx, db.q(`DELETE FROM enrollment_tokens WHERE id = ?`), id)
	if err != nil {
		return false, fmt.Errorf("delete enrollment token %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// CheckEnrollmentToken reads the token stored under tokenHash and checks
// it is usable at at (uses left, not expired), consuming nothing: the
// installer's script and release download are authorised by the token
// the enrollment then spends. A deleted token is unknown.
func (db *DB) CheckEnrollmentToken(ctx context.Context, tokenHash string, at time.Time) (EnrollmentToken, error) {
	tok, err := scanToken(db.read.QueryRowContext(ctx, db.q(`SELECT `+tokenCols+` FROM enrollment_tokens WHERE token_hash = ?`), tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return tok, ErrTokenUnknown
	}
	if err != nil {
		return tok, fmt.Errorf("check enrollment token: %w", err)
	}
	if tok.UsesLeft <= 0 || !tok.ExpiresAt.After(at) {
		return tok, ErrTokenSpent
	}
	return tok, nil
}

// EnrollInput is one enrollment attempt.
type EnrollInput struct {
	TokenHash string
	PCID      string
	PublicKey string
	Account   string // the account the PC's user lives in (revocations are per account)
	Hostname  string
	OSFamily  string
	At        time.Time
}

// EnrollOutcome is what an accepted enrollment consumed and replaced.
type EnrollOutcome struct {
	Token EnrollmentToken // as read before this use
	// PreviousKey is the public key of the enrollment this one replaced
	// (a re-enrollment), now recorded as revoked; "" for a first one.
	PreviousKey string
}

// Enroll consumes one use of the token and records the PC, in one
// transaction: nothing changes unless everything checks out. The use is a
// conditional UPDATE, so two concurrent uses of a one-use token cannot both
// win (SQLite: the write lock is taken at BEGIN; PostgreSQL: the second
// UPDATE waits on the row lock and re-checks uses_left). A re-enrollment
// (allowed by AllowReenroll) records the previous key as revoked.
func (db *DB) Enroll(ctx context.Context, in EnrollInput) (EnrollOutcome, error) {
	var out EnrollOutcome
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("enroll: begin: %w", err)
	}
	defer tx.Rollback()
	now := TS(in.At)
	tok, err := scanToken(tx.QueryRowContext(ctx, db.q(`SELECT `+tokenCols+` FROM enrollment_tokens WHERE token_hash = ?`), in.TokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return out, ErrTokenUnknown
	}
	if err != nil {
		return out, fmt.Errorf("enroll: read token: %w", err)
	}
	if tok.UsesLeft <= 0 || !tok.ExpiresAt.After(in.At) {
		return out, ErrTokenSpent
	}
	var (
		prevKey string
		allowed int
	)
	err = tx.QueryRowContext(ctx, db.q(`SELECT public_key, reenroll_allowed FROM enrollments WHERE pc_id = ?`), in.PCID).Scan(&prevKey, &allowed)
	existed := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("enroll: read enrollment: %w", err)
	}
	if existed && allowed == 0 {
		return out, ErrAlreadyEnrolled
	}
	var revoked int
	if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM broker_revocations WHERE public_key = ?`), in.PublicKey).Scan(&revoked); err != nil {
		return out, fmt.Errorf("enroll: check revocations: %w", err)
	}
	if revoked > 0 || (existed && prevKey == in.PublicKey) {
		return out, ErrKeyRevoked
	}
	res, err := tx.ExecContext(ctx, db.q(`UPDATE enrollment_tokens SET uses_left = uses_left - 1
		WHERE id = ? AND uses_left > 0 AND expires_at > ?`), tok.ID, now)
	if err != nil {
		return out, fmt.Errorf("enroll: use token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return out, fmt.Errorf("enroll: use token: %w", err)
	} else if n != 1 {
		return out, ErrTokenSpent // a concurrent enrollment took the last use
	}
	if existed {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO broker_revocations (account, public_key, revoked_at, pc_id)
			VALUES (?, ?, ?, ?) ON CONFLICT (account, public_key) DO NOTHING`), in.Account, prevKey, in.At.Unix(), in.PCID); err != nil {
			return out, fmt.Errorf("enroll: revoke previous key: %w", err)
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE enrollments SET public_key = ?, token_id = ?, hostname = ?, os_family = ?,
			enrolled_at = ?, reenroll_allowed = 0 WHERE pc_id = ?`), in.PublicKey, tok.ID, in.Hostname, in.OSFamily, now, in.PCID)
	} else {
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO enrollments (pc_id, public_key, token_id, hostname, os_family,
			enrolled_at, reenroll_allowed) VALUES (?, ?, ?, ?, ?, ?, 0)`), in.PCID, in.PublicKey, tok.ID, in.Hostname, in.OSFamily, now)
	}
	if err != nil {
		if isUniqueViolation(err) {
			return out, ErrAlreadyEnrolled // a concurrent first enrollment of the same pc_id
		}
		return out, fmt.Errorf("enroll: record %s: %w", in.PCID, err)
	}
	if err := tx.Commit(); err != nil {
		if isUniqueViolation(err) {
			return out, ErrAlreadyEnrolled
		}
		return out, fmt.Errorf("enroll: commit: %w", err)
	}
	if existed {
		out.PreviousKey = prevKey
	}
	out.Token = tok
	return out, nil
}

// GetEnrollment reads one PC's enrollment.
func (db *DB) GetEnrollment(ctx context.Context, pc string) (Enrollment, bool, error) {
	var (
		e       Enrollment
		at      string
		allowed int
	)
	err := db.write.QueryRowContext(ctx, db.q(`SELECT pc_id, public_key, token_id, hostname, os_family, enrolled_at,
		reenroll_allowed FROM enrollments WHERE pc_id = ?`), pc).Scan(&e.PCID, &e.PublicKey, &e.TokenID, &e.Hostname,
		&e.OSFamily, &at, &allowed)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("read enrollment %s: %w", pc, err)
	}
	e.EnrolledAt, e.ReenrollAllowed = ParseTS(at), allowed != 0
	return e, true, nil
}

// AllowReenroll lets the next enrollment of pc replace the current one;
// false when pc is not enrolled (a first enrollment needs no permission).
func (db *DB) AllowReenroll(ctx context.Context, pc string) (bool, error) {
	res, err := db.write.ExecContext(ctx, db.q(`UPDATE enrollments SET reenroll_allowed = 1 WHERE pc_id = ?`), pc)
	if err != nil {
		return false, fmt.Errorf("allow re-enrollment of %s: %w", pc, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Unenroll forgets pc's enrollment and records its key as revoked, in one
// transaction; the enrollment it removed, false when pc was not enrolled.
func (db *DB) Unenroll(ctx context.Context, pc, account string, at time.Time) (Enrollment, bool, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return Enrollment{}, false, fmt.Errorf("unenroll: begin: %w", err)
	}
	defer tx.Rollback()
	var e Enrollment
	err = tx.QueryRowContext(ctx, db.q(`SELECT pc_id, public_key FROM enrollments WHERE pc_id = ?`), pc).Scan(&e.PCID, &e.PublicKey)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("unenroll %s: %w", pc, err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO broker_revocations (account, public_key, revoked_at, pc_id)
		VALUES (?, ?, ?, ?) ON CONFLICT (account, public_key) DO NOTHING`), account, e.PublicKey, at.Unix(), pc); err != nil {
		return e, false, fmt.Errorf("unenroll %s: revoke: %w", pc, err)
	}
	if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM enrollments WHERE pc_id = ?`), pc); err != nil {
		return e, false, fmt.Errorf("unenroll %s: %w", pc, err)
	}
	if err := tx.Commit(); err != nil {
		return e, false, fmt.Errorf("unenroll %s: commit: %w", pc, err)
	}
	return e, true, nil
}

// BrokerRevocations returns every revoked broker user: account public key
// → user public key → unix seconds (brokerid.New's input).
func (db *DB) BrokerRevocations(ctx context.Context) (map[string]map[string]int64, error) {
	rows, err := db.write.QueryContext(ctx, `SELECT account, public_key, revoked_at FROM broker_revocations`)
	if err != nil {
		return nil, fmt.Errorf("read broker revocations: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var (
			acc, key string
			at       int64
		)
		if err := rows.Scan(&acc, &key, &at); err != nil {
			return nil, fmt.Errorf("read broker revocations: %w", err)
		}
		if out[acc] == nil {
			out[acc] = map[string]int64{}
		}
		out[acc][key] = at
	}
	return out, rows.Err()
}
