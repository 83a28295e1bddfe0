package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Errors of the account store.
var (
	ErrNotFound  = errors.New("account not found")
	ErrExists    = errors.New("account already exists")
	ErrLastAdmin = errors.New("refused: this is the last enabled admin account")
)

// Lockout policy (SPEC §8).
const (
	MaxFailedLogins = 5
	LockoutDuration = 15 * time.Minute
)

// tsLayout is the fixed-width UTC layout shared with internal/store, so
// string order is time order.
const tsLayout = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) string { return t.UTC().Format(tsLayout) }

var usernameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$`)

// ValidUsername reports whether s can name an account (letters, digits,
// '_', '.', '@', '-'; at most 64; e-mail addresses fit).
func ValidUsername(s string) bool { return usernameRe.MatchString(s) }

// User is an account row. The hash never leaves the package in JSON.
type User struct {
	Username     string     `json:"username"`
	Role         Role       `json:"role"`
	Disabled     bool       `json:"disabled"`
	MustChangePW bool       `json:"must_change_pw"`
	FailedLogins int        `json:"failed_logins"`
	LockedUntil  *time.Time `json:"locked_until"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	PasswordHash string     `json:"-"`
	TokenVersion int64      `json:"-"`
}

// SQLUsers stores accounts in the users table (migration 00002_users.sql).
// Every write goes through write (SQLite: the single writer connection);
// reads through read.
type SQLUsers struct {
	write, read *sql.DB
	now         func() time.Time
}

// NewSQLUsers returns the account store. Pass store.DB's Write and Read.
func NewSQLUsers(write, read *sql.DB) *SQLUsers {
	return &SQLUsers{write: write, read: read, now: time.Now}
}

// Queries use $n placeholders: PostgreSQL's native form, which the SQLite
// driver also binds by number.
const userCols = `username, password_hash, role, disabled, must_change_pw, failed_logins,
	locked_until, token_version, created_at, updated_at`

type rowScanner interface{ Scan(...any) error }

func scanUser(s rowScanner) (User, error) {
	var (
		u                User
		role             string
		disabled, mustCh int
		locked           sql.NullString
		created, updated string
	)
	if err := s.Scan(&u.Username, &u.PasswordHash, &role, &disabled, &mustCh, &u.FailedLogins,
		&locked, &u.TokenVersion, &created, &updated); err != nil {
		return u, err
	}
	r, err := ParseRole(role)
	if err != nil {
		return u, fmt.Errorf("account %q: %w", u.Username, err)
	}
	u.Role = r
	u.Disabled = disabled != 0
	u.MustChangePW = mustCh != 0
	if locked.Valid {
		if t, err := time.Parse(time.RFC3339Nano, locked.String); err == nil {
			t = t.UTC()
			u.LockedUntil = &t
		}
	}
	u.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	u.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
	return u, nil
}

// Get reads one account (from the read pool).
func (s *SQLUsers) Get(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx,
		`SELECT `+userCols+` FROM users WHERE username = $1`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("read account %q: %w", username, err)
	}
	return u, nil
}

// Count returns the number of accounts.
func (s *SQLUsers) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count accounts: %w", err)
	}
	return n, nil
}

