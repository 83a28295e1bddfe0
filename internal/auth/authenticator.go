package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config of the Authenticator. ConfigFromEnv fills it from SPEC §1's
// environment variables.
type Config struct {
	// Disabled lets every request through as admin "dev" (KANADE_AUTH_DISABLE=1,
	// --dev). Development only.
	Disabled bool
	// StaticToken, when set, is a bearer token that authenticates as admin
	// "service-token" (KANADE_AUTH_STATIC_TOKEN).
	StaticToken string
	// JWTSecret signs HS256 tokens (KANADE_JWT_SECRET, or LoadOrCreateSecret).
	JWTSecret []byte
	// TokenTTL is the JWT lifetime (default DefaultTokenTTL).
	TokenTTL time.Duration
	// Bootstrap admin, created by Bootstrap when there are no accounts.
	BootstrapAdminUser     string // default "admin"
	BootstrapAdminPassword string
	// TrustedProxies may set X-Forwarded-For (see ClientIP).
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Now is the clock (tests); nil = time.Now.
	Now func() time.Time
	// RecheckInterval is how often a long-lived request (the live-event
	// stream) re-checks its principal (Watch); 0 = DefaultRecheckInterval.
	RecheckInterval time.Duration
}

// DefaultRecheckInterval bounds how long an open live-event stream of a
// deleted or disabled account, or of a revoked token, outlives it when the
// change was made on another replica (SPEC §16: within 30 s). Changes made
// through this replica close it at once.
const DefaultRecheckInterval = 30 * time.Second

// Environment variables read by ConfigFromEnv.
const (
	EnvAuthDisable     = "KANADE_AUTH_DISABLE"
	EnvStaticToken     = "KANADE_AUTH_STATIC_TOKEN"
	EnvJWTSecret       = "KANADE_JWT_SECRET"
	EnvJWTTTL          = "KANADE_JWT_TTL" // Go duration, e.g. 12h
	EnvBootstrapUser   = "KANADE_BOOTSTRAP_ADMIN_USER"
	EnvBootstrapPass   = "KANADE_BOOTSTRAP_ADMIN_PASSWORD"
	EnvTrustedProxies  = "KANADE_TRUSTED_PROXIES" // comma-separated CIDRs
	DefaultBootstrapID = "admin"
)

// ConfigFromEnv parses the auth settings from environment variables looked
// up with getenv (cmd/kanade-backend passes os.Getenv; nil = none set: this
// package never reads the process environment itself). Without KANADE_JWT_SECRET the secret is loaded from, or
// created in, dataDir (an empty dataDir gives a per-process secret: tokens
// then die with the process).
func ConfigFromEnv(getenv func(string) string, dataDir string) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c := Config{
		StaticToken:            getenv(EnvStaticToken),
		BootstrapAdminUser:     getenv(EnvBootstrapUser),
		BootstrapAdminPassword: getenv(EnvBootstrapPass),
	}
	switch strings.ToLower(strings.TrimSpace(getenv(EnvAuthDisable))) {
	case "", "0", "false", "no", "off":
	case "1", "true", "yes", "on":
		c.Disabled = true
	default:
		return c, fmt.Errorf("%s=%q: want 1 or 0", EnvAuthDisable, getenv(EnvAuthDisable))
	}
	if s := getenv(EnvJWTTTL); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("%s=%q: want a positive duration like 12h", EnvJWTTTL, s)
		}
		c.TokenTTL = d
	}
	if s := getenv(EnvTrustedProxies); s != "" {
		p, err := ParseTrustedProxies(s)
		if err != nil {
			return c, fmt.Errorf("%s: %w", EnvTrustedProxies, err)
		}
		c.TrustedProxies = p
	}
	switch {
	case getenv(EnvJWTSecret) != "":
		c.JWTSecret = []byte(getenv(EnvJWTSecret))
	case dataDir != "":
		s, err := LoadOrCreateSecret(dataDir)
		if err != nil {
			return c, err
		}
		c.JWTSecret = s
	default:
		c.JWTSecret = randomSecret()
	}
	return c, nil
}

func randomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return []byte(base64.RawURLEncoding.EncodeToString(b))
}

