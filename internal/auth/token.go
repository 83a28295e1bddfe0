package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the JWT aud claim of every kanade token.
const Audience = "kanade"

// DefaultTokenTTL is the default JWT lifetime.
const DefaultTokenTTL = 12 * time.Hour

// SecretFileName is the file LoadOrCreateSecret keeps the JWT secret in.
const SecretFileName = "jwt.secret"

// minSecretLen is the shortest generated/loaded file secret (256 bits).
const minSecretLen = 32

// LoadOrCreateSecret returns the JWT signing secret stored in
// dir/jwt.secret, creating it (32 random bytes, base64, mode 0600) when
// absent. Replicas sharing a data dir race safely (O_EXCL); replicas on
// separate machines must share KANADE_JWT_SECRET instead.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, SecretFileName)
	for range 3 {
		b, err := os.ReadFile(path)
		if err == nil {
			s := strings.TrimSpace(string(b))
			if len(s) < minSecretLen {
				return nil, fmt.Errorf("jwt secret %s: too short (%d bytes, want >= %d)", path, len(s), minSecretLen)
			}
			if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
				// Tighten rather than fail: the secret is ours.
				_ = os.Chmod(path, 0o600)
			}
			return []byte(s), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read jwt secret: %w", err)
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("generate jwt secret: %w", err)
		}
		enc := base64.RawURLEncoding.EncodeToString(raw)
		// Write a temp file and link it in: readers never see a partial
		// secret, and O_EXCL-like semantics come from os.Link failing.
		tmp, err := os.CreateTemp(dir, ".jwt.secret.*")
		if err != nil {
			return nil, fmt.Errorf("create jwt secret: %w", err)
		}
		tmpName := tmp.Name()
		_ = tmp.Chmod(0o600)
		_, werr := tmp.WriteString(enc + "\n")
		serr := tmp.Sync()
		cerr := tmp.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			os.Remove(tmpName)
			return nil, fmt.Errorf("write jwt secret: %w", err)
		}
		lerr := os.Link(tmpName, path)
		os.Remove(tmpName)
		if lerr == nil {
			return []byte(enc), nil
		}
		if !errors.Is(lerr, os.ErrExist) {
			return nil, fmt.Errorf("install jwt secret: %w", lerr)
		}
		// Someone else created it first: loop and read theirs.
	}
	return nil, fmt.Errorf("jwt secret %s: could not load or create", path)
}

// claims are the JWT claims: sub is the account's immutable id (never the
// username, which a new account may reuse), plus aud, exp, iat and the
// account's token generation, so a password change invalidates older
// tokens. name is the username at issue, for people reading a token; it
// is never trusted.
type claims struct {
	jwt.RegisteredClaims
	TokenVersion int64  `json:"tv"`
	Name         string `json:"name,omitempty"`
}

type tokenCodec struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

func (c tokenCodec) issue(accountID, username string, tokenVersion int64) (string, time.Time, error) {
	now := c.now()
	exp := now.Add(c.ttl).Truncate(time.Second)
	cl := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   accountID,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		TokenVersion: tokenVersion,
		Name:         username,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, cl).SignedString(c.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp.UTC(), nil
}

// maxTokenLen bounds what the parser is handed (untrusted input).
const maxTokenLen = 4096

func (c tokenCodec) parse(s string) (claims, error) {
	var cl claims
	if len(s) > maxTokenLen {
		return cl, errors.New("token too long")
	}
	_, err := jwt.ParseWithClaims(s, &cl, func(*jwt.Token) (any, error) { return c.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(c.now),
	)
	if err != nil {
		return claims{}, err
	}
	if cl.Subject == "" {
		return claims{}, errors.New("token has no subject")
	}
	return cl, nil
}
