package auth_test

// The tests that need accounts are an external package: they run on the
// real store (internal/store), which imports auth. The dot import keeps
// them reading as if inside auth; export_test.go lends them the few
// internals they need.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	. "github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
)

// openDB opens the store the backend uses, with all its migrations: a real
// SQLite file, or with KANADE_TEST_DB=postgres a fresh PostgreSQL database.
func openDB(t testing.TB) *store.DB {
	t.Helper()
	dsn := ""
	if testdb.PostgresSelected() {
		dsn = testdb.NewPostgres(t)
	}
	db, err := store.Open(context.Background(), dsn, t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("open %s: %v", testdb.Describe(dsn), err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type auditRec struct {
	Actor, Action, Target, IP string
	Payload                   any
}

type recAuditor struct {
	mu  sync.Mutex
	evs []auditRec
}

func (r *recAuditor) Audit(_ context.Context, actor, action, target string, payload any, ip string) {
	r.mu.Lock()
	r.evs = append(r.evs, auditRec{actor, action, target, ip, payload})
	r.mu.Unlock()
}

func (r *recAuditor) find(action, target string) (auditRec, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.evs {
		if e.Action == action && e.Target == target {
			return e, true
		}
	}
	return auditRec{}, false
}

type env struct {
	t     *testing.T
	a     *Authenticator
	mux   *Mux
	srv   *httptest.Server
	clock *fakeClock
	aud   *recAuditor
	users *Users
}

const testSecret = "0123456789abcdef0123456789abcdef"

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	db := openDB(t)
	clock := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := Config{
		JWTSecret:      []byte(testSecret),
		StaticToken:    "static-service-token-0123456789",
		Now:            clock.Now,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	}
	if mod != nil {
		mod(&cfg)
	}
	aud := &recAuditor{}
	a, err := New(cfg, db, aud)
	if err != nil {
		t.Fatal(err)
	}
	users := a.Users()
	m := a.NewMux(nil)
	// The auth and account routes as internal/api's route table mounts them.
	m.HandleFunc("POST /api/auth/login", RolePublic, a.Login)
	m.HandleFunc("GET /api/auth/me", RoleViewer, a.Me)
	m.HandleFunc("POST /api/auth/change-password", RoleViewer, a.ChangePassword)
	m.HandleFunc("GET /api/accounts", RoleAdmin, a.ListAccounts)
	m.HandleFunc("POST /api/accounts", RoleAdmin, a.CreateAccount)
	m.HandleFunc("GET /api/accounts/{username}", RoleAdmin, a.GetAccount)
	m.HandleFunc("PATCH /api/accounts/{username}", RoleAdmin, a.UpdateAccount)
	m.HandleFunc("PUT /api/accounts/{username}", RoleAdmin, a.UpdateAccount)
	m.HandleFunc("DELETE /api/accounts/{username}", RoleAdmin, a.DeleteAccount)
	m.HandleFunc("POST /api/auth/password", RoleViewer, a.ChangePassword)
	m.HandleFunc("POST /api/auth/mfa", RolePublic, a.MFALogin)
	m.HandleFunc("DELETE /api/auth/mfa", RoleViewer, a.MFADisable)
	m.HandleFunc("POST /api/auth/mfa/enroll", RoleViewer, a.MFAEnroll)
	m.HandleFunc("POST /api/auth/mfa/confirm", RoleViewer, a.MFAConfirm)
	m.HandleFunc("GET /api/auth/mfa/policy", RoleViewer, a.GetMFAPolicy)
	m.HandleFunc("PUT /api/auth/mfa/policy", RoleAdmin, a.PutMFAPolicy)
	m.HandleFunc("DELETE /api/accounts/{username}/mfa", RoleAdmin, a.ResetAccountMFA)
	m.HandleFunc("POST /api/tokens", RoleOperator, a.CreateAPIToken)
	m.HandleFunc("GET /api/tokens", RoleOperator, a.ListAPITokens)
	m.HandleFunc("DELETE /api/tokens/{id}", RoleOperator, a.DeleteAPIToken)
	ok := func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context())
		WriteJSON(w, 200, map[string]string{"actor": p.Username, "role": p.Role.String()})
	}
	m.HandleFunc("GET /api/test/viewer", RoleViewer, ok)
	m.HandleFunc("GET /api/test/items/{id}", RoleViewer, ok)
	m.HandleFunc("POST /api/test/operator", RoleOperator, ok)
	m.HandleFunc("DELETE /api/test/items/{id}", RoleOperator, ok)
	m.HandleFunc("GET /api/test/admin", RoleAdmin, ok)
	m.HandleFunc("GET /api/version", RolePublic, ok)
	srv := httptest.NewServer(Harden(HardenOptions{}, m))
	t.Cleanup(srv.Close)
	return &env{t: t, a: a, mux: m, srv: srv, clock: clock, aud: aud, users: users}
}

type resp struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// do sends a request; hdr pairs are header name/value ("X-Forwarded-For", ip).
func (e *env) do(method, path, token string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

func (e *env) mkUser(name string, role Role) {
	e.t.Helper()
	if _, err := e.users.Create(context.Background(), NewUser{Username: name, Password: "pw-" + name + "-secret", Role: role}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) login(name string) string {
	e.t.Helper()
	r := e.do("POST", "/api/auth/login", "", apiv1.LoginRequest{Username: name, Password: "pw-" + name + "-secret"})
	if r.Status != 200 {
		e.t.Fatalf("login %s: %d %s", name, r.Status, r.Raw)
	}
	return r.Body["token"].(string)
}

var osStat = os.Stat