// Authenticator authenticates requests and serves the auth/account routes.
type Authenticator struct {
	cfg       Config
	users     *Users
	auditor   Auditor
	log       *slog.Logger
	now       func() time.Time
	tokens    tokenCodec
	staticSum [32]byte // sha256 of the static token, compared in constant time
	ipt       *ipThrottle
	apiTokens APITokens // nil: API tokens refused
	touch     toucher
	changes   changeHook
	mfa       MFAStore // nil: no MFA (mfa.go)
}

// New returns an Authenticator over the account store (*store.DB in the
// backend). When accounts also implements APITokens (as *store.DB does),
// API tokens are served from it. auditor may be nil (no audit).
func New(cfg Config, accounts Accounts, auditor Auditor) (*Authenticator, error) {
	if accounts == nil {
		return nil, errors.New("auth: nil account store")
	}
	a := &Authenticator{cfg: cfg, auditor: auditor, log: cfg.Logger, now: cfg.Now, ipt: newIPThrottle()}
	a.apiTokens, _ = accounts.(APITokens)
	a.mfa, _ = accounts.(MFAStore)
	if a.cfg.RecheckInterval <= 0 {
		a.cfg.RecheckInterval = DefaultRecheckInterval
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.users = NewUsers(accounts, a.now)
	if a.cfg.TokenTTL <= 0 {
		a.cfg.TokenTTL = DefaultTokenTTL
	}
	if a.cfg.BootstrapAdminUser == "" {
		a.cfg.BootstrapAdminUser = DefaultBootstrapID
	}
	if len(cfg.JWTSecret) == 0 {
		if !cfg.Disabled {
			return nil, errors.New("auth: no JWT secret (set KANADE_JWT_SECRET or use LoadOrCreateSecret)")
		}
		a.cfg.JWTSecret = randomSecret()
	} else if len(cfg.JWTSecret) < minSecretLen {
		a.log.Warn("KANADE_JWT_SECRET is shorter than 32 bytes; tokens are easier to forge", "len", len(cfg.JWTSecret))
	}
	if cfg.StaticToken != "" {
		a.staticSum = sha256.Sum256([]byte(cfg.StaticToken))
		if len(cfg.StaticToken) < 16 {
			a.log.Warn("KANADE_AUTH_STATIC_TOKEN is shorter than 16 characters; it is guessable")
		}
	}
	a.tokens = tokenCodec{secret: a.cfg.JWTSecret, ttl: a.cfg.TokenTTL, now: a.now}
	return a, nil
}

// Users returns the account service, on the Authenticator's clock.
func (a *Authenticator) Users() *Users { return a.users }

// Disabled reports whether auth is off.
func (a *Authenticator) Disabled() bool { return a.cfg.Disabled }

// Bootstrap creates the bootstrap admin when there are no accounts and a
// password is configured, and warns loudly about insecure or unusable
// setups. Call it once at start, after migrations.
func (a *Authenticator) Bootstrap(ctx context.Context) error {
	if a.cfg.Disabled {
		a.log.Warn("!!! AUTHENTICATION IS DISABLED (KANADE_AUTH_DISABLE=1 / --dev): every request " +
			"is admin \"dev\". Never expose this backend beyond localhost. !!!")
	}
	n, err := a.users.Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 && a.cfg.BootstrapAdminPassword != "" {
		created, err := a.users.BootstrapAdmin(ctx, a.cfg.BootstrapAdminUser, a.cfg.BootstrapAdminPassword)
		if err != nil {
			return err
		}
		if created {
			n = 1
			a.log.Warn("bootstrap admin account created; change its password at first login",
				"username", a.cfg.BootstrapAdminUser)
			a.audit(ctx, "system", ActionAccountCreate, a.cfg.BootstrapAdminUser,
				map[string]any{"role": "admin", "bootstrap": true}, "")
		}
	}
	if n == 0 && a.cfg.StaticToken == "" && !a.cfg.Disabled {
		a.log.Warn("!!! NO WAY TO AUTHENTICATE: there are no accounts, no " + EnvBootstrapPass +
			" and no " + EnvStaticToken + ". Every /api route except login will answer 401. " +
			"Set " + EnvBootstrapPass + " (or " + EnvAuthDisable + "=1 for development) and restart. !!!")
	}
	return nil
}

// errAuth is an authentication failure (401) with a client-safe message.
type errAuth struct{ msg string }

func (e errAuth) Error() string { return e.msg }

// Authenticate resolves the caller of r (SPEC §8 order: disabled → static
// token → API token → JWT with the account re-read). Errors are safe to
// show clients.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	if a.cfg.Disabled {
		return devPrincipal, nil
	}
	tok, err := bearer(r)
	if err != nil {
		return Principal{}, err
	}
	if a.cfg.StaticToken != "" {
		sum := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(sum[:], a.staticSum[:]) == 1 {
			return Principal{Username: ActorServiceToken, Role: RoleAdmin, Method: "static", Kind: KindService}, nil
		}
	}
	if strings.HasPrefix(tok, APITokenPrefix) {
		return a.authenticateAPIToken(r.Context(), tok)
	}
	cl, err := a.tokens.parse(tok)
	if err != nil {
		return Principal{}, errAuth{"invalid or expired token"}
	}
	p := Principal{Method: "jwt", Kind: KindAccount, AccountID: cl.Subject, TokenVersion: cl.TokenVersion}
	return a.resolveAccount(r.Context(), p)
}

