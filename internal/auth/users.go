package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// Errors of the account store (Accounts returns them too).
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

var usernameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$`)

// ValidUsername reports whether s can name an account (letters, digits,
// '_', '.', '@', '-'; at most 64; e-mail addresses fit).
func ValidUsername(s string) bool { return usernameRe.MatchString(s) }

// User is an account row. The API shows it as apiv1.Account (see
// accountView), which leaves out the hash and the token version.
type User struct {
	// ID is immutable and never reused (UUIDv7): tokens name it, so a
	// re-created username is a different account.
	ID           string
	Username     string
	Role         Role
	Disabled     bool
	MustChangePW bool
	FailedLogins int
	LockedUntil  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time
	PasswordHash string
	TokenVersion int64
	// Groups scope the account to PC groups (SPEC §16); empty = none.
	Groups []string
}

// IsEnabledAdmin reports whether u counts for the last-admin guard.
func (u User) IsEnabledAdmin() bool { return u.Role == RoleAdmin && !u.Disabled }

// Accounts is the users table (migration 00002_users.sql), as
// internal/store keeps it; *store.DB implements it. It stores what it is
// given: validation, password hashing, the clock and the lockout policy
// are Users'. It keeps the one rule that needs the database's locks: the
// last enabled admin can be neither demoted, disabled nor deleted
// (ErrLastAdmin), even by two concurrent requests. Lookups of a missing
// account return ErrNotFound, a duplicate username ErrExists.
type Accounts interface {
	GetAccount(ctx context.Context, username string) (User, error)
	// GetAccountByID reads the account with the immutable id.
	GetAccountByID(ctx context.Context, id string) (User, error)
	CountAccounts(ctx context.Context) (int, error)
	// ListAccounts orders by username, starting after the username after
	// when it is not empty (a cursor), and returns the total count.
	ListAccounts(ctx context.Context, after string, limit, offset int) ([]User, int, error)
	// InsertAccount creates an enabled account and returns it as stored.
	InsertAccount(ctx context.Context, a NewAccount) (User, error)
	// InsertFirstAccount creates a only when there is no account at all,
	// atomically (replicas may start together); it reports whether it did.
	InsertFirstAccount(ctx context.Context, a NewAccount) (bool, error)
	// UpdateAccount applies c under the last-admin guard and returns the
	// account as stored.
	UpdateAccount(ctx context.Context, username string, c AccountChange) (User, error)
	// DeleteAccount removes an account under the last-admin guard.
	DeleteAccount(ctx context.Context, username string) error
	// RecordLoginFailure counts one failed password: the max-th consecutive
	// failure sets locked_until to lockUntil and restarts the count. It
	// returns locked_until as stored afterwards (zero when NULL).
	RecordLoginFailure(ctx context.Context, username string, max int, lockUntil time.Time) (time.Time, error)
	// RecordLogin ends the failure streak and any lock and sets
	// last_login_at.
	RecordLogin(ctx context.Context, username string, at time.Time) error
}

// NewAccount is an account row to insert; the password is already hashed.
type NewAccount struct {
	ID           string // see NewAccountID
	Username     string
	PasswordHash string
	Role         Role
	MustChangePW bool
	Groups       []string  // scopes; nil = none
	At           time.Time // created_at and updated_at
}

// AccountChange is a partial update of a row; nil fields are left alone.
type AccountChange struct {
	Role     *Role
	Disabled *bool
	// PasswordHash replaces the hash, bumps the token version (older JWTs
	// die) and clears failed logins and any lock.
	PasswordHash *string
	MustChangePW *bool
	Groups       *[]string // replaces the scopes; empty = none
	At           time.Time // updated_at
}

// RemovesAdmin reports whether applying c to cur takes away an enabled
// admin (what the last-admin guard refuses for the last one).
func (c AccountChange) RemovesAdmin(cur User) bool {
	if !cur.IsEnabledAdmin() {
		return false
	}
	return (c.Role != nil && *c.Role != RoleAdmin) || (c.Disabled != nil && *c.Disabled)
}

// Users is the account service over Accounts: it validates input, hashes
// passwords and applies the lockout policy.
type Users struct {
	accounts Accounts
	now      func() time.Time
}

// NewUsers returns the account service; now nil means time.Now. New makes
// one sharing the Authenticator's clock (see Authenticator.Users).
func NewUsers(accounts Accounts, now func() time.Time) *Users {
	if now == nil {
		now = time.Now
	}
	return &Users{accounts: accounts, now: now}
}

// NewAccountID returns a fresh account id (UUIDv7: unique, time-ordered).
func NewAccountID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("account id: %w", err)
	}
	return id.String(), nil
}

// GetByID reads the account with the immutable id.
func (s *Users) GetByID(ctx context.Context, id string) (User, error) {
	return s.accounts.GetAccountByID(ctx, id)
}

// Get reads one account.
func (s *Users) Get(ctx context.Context, username string) (User, error) {
	return s.accounts.GetAccount(ctx, username)
}

// Count returns the number of accounts.
func (s *Users) Count(ctx context.Context) (int, error) { return s.accounts.CountAccounts(ctx) }

// List returns accounts ordered by username, and the total count.
func (s *Users) List(ctx context.Context, limit, offset int) ([]User, int, error) {
	return s.accounts.ListAccounts(ctx, "", limit, offset)
}

// ListAfter returns up to limit accounts whose username follows after, in
// username order, and the total count (the cursor of GET /api/accounts).
func (s *Users) ListAfter(ctx context.Context, after string, limit int) ([]User, int, error) {
	return s.accounts.ListAccounts(ctx, after, limit, 0)
}

// NewUser is the input of Create.
type NewUser struct {
	Username     string
	Password     string // plain; hashed here
	Role         Role
	MustChangePW bool
	Groups       []string // scopes (ValidateScope)
}

func (n NewUser) validate() error {
	if err := ValidateScope(n.Groups); err != nil {
		return err
	}
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
func (s *Users) Create(ctx context.Context, n NewUser) (User, error) {
	if err := n.validate(); err != nil {
		return User{}, err
	}
	hash, err := HashPassword(n.Password)
	if err != nil {
		return User{}, err
	}
	id, err := NewAccountID()
	if err != nil {
		return User{}, err
	}
	return s.accounts.InsertAccount(ctx, NewAccount{ID: id, Username: n.Username, PasswordHash: hash, Role: n.Role,
		MustChangePW: n.MustChangePW, Groups: NormalizeScope(n.Groups), At: s.now()})
}

// BootstrapAdmin creates an admin with must_change_pw when there is no
// account. It reports whether it created one.
func (s *Users) BootstrapAdmin(ctx context.Context, username, password string) (bool, error) {
	n := NewUser{Username: username, Password: password, Role: RoleAdmin, MustChangePW: true}
	if err := n.validate(); err != nil {
		return false, fmt.Errorf("bootstrap admin: %w", err)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return false, err
	}
	id, err := NewAccountID()
	if err != nil {
		return false, err
	}
	return s.accounts.InsertFirstAccount(ctx, NewAccount{ID: id, Username: username, PasswordHash: hash, Role: RoleAdmin,
		MustChangePW: true, At: s.now()})
}

// Patch is a partial update; nil fields are left alone.
type Patch struct {
	Role         *Role
	Disabled     *bool
	Password     *string // plain; hashed here; bumps the token version
	MustChangePW *bool
	Groups       *[]string // replaces the scopes (ValidateScope); [] = none
}

// Update applies p. Demoting, disabling or deleting the last enabled admin
// fails with ErrLastAdmin, atomically (the store's guard).
func (s *Users) Update(ctx context.Context, username string, p Patch) (User, error) {
	if p.Role != nil && (*p.Role < RoleViewer || *p.Role > RoleAdmin) {
		return User{}, fieldError{"role", "role must be viewer, operator or admin"}
	}
	c := AccountChange{Role: p.Role, Disabled: p.Disabled, MustChangePW: p.MustChangePW}
	if p.Groups != nil {
		if err := ValidateScope(*p.Groups); err != nil {
			return User{}, err
		}
		g := NormalizeScope(*p.Groups)
		c.Groups = &g
	}
	if p.Password != nil {
		if err := ValidatePassword(*p.Password); err != nil {
			return User{}, fieldError{"password", err.Error()}
		}
		h, err := HashPassword(*p.Password) // slow: before the store's transaction
		if err != nil {
			return User{}, err
		}
		c.PasswordHash = &h
	}
	c.At = s.now()
	return s.accounts.UpdateAccount(ctx, username, c)
}

// Delete removes an account, with the last-admin guard.
func (s *Users) Delete(ctx context.Context, username string) error {
	return s.accounts.DeleteAccount(ctx, username)
}

// RecordLoginFailure counts a failed password for an existing account. The
// MaxFailedLogins-th consecutive failure locks the account for
// LockoutDuration and restarts the count. It returns the lock expiry (zero
// when not locked).
func (s *Users) RecordLoginFailure(ctx context.Context, username string) (time.Time, error) {
	now := s.now()
	until, err := s.accounts.RecordLoginFailure(ctx, username, MaxFailedLogins, now.Add(LockoutDuration))
	if err != nil || !until.After(now) {
		return time.Time{}, err
	}
	return until, nil
}

// RecordLoginSuccess clears the failure streak and records the login time.
func (s *Users) RecordLoginSuccess(ctx context.Context, username string) error {
	return s.accounts.RecordLogin(ctx, username, s.now())
}

// ChangePassword sets a user's own new password, clears must_change_pw and
// invalidates earlier tokens.
func (s *Users) ChangePassword(ctx context.Context, username, newPassword string) (User, error) {
	f := false
	return s.Update(ctx, username, Patch{Password: &newPassword, MustChangePW: &f})
}

// fieldError is a validation error naming the offending JSON field.
type fieldError struct{ field, msg string }

func (e fieldError) Error() string { return e.msg }
