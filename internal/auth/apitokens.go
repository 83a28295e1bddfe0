package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"sync"
	"time"
)

// API tokens (SPEC §16): long-lived bearer credentials for automation.
// A token is "kt_" + 43 base64url characters (256 random bits); only its
// SHA-256 is stored, so a leaked database does not leak usable tokens.
// Every request reads the token row and its creator's account (no cache),
// so a revocation is refused on the next request on every replica.

// APITokenPrefix starts every API token, so a secret scanner (and this
// package) can tell one from a JWT.
const APITokenPrefix = "kt_"

const apiTokenRandLen = 32 // bytes; 43 base64url characters

var (
	// ErrTokenNotFound: no such API token (or it was revoked).
	ErrTokenNotFound = errors.New("token not found")
	// ErrTokenExists: the name is taken by another token.
	ErrTokenExists = errors.New("a token with this name already exists")
)

var apiTokenRe = regexp.MustCompile(`^kt_[A-Za-z0-9_-]{43}$`)

// ParseAPIToken reports whether s has the shape of an API token (untrusted
// input: checked before anything is looked up) and returns the hash the
// store keys it by.
func ParseAPIToken(s string) (hash string, ok bool) {
	if len(s) != len(APITokenPrefix)+43 || !apiTokenRe.MatchString(s) {
		return "", false
	}
	return HashAPIToken(s), true
}

// HashAPIToken is the stored form of a token: hex SHA-256. The token has
// 256 bits of entropy, so a fast hash is enough (no password stretching).
func HashAPIToken(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newAPITokenSecret() (string, error) {
	b := make([]byte, apiTokenRandLen)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return APITokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

var tokenNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$`)

// ValidTokenName reports whether s can name an API token (like a username:
// it appears in the audit as token:<name>).
func ValidTokenName(s string) bool { return tokenNameRe.MatchString(s) }

// APIToken is a row of table api_tokens (migration 17).
type APIToken struct {
	ID        string
	Name      string
	Hash      string // hex SHA-256 of the token
	Role      Role
	Groups    []string // scopes (item 6 of issue 19); empty = none
	AccountID string   // the creating account: the token dies with it
	CreatedBy string   // its username at creation (display)
	CreatedAt time.Time
	ExpiresAt *time.Time
	// LastUsedAt is written at most once a minute per replica.
	LastUsedAt *time.Time
}

// APITokens is the api_tokens table as internal/store keeps it; *store.DB
// implements it. New picks it up from the account store when that
// implements it too (without it, API tokens are refused).
type APITokens interface {
	// InsertAPIToken stores t; ErrTokenExists for a duplicate name.
	InsertAPIToken(ctx context.Context, t APIToken) error
	// GetAPITokenByHash and GetAPIToken return ErrTokenNotFound when absent.
	GetAPITokenByHash(ctx context.Context, hash string) (APIToken, error)
	GetAPIToken(ctx context.Context, id string) (APIToken, error)
	// ListAPITokens returns the tokens of one account, or all for "",
	// newest first.
	ListAPITokens(ctx context.Context, accountID string) ([]APIToken, error)
	// DeleteAPIToken revokes; ErrTokenNotFound when absent.
	DeleteAPIToken(ctx context.Context, id string) error
	// TouchAPIToken sets last_used_at.
	TouchAPIToken(ctx context.Context, id string, at time.Time) error
}

// touchEvery bounds last_used_at writes: one per token per minute per
// replica, not one per request.
const touchEvery = time.Minute

type toucher struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether id's last_used_at should be written now, and
// records that it is.
func (t *toucher) due(id string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string]time.Time{}
	}
	if last, ok := t.last[id]; ok && now.Sub(last) < touchEvery {
		return false
	}
	if len(t.last) > 10000 { // bounded: forget everything rather than grow
		clear(t.last)
	}
	t.last[id] = now
	return true
}