var devPrincipal = Principal{Username: ActorDev, Role: RoleAdmin, Method: "disabled", Kind: KindService}

// resolveAccount checks a JWT principal against its account, read by id:
// the database is authoritative, so a deleted, disabled or re-passworded
// account loses access at once, and the role is the current one. A
// username re-created after a delete is another id: its tokens differ.
func (a *Authenticator) resolveAccount(ctx context.Context, p Principal) (Principal, error) {
	u, err := a.users.GetByID(ctx, p.AccountID)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, errAuth{"account no longer exists"}
	}
	if err != nil {
		return Principal{}, err
	}
	if u.Disabled {
		return Principal{}, errAuth{"account disabled"}
	}
	if u.TokenVersion != p.TokenVersion {
		return Principal{}, errAuth{"token revoked (password changed); log in again"}
	}
	p.Username, p.Role, p.MustChangePW = u.Username, u.Role, u.MustChangePW
	p.Groups = NormalizeScope(u.Groups) // the current scope, like the role
	return p, nil
}

// authenticateAPIToken checks an API token: its row (revoked = gone),
// expiry, and the account that created it, whose current role caps the
// token's.
func (a *Authenticator) authenticateAPIToken(ctx context.Context, tok string) (Principal, error) {
	hash, ok := ParseAPIToken(tok)
	if !ok || a.apiTokens == nil {
		return Principal{}, errAuth{"invalid or revoked token"}
	}
	t, err := a.apiTokens.GetAPITokenByHash(ctx, hash)
	if errors.Is(err, ErrTokenNotFound) {
		return Principal{}, errAuth{"invalid or revoked token"}
	}
	if err != nil {
		return Principal{}, err
	}
	p, err := a.checkAPIToken(ctx, t)
	if err != nil {
		return p, err
	}
	if now := a.now(); a.touch.due(t.ID, now) {
		if err := a.apiTokens.TouchAPIToken(ctx, t.ID, now); err != nil {
			a.log.Warn("api token: record last use", "token", t.Name, "err", err)
		}
	}
	return p, nil
}

func (a *Authenticator) checkAPIToken(ctx context.Context, t APIToken) (Principal, error) {
	if t.ExpiresAt != nil && !a.now().Before(*t.ExpiresAt) {
		return Principal{}, errAuth{"token expired"}
	}
	u, err := a.users.GetByID(ctx, t.AccountID)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, errAuth{"the account that created this token no longer exists"}
	}
	if err != nil {
		return Principal{}, err
	}
	if u.Disabled {
		return Principal{}, errAuth{"the account that created this token is disabled"}
	}
	groups, ok := effectiveScope(t.Groups, u.Groups)
	if !ok {
		return Principal{}, errAuth{"the token's groups no longer overlap its account's scope"}
	}
	return Principal{Username: TokenActor(t.Name), Role: min(t.Role, u.Role), Method: "api-token", Kind: KindAPIToken,
		AccountID: u.ID, TokenID: t.ID, Groups: groups}, nil
}