// List returns accounts ordered by username, and the total count.
func (s *SQLUsers) List(ctx context.Context, limit, offset int) ([]User, int, error) {
	total, err := s.Count(ctx)
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.read.QueryContext(ctx,
		`SELECT `+userCols+` FROM users ORDER BY username LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
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

// NewUser is the input of Create.
type NewUser struct {
	Username     string
	Password     string // plain; hashed here
	Role         Role
	MustChangePW bool
}

func (n NewUser) validate() error {
	if !ValidUsername(n.Username) {
		return fieldError{"username", "invalid username (letters, digits, _ . @ -, at most 64)"}
	}
	if n.Role < RoleViewer || n.Role > RoleAdmin {
		return fieldError{"role", "role must be viewer, operator or admin"}
	}
	if err := ValidatePassword(n.Password); err != nil {
		return fieldError{"password", err.Error()}
	}
	return nil
}

// Create inserts an account. ErrExists on a duplicate username.
func (s *SQLUsers) Create(ctx context.Context, n NewUser) (User, error) {
	if err := n.validate(); err != nil {
		return User{}, err
	}
	hash, err := HashPassword(n.Password)
	if err != nil {
		return User{}, err
	}
	now := ts(s.now())
	_, err = s.write.ExecContext(ctx, `INSERT INTO users (username, password_hash, role, disabled,
		must_change_pw, failed_logins, token_version, created_at, updated_at)
		VALUES ($1, $2, $3, 0, $4, 0, 0, $5, $5)`,
		n.Username, hash, n.Role.String(), b2i(n.MustChangePW), now)
	if err != nil {
		if isUniqueViolation(err) {
			return User{}, ErrExists
		}
		return User{}, fmt.Errorf("create account %q: %w", n.Username, err)
	}
	return s.getWrite(ctx, n.Username)
}

// getWrite reads through the writer so a caller sees its own write at once
// (the reader pool of a replicated PostgreSQL could lag).
func (s *SQLUsers) getWrite(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.write.QueryRowContext(ctx,
		`SELECT `+userCols+` FROM users WHERE username = $1`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("read account %q: %w", username, err)
	}
	return u, nil
}

// BootstrapAdmin creates an admin with must_change_pw when the table is
// empty. It reports whether it created one.
func (s *SQLUsers) BootstrapAdmin(ctx context.Context, username, password string) (bool, error) {
	n := NewUser{Username: username, Password: password, Role: RoleAdmin, MustChangePW: true}
	if err := n.validate(); err != nil {
		return false, fmt.Errorf("bootstrap admin: %w", err)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, err
	}
	now := ts(s.now())
	// One statement: two replicas starting together create at most one.
	res, err := s.write.ExecContext(ctx, `INSERT INTO users (username, password_hash, role, disabled,
		must_change_pw, failed_logins, token_version, created_at, updated_at)
		SELECT $1, $2, 'admin', 0, 1, 0, 0, $3, $3
		WHERE NOT EXISTS (SELECT 1 FROM users)`, username, hash, now)
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

// Patch is a partial update; nil fields are left alone.
type Patch struct {
	Role         *Role
	Disabled     *bool
	Password     *string // plain; hashed here; bumps the token version
	MustChangePW *bool
}

// Update applies p. Demoting, disabling or deleting the last enabled admin
// fails with ErrLastAdmin, atomically (see lockAdmins).
func (s *SQLUsers) Update(ctx context.Context, username string, p Patch) (User, error) {
	if p.Role != nil && (*p.Role < RoleViewer || *p.Role > RoleAdmin) {
		return User{}, fieldError{"role", "role must be viewer, operator or admin"}
	}
	var hash string
	if p.Password != nil {
		if err := ValidatePassword(*p.Password); err != nil {
			return User{}, fieldError{"password", err.Error()}
		}
		h, err := HashPassword(*p.Password) // slow: outside the transaction
		if err != nil {
			return User{}, err
		}
		hash = h
	}
	err := s.guarded(ctx, username, func(cur User) (bool, error) {
		return p.removesAdmin(cur), nil
	}, func(tx *sql.Tx, cur User) error {
		sets := []string{}
		args := []any{}
		add := func(col string, v any) {
			args = append(args, v)
			sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
		}
		if p.Role != nil {
			add("role", p.Role.String())
		}
		if p.Disabled != nil {
			add("disabled", b2i(*p.Disabled))
		}
		if p.Password != nil {
			add("password_hash", hash)
			sets = append(sets, "token_version = token_version + 1",
				"failed_logins = 0", "locked_until = NULL")
		}
		if p.MustChangePW != nil {
			add("must_change_pw", b2i(*p.MustChangePW))
		}
		add("updated_at", ts(s.now()))
		args = append(args, username)
		_, err := tx.ExecContext(ctx, fmt.Sprintf(`UPDATE users SET %s WHERE username = $%d`,
			strings.Join(sets, ", "), len(args)), args...)
		return err
	})
	if err != nil {
		return User{}, err
	}
	return s.getWrite(ctx, username)
}

func (p Patch) removesAdmin(cur User) bool {
	if cur.Role != RoleAdmin || cur.Disabled {
		return false
	}
	return (p.Role != nil && *p.Role != RoleAdmin) || (p.Disabled != nil && *p.Disabled)
}

// Delete removes an account, with the last-admin guard.
func (s *SQLUsers) Delete(ctx context.Context, username string) error {
	return s.guarded(ctx, username, func(cur User) (bool, error) {
		return cur.Role == RoleAdmin && !cur.Disabled, nil
	}, func(tx *sql.Tx, _ User) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM users WHERE username = $1`, username)
		return err
	})
}

