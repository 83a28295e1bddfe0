// Package enrollment joins PCs to the fleet (SPEC §12): enrollment tokens,
// POST /api/enroll (a user JWT for the PC's own NKey, signed by the
// backend's brokerid.Authority), re-enrollment, and revoking a PC's broker
// credential at once. The store keeps tokens (hashed), enrollments and
// revocations; the Authority signs; the broker applies revocations when the
// re-signed account JWT is pushed.
package enrollment

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Limits of a token.
const (
	DefaultUses      = 1
	MaxUses          = 100_000
	DefaultExpiresIn = 24 * time.Hour
	MaxExpiresIn     = 365 * 24 * time.Hour
)

// Store is what enrollment keeps in SQL (*store.DB).
type Store interface {
	InsertEnrollmentToken(ctx context.Context, t store.EnrollmentToken, tokenHash string) error
	ListEnrollmentTokens(ctx context.Context) ([]store.EnrollmentToken, error)
	CheckEnrollmentToken(ctx context.Context, tokenHash string, at time.Time) (store.EnrollmentToken, error)
	DeleteEnrollmentToken(ctx context.Context, id string) (bool, error)
	Enroll(ctx context.Context, in store.EnrollInput) (store.EnrollOutcome, error)
	AllowReenroll(ctx context.Context, pc string) (bool, error)
	Unenroll(ctx context.Context, pc, account string, at time.Time) (store.Enrollment, bool, error)
	BrokerRevocations(ctx context.Context) (map[string]map[string]int64, error)
	InsertOperatorCred(ctx context.Context, c store.OperatorCred) error
	ListOperatorCreds(ctx context.Context) ([]store.OperatorCred, error)
	RevokeOperatorCred(ctx context.Context, publicKey, account string, at time.Time) (store.OperatorCred, bool, error)
}

// Groups puts an enrolled PC in its token's groups (*kv.AgentGroups).
type Groups interface {
	Add(ctx context.Context, pc, group string) ([]string, error)
}

// SigningKeys are the command-signing public keys an enrolled agent is
// told to trust (the backend's active keys).
type SigningKeys interface {
	SigningKeys(ctx context.Context) ([]apiv1.SigningKey, error)
}

// Broker is the per-agent broker identity of the install.
type Broker struct {
	Authority *brokerid.Authority
	// Push sends a re-signed account JWT to the servers
	// (brokerid.PushAccount over a system-account connection).
	Push func(ctx context.Context, accountJWT string) error
	// URLs are the broker URLs handed to enrolled agents.
	URLs []string
}

// Errors besides the store's (store.ErrTokenUnknown, ErrTokenSpent,
// ErrAlreadyEnrolled, ErrKeyRevoked).
var (
	// ErrIdentityOff: the backend runs the shared-token broker; there is no
	// per-agent credential to issue or revoke.
	ErrIdentityOff = errors.New("this backend runs without per-agent broker identity (start kanade-backend with --nats-identity)")
	// ErrNoSigningKeys: nothing to give an agent to verify commands with.
	ErrNoSigningKeys = errors.New("no command-signing key is published yet (KV signing_keys); the agent could not verify any command")
	// ErrTokenMalformed: not the shape of a token this package makes.
	ErrTokenMalformed = errors.New("malformed enrollment token")
)