// TokenActor is the audit actor of an API token: "token:<name>".
func TokenActor(name string) string { return "token:" + name }

// Recheck verifies that p, authenticated earlier, still is: its account
// exists, is enabled and has the same token generation; its API token is
// not revoked or expired. Long-lived requests call it (Watch). The error
// is safe to show.
func (a *Authenticator) Recheck(ctx context.Context, p Principal) error {
	switch p.Kind {
	case KindAccount:
		if _, err := a.resolveAccount(ctx, p); err != nil {
			return err
		}
		// A stream opened before the require-all policy was turned on ends
		// like any request the policy now refuses.
		if a.mfa != nil {
			st, err := a.mfa.MFAStatus(ctx, p.AccountID)
			if err != nil {
				return err
			}
			if st.EnrolmentRequired() {
				return errAuth{ErrMFAEnrolmentRequired}
			}
		}
		return nil
	case KindAPIToken:
		if a.apiTokens == nil {
			return errAuth{"invalid or revoked token"}
		}
		t, err := a.apiTokens.GetAPIToken(ctx, p.TokenID)
		if errors.Is(err, ErrTokenNotFound) {
			return errAuth{"token revoked"}
		}
		if err != nil {
			return err
		}
		_, err = a.checkAPIToken(ctx, t)
		return err
	}
	return nil
}

// Watch returns a context that is cancelled when p stops being valid
// (Recheck fails): checked every Config.RecheckInterval, and at once after
// an account or token change made through this Authenticator. The
// live-event stream serves under it, so it closes for a deleted account.
// A store error keeps the stream (it is not proof of revocation); the next
// tick checks again.
func (a *Authenticator) Watch(ctx context.Context, p Principal) context.Context {
	if p.Kind != KindAccount && p.Kind != KindAPIToken {
		return ctx
	}
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		defer cancel(nil) // only once ctx is done or p is refused
		t := time.NewTicker(a.cfg.RecheckInterval)
		defer t.Stop()
		changed := a.changes.wait()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-changed:
			}
			// Before the check: a change made during it fires this again.
			changed = a.changes.wait()
			err := a.Recheck(ctx, p)
			var ae errAuth
			if errors.As(err, &ae) {
				a.log.Info("closing a long-lived request: its principal is no longer valid",
					"actor", p.Username, "reason", ae.msg)
				cancel(err)
				return
			}
			if err != nil && ctx.Err() == nil {
				a.log.Warn("recheck principal", "actor", p.Username, "err", err)
			}
		}
	}()
	return ctx
}

// changeHook broadcasts "an account or token changed" to Watch loops.
type changeHook struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next change.
func (h *changeHook) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch == nil {
		h.ch = make(chan struct{})
	}
	return h.ch
}

func (h *changeHook) fire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ch != nil {
		close(h.ch)
		h.ch = nil
	}
}

// AccountsChanged tells open long-lived requests to re-check their
// principals now. The account and token handlers call it; call it after
// changing accounts through Users directly.
func (a *Authenticator) AccountsChanged() { a.changes.fire() }

// bearer extracts the token: Authorization: Bearer, or ?access_token= on
// GET only (EventSource cannot set headers; elsewhere a URL token would
// leak into logs for no reason).
func bearer(r *http.Request) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", errAuth{"malformed Authorization header (want: Bearer <token>)"}
		}
		return strings.TrimSpace(tok), nil
	}
	if r.URL.Query().Has("access_token") {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return "", errAuth{"access_token query parameter is accepted on GET only"}
		}
		if tok := r.URL.Query().Get("access_token"); tok != "" {
			return tok, nil
		}
	}
	return "", errAuth{"authentication required"}
}

// Wrap guards h: the caller must authenticate with a role >= min (401
// otherwise, 403 when the role is too low). The Principal is put in the
// request context (FromContext). RolePublic routes pass unauthenticated.
// An account that must change its password gets 403 "password change
// required" (Mux.Handle lets it through on the routes of
// passwordChangeRoutes).
func (a *Authenticator) Wrap(min Role, h http.Handler) http.Handler { return a.wrap("", min, h) }