// guarded runs change in one transaction after locking every enabled admin
// row. The lock is a no-op UPDATE: on SQLite it takes the database write
// lock at once (whatever the connection setup), on PostgreSQL it row-locks
// the enabled admins, so a concurrent guarded change waits and then sees
// the committed result. Two requests removing the two last admins can thus
// never both pass the count.
func (s *SQLUsers) guarded(ctx context.Context, username string,
	removesAdmin func(User) (bool, error), change func(*sql.Tx, User) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx,
		`UPDATE users SET updated_at = updated_at WHERE role = 'admin' AND disabled = 0`); err != nil {
		return fmt.Errorf("lock admins: %w", err)
	}
	cur, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("read account %q: %w", username, err)
	}
	removes, err := removesAdmin(cur)
	if err != nil {
		return err
	}
	if removes {
		var others int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users
			WHERE role = 'admin' AND disabled = 0 AND username <> $1`, username).Scan(&others); err != nil {
			return fmt.Errorf("count admins: %w", err)
		}
		if others == 0 {
			return ErrLastAdmin
		}
	}
	if err := change(tx, cur); err != nil {
		return fmt.Errorf("change account %q: %w", username, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// RecordLoginFailure counts a failed password for an existing account. The
// MaxFailedLogins-th consecutive failure locks the account for
// LockoutDuration and restarts the count. It returns the lock expiry (zero
// when not locked).
func (s *SQLUsers) RecordLoginFailure(ctx context.Context, username string) (time.Time, error) {
	now := s.now()
	lock := ts(now.Add(LockoutDuration))
	var locked sql.NullString
	err := s.write.QueryRowContext(ctx, `UPDATE users SET
		locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END,
		failed_logins = CASE WHEN failed_logins + 1 >= $1 THEN 0 ELSE failed_logins + 1 END
		WHERE username = $3 RETURNING locked_until`, MaxFailedLogins, lock, username).Scan(&locked)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, ErrNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("record login failure: %w", err)
	}
	if !locked.Valid {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, locked.String)
	if err != nil || !t.After(now) {
		return time.Time{}, nil
	}
	return t, nil
}

// RecordLoginSuccess clears the failure streak.
func (s *SQLUsers) RecordLoginSuccess(ctx context.Context, username string) error {
	_, err := s.write.ExecContext(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL
		WHERE username = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)`, username)
	if err != nil {
		return fmt.Errorf("record login success: %w", err)
	}
	return nil
}

// ChangePassword sets a user's own new password, clears must_change_pw and
// invalidates earlier tokens.
func (s *SQLUsers) ChangePassword(ctx context.Context, username, newPassword string) (User, error) {
	f := false
	return s.Update(ctx, username, Patch{Password: &newPassword, MustChangePW: &f})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isUniqueViolation(err error) bool {
	msg := strings.ToLower(err.Error())
	// SQLite: "UNIQUE constraint failed"; PostgreSQL: SQLSTATE 23505.
	return strings.Contains(msg, "unique constraint") || strings.Contains(msg, "23505") ||
		strings.Contains(msg, "duplicate key")
}

// fieldError is a validation error naming the offending JSON field.
type fieldError struct{ field, msg string }

func (e fieldError) Error() string { return e.msg }