// FieldError is a request field that does not validate.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Service is the enrollment domain. Broker nil = ErrIdentityOff for
// everything but the token routes.
type Service struct {
	Store  Store
	Groups Groups
	Keys   SigningKeys
	Broker *Broker
	Log    *slog.Logger
	Now    func() time.Time

	mu sync.Mutex // one revocation sync at a time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// HashToken is what the store keeps of a token: the hex SHA-256 of the
// secret. The secret is 256 random bits, so no slow hash is needed.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// CreateToken makes a token; the secret is in the answer only.
func (s *Service) CreateToken(ctx context.Context, r apiv1.CreateEnrollmentTokenRequest, actor string) (apiv1.CreatedEnrollmentToken, error) {
	groups := []string{}
	for _, g := range r.Groups {
		if !wire.ValidID(g) {
			return apiv1.CreatedEnrollmentToken{}, &FieldError{"groups", fmt.Sprintf("invalid group %q (letters, digits, '_' and '-')", g)}
		}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	uses := r.Uses
	if uses == 0 {
		uses = DefaultUses
	}
	if uses < 1 || uses > MaxUses {
		return apiv1.CreatedEnrollmentToken{}, &FieldError{"uses", fmt.Sprintf("must be between 1 and %d", MaxUses)}
	}
	ttl := DefaultExpiresIn
	if r.ExpiresIn != "" {
		d, err := time.ParseDuration(r.ExpiresIn)
		if err != nil || d <= 0 || d > MaxExpiresIn {
			return apiv1.CreatedEnrollmentToken{}, &FieldError{"expires_in", "a duration like 24h, at most 8760h"}
		}
		ttl = d
	}
	now := s.now().UTC()
	t := store.EnrollmentToken{ID: hex.EncodeToString(random(8)), Groups: groups, Uses: uses, UsesLeft: uses,
		ExpiresAt: now.Add(ttl), CreatedBy: actor, CreatedAt: now}
	secret := "kanade-enroll-" + base64.RawURLEncoding.EncodeToString(random(32))
	if err := s.Store.InsertEnrollmentToken(ctx, t, HashToken(secret)); err != nil {
		return apiv1.CreatedEnrollmentToken{}, err
	}
	return apiv1.CreatedEnrollmentToken{ID: t.ID, Token: secret, ExpiresAt: t.ExpiresAt}, nil
}

// ListTokens returns every token (no secrets).
func (s *Service) ListTokens(ctx context.Context) ([]apiv1.EnrollmentToken, error) {
	rows, err := s.Store.ListEnrollmentTokens(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]apiv1.EnrollmentToken, len(rows))
	for i, t := range rows {
		out[i] = apiv1.EnrollmentToken{ID: t.ID, Groups: t.Groups, Uses: t.Uses, UsesLeft: t.UsesLeft, ExpiresAt: t.ExpiresAt,
			CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, Usable: t.UsesLeft > 0 && t.ExpiresAt.After(now)}
	}
	return out, nil
}

// DeleteToken removes a token; false when there was none.
func (s *Service) DeleteToken(ctx context.Context, id string) (bool, error) {
	return s.Store.DeleteEnrollmentToken(ctx, id)
}

// MaxTokenLen bounds a token's length (the ones made here have 57 bytes).
const MaxTokenLen = 128

// WellFormedToken reports whether t has the charset of a token:
// "kanade-enroll-" and unpadded base64url, 1..MaxTokenLen bytes. A token
// that passes is safe in a URL query and inside shell quotes.
func WellFormedToken(t string) bool {
	if t == "" || len(t) > MaxTokenLen {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// CheckToken reports whether token is usable now (store.ErrTokenUnknown,
// ErrTokenSpent or ErrTokenMalformed when not) without consuming a use:
// the installer's script and its release download are authorised by the
// token its enrollment then spends.
func (s *Service) CheckToken(ctx context.Context, token string) error {
	if !WellFormedToken(token) {
		return ErrTokenMalformed
	}
	_, err := s.Store.CheckEnrollmentToken(ctx, HashToken(token), s.now())
	return err
}

// Enroll serves POST /api/enroll. Nothing is stored unless it succeeds.
func (s *Service) Enroll(ctx context.Context, r apiv1.EnrollRequest) (apiv1.EnrollResponse, error) {
	var out apiv1.EnrollResponse
	if r.Token == "" {
		return out, &FieldError{"token", "required"}
	}
	if !wire.ValidPCID(r.PCID) || brokerid.ValidPCID(r.PCID) != nil {
		return out, &FieldError{"pc_id", "invalid pc_id (letters, digits, '_' and '-'; no dots, spaces, * or >)"}
	}
	if !nkeys.IsValidPublicUserKey(r.PublicKey) {
		return out, &FieldError{"public_key", "not an NKey user public key"}
	}
	if len(r.Hostname) > 255 || len(r.OSFamily) > 32 {
		return out, &FieldError{"hostname", "hostname or os_family too long"}
	}
	if s.Broker == nil {
		return out, ErrIdentityOff
	}
	keys, err := s.Keys.SigningKeys(ctx)
	if err != nil {
		return out, fmt.Errorf("enroll: signing keys: %w", err)
	}
	if len(keys) == 0 {
		return out, ErrNoSigningKeys
	}
	a := s.Broker.Authority
	at := s.now().UTC()
	u, err := a.IssueAgent(r.PCID, r.PublicKey)
	if err != nil {
		return out, fmt.Errorf("enroll %s: %w", r.PCID, err)
	}
	res, err := s.Store.Enroll(ctx, store.EnrollInput{TokenHash: HashToken(r.Token), PCID: r.PCID, PublicKey: r.PublicKey,
		Account: a.AgentsAccount(), Hostname: r.Hostname, OSFamily: r.OSFamily, At: at})
	if err != nil {
		return out, err
	}
	if res.PreviousKey != "" {
		// A re-enrollment: the old credential dies now, not at some restart.
		if err := s.SyncRevocations(ctx); err != nil {
			s.log().Error("re-enrollment: revoking the previous credential failed; it is refused after the next successful push",
				"pc_id", r.PCID, "error", err)
		}
	}
	for _, g := range res.Token.Groups {
		if _, err := s.Groups.Add(ctx, r.PCID, g); err != nil {
			s.log().Error("enrollment: adding the token's group failed", "pc_id", r.PCID, "group", g, "error", err)
		}
	}
	return apiv1.EnrollResponse{PCID: r.PCID, UserJWT: u.JWT, BrokerURLs: slices.Clone(s.Broker.URLs), SigningKeys: keys, EnrolledAt: at}, nil
}

// AuditPayload is what the audit entry of an enrollment says.
func AuditPayload(r apiv1.EnrollRequest) map[string]any {
	return map[string]any{"pc_id": r.PCID, "hostname": r.Hostname, "os_family": r.OSFamily, "public_key": r.PublicKey}
}

// AllowReenroll lets the next enrollment of pc replace its credential.
func (s *Service) AllowReenroll(ctx context.Context, pc string) (bool, error) {
	if s.Broker == nil {
		return false, ErrIdentityOff
	}
	return s.Store.AllowReenroll(ctx, pc)
}

// Unenroll revokes pc's broker credential at once (its connections are
// closed and it cannot reconnect) and forgets the enrollment. It reports
// whether pc was enrolled; without broker identity it does nothing.
func (s *Service) Unenroll(ctx context.Context, pc string) (bool, error) {
	if s.Broker == nil {
		return false, nil
	}
	e, ok, err := s.Store.Unenroll(ctx, pc, s.Broker.Authority.AgentsAccount(), s.now())
	if err != nil || !ok {
		return ok, err
	}
	if err := s.SyncRevocations(ctx); err != nil {
		return true, fmt.Errorf("revoke %s (%s): recorded, but the broker did not take it yet: %w", pc, e.PublicKey, err)
	}
	return true, nil
}

// SyncRevocations signs every revocation in the store into the account
// JWTs (other replicas may have added some) and pushes each changed
// account to the broker.
func (s *Service) SyncRevocations(ctx context.Context) error {
	if s.Broker == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want, err := s.Store.BrokerRevocations(ctx)
	if err != nil {
		return err
	}
	a := s.Broker.Authority
	have := a.Revocations()
	changed := map[string]string{}
	for acc, m := range want {
		for key := range m {
			if _, ok := have[acc][key]; ok {
				continue
			}
			j, err := a.Revoke(acc, key)
			if err != nil {
				return err
			}
			changed[acc] = j
		}
	}
	for acc, j := range changed {
		if err := s.Broker.Push(ctx, j); err != nil {
			return fmt.Errorf("push account %s: %w", acc, err)
		}
	}
	return nil
}

// OperatorCreds issues an operator CLI credential (operator.creds format)
// and records it, so it can be listed and revoked on its own; by is the
// account that asked.
func (s *Service) OperatorCreds(ctx context.Context, name, by string) (apiv1.OperatorCreds, error) {
	if !auth.ValidUsername(name) {
		return apiv1.OperatorCreds{}, &FieldError{"name", "letters, digits, '.', '_' and '-' (like a username)"}
	}
	if s.Broker == nil {
		return apiv1.OperatorCreds{}, ErrIdentityOff
	}
	u, err := s.Broker.Authority.IssueCLI(name)
	if err != nil {
		return apiv1.OperatorCreds{}, err
	}
	b, err := u.Creds()
	if err != nil {
		return apiv1.OperatorCreds{}, err
	}
	// Recorded before it is shown: a credential nobody can list could not
	// be revoked on its own.
	if err := s.Store.InsertOperatorCred(ctx, store.OperatorCred{PublicKey: u.PublicKey, Name: name, CreatedBy: by, CreatedAt: s.now()}); err != nil {
		return apiv1.OperatorCreds{}, err
	}
	return apiv1.OperatorCreds{Name: name, PublicKey: u.PublicKey, Creds: string(b)}, nil
}

// ListOperatorCreds is every operator credential issued, newest first.
func (s *Service) ListOperatorCreds(ctx context.Context) ([]apiv1.OperatorCredInfo, error) {
	l, err := s.Store.ListOperatorCreds(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]apiv1.OperatorCredInfo, 0, len(l))
	for _, c := range l {
		out = append(out, credInfo(c))
	}
	return out, nil
}

// RevokeOperatorCred revokes one operator credential: the broker closes
// its connections and refuses it from then on (the key joins the KANADE
// account's revocations, which every replica signs in). ok false: no such
// credential was issued.
func (s *Service) RevokeOperatorCred(ctx context.Context, publicKey string) (apiv1.OperatorCredInfo, bool, error) {
	if s.Broker == nil {
		return apiv1.OperatorCredInfo{}, false, ErrIdentityOff
	}
	c, ok, err := s.Store.RevokeOperatorCred(ctx, publicKey, s.Broker.Authority.KanadeAccount(), s.now())
	if err != nil || !ok {
		return credInfo(c), ok, err
	}
	if err := s.SyncRevocations(ctx); err != nil {
		return credInfo(c), true, fmt.Errorf("revoke operator credential %s (%s): recorded, but the broker did not take it yet: %w", c.Name, publicKey, err)
	}
	return credInfo(c), true, nil
}

func credInfo(c store.OperatorCred) apiv1.OperatorCredInfo {
	i := apiv1.OperatorCredInfo{Name: c.Name, PublicKey: c.PublicKey, CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt}
	if !c.RevokedAt.IsZero() {
		t := c.RevokedAt
		i.RevokedAt = &t
	}
	return i
}