// ErrPasswordChangeRequired is the 403 message for an account flagged
// must-change-password on any route but those of passwordChangeRoutes.
const ErrPasswordChangeRequired = "password change required"

// passwordChangeRoutes are the only routes an account that must change
// its password may call (SPEC §16). The require-all MFA policy's
// equivalent is mfaEnrolRoutes (mfa.go), checked after this one.
var passwordChangeRoutes = map[string]bool{
	"POST /api/auth/change-password": true,
	"POST /api/auth/password":        true,
	"GET /api/auth/me":               true,
	"POST /api/auth/logout":          true,
}

func (a *Authenticator) wrap(pattern string, min Role, h http.Handler) http.Handler {
	allowMustChange := passwordChangeRoutes[pattern]
	allowMFAEnrol := mfaEnrolRoutes[pattern]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if min == RolePublic {
			if a.cfg.Disabled {
				r = r.WithContext(WithPrincipal(r.Context(), devPrincipal))
			}
			h.ServeHTTP(w, r)
			return
		}
		p, err := a.Authenticate(r)
		if err != nil {
			var ae errAuth
			if errors.As(err, &ae) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kanade"`)
				writeError(w, http.StatusUnauthorized, ae.msg, "")
				return
			}
			a.log.Error("authenticate", "err", err)
			writeError(w, http.StatusInternalServerError, "authentication backend error", "")
			return
		}
		if p.MustChangePW && !allowMustChange {
			writeError(w, http.StatusForbidden, ErrPasswordChangeRequired, "")
			return
		}
		if !allowMFAEnrol && a.mfaEnrolmentGate(w, r, p) {
			return
		}
		if p.Role < min {
			writeError(w, http.StatusForbidden, fmt.Sprintf("requires role %s (you are %s)", min, p.Role), "")
			return
		}
		h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// WrapFunc is Wrap for a handler function.
func (a *Authenticator) WrapFunc(min Role, h http.HandlerFunc) http.Handler { return a.Wrap(min, h) }

// Route is a registered pattern and its minimum role.
type Route struct {
	Pattern string // e.g. "GET /api/agents/{pc_id}"
	Min     Role
}

// Sample returns a concrete method and path for the pattern (wildcards
// filled with "x"), for route-sweep tests.
func (rt Route) Sample() (method, path string) {
	method, path, ok := strings.Cut(rt.Pattern, " ")
	if !ok {
		method, path = http.MethodGet, rt.Pattern
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "x"
		}
	}
	return method, strings.Join(segs, "/")
}

// Mux registers routes on an http.ServeMux only together with their
// minimum role, so no route can be mounted without a declared role, and it
// remembers them for the route sweep.
type Mux struct {
	a      *Authenticator
	mux    *http.ServeMux
	mu     sync.Mutex
	routes []Route
}

// NewMux wraps mux (nil = a new ServeMux).
func (a *Authenticator) NewMux(mux *http.ServeMux) *Mux {
	if mux == nil {
		mux = http.NewServeMux()
	}
	return &Mux{a: a, mux: mux}
}

// Handle registers h for pattern (ServeMux syntax, "METHOD /path") behind
// Wrap(min).
func (m *Mux) Handle(pattern string, min Role, h http.Handler) {
	m.mux.Handle(pattern, m.a.wrap(pattern, min, h))
	m.mu.Lock()
	m.routes = append(m.routes, Route{Pattern: pattern, Min: min})
	m.mu.Unlock()
}

// HandleFunc is Handle for a function.
func (m *Mux) HandleFunc(pattern string, min Role, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, min, http.HandlerFunc(h))
}

// Routes lists the registered routes, sorted by pattern.
func (m *Mux) Routes() []Route {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]Route(nil), m.routes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return out
}

// ServeHTTP serves through the underlying ServeMux.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.mux.ServeHTTP(w, r) }

// ServeMux returns the underlying mux (for unauthenticated non-/api
// routes such as /health, /metrics and the dashboard).
func (m *Mux) ServeMux() *http.ServeMux { return m.mux }
