package enroll

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/sign"
)

// fakeBackend mimics POST /api/enroll as the backend must implement it:
// one-use tokens with an expiry, one enrollment per pc_id, a user JWT from
// brokerid for the PC's own public key.
type fakeBackend struct {
	t      *testing.T
	a      *brokerid.Authority
	signer *sign.Signer
	mu     sync.Mutex
	tokens map[string]time.Time // token → expiry; deleted when used
	pcs    map[string]bool
	used   map[string]bool
	reqs   []Request
	// tamper changes a successful answer (bad-response tests).
	tamper func(*Response)
}

func newFakeBackend(t *testing.T) (*fakeBackend, *httptest.Server) {
	t.Helper()
	k, err := brokerid.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	a, err := brokerid.New(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := sign.GenerateKey()
	f := &fakeBackend{t: t, a: a, signer: s, tokens: map[string]time.Time{}, pcs: map[string]bool{}, used: map[string]bool{"used": true}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeBackend) token(tok string, ttl time.Duration) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[tok] = time.Now().Add(ttl)
	return tok
}

func (f *fakeBackend) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg, field string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "field": field})
	}
	if r.URL.Path != Route || r.Method != http.MethodPost {
		fail(http.StatusNotFound, "not found", "")
		return
	}
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(http.StatusBadRequest, "bad JSON", "")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	exp, ok := f.tokens[req.Token]
	switch {
	case f.used[req.Token]:
		fail(http.StatusGone, "enrollment token used up", "token")
		return
	case !ok:
		fail(http.StatusUnauthorized, "unknown enrollment token", "token")
		return
	case time.Now().After(exp):
		fail(http.StatusGone, "enrollment token expired", "token")
		return
	case f.pcs[req.PCID]:
		fail(http.StatusConflict, "pc_id "+req.PCID+" is already enrolled", "pc_id")
		return
	}
	u, err := f.a.IssueAgent(req.PCID, req.PublicKey)
	if err != nil {
		fail(http.StatusBadRequest, err.Error(), "public_key")
		return
	}
	delete(f.tokens, req.Token)
	f.used[req.Token] = true
	f.pcs[req.PCID] = true
	resp := Response{PCID: req.PCID, UserJWT: u.JWT, BrokerURLs: []string{"nats://127.0.0.1:4222"},
		SigningKeys: []SigningKey{{KeyID: f.signer.KeyID(), PublicKey: sign.EncodePublicKey(f.signer.Public())}}}
	if f.tamper != nil {
		f.tamper(&resp)
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func TestEnrollHappyPath(t *testing.T) {
	f, srv := newFakeBackend(t)
	dir := filepath.Join(t.TempDir(), "data")
	e, err := Enroll(context.Background(), Options{Server: srv.URL + "/", Token: f.token("t1", time.Hour), PCID: "pc-01",
		Hostname: "pc-01.example", OSFamily: "linux", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	req := f.reqs[0]
	if req.Token != "t1" || req.PCID != "pc-01" || req.Hostname != "pc-01.example" || req.OSFamily != "linux" || !strings.HasPrefix(req.PublicKey, "U") {
		t.Fatalf("request %+v", req)
	}
	// broker.creds: the JWT for our key, the seed that never left the PC.
	uc, err := brokerid.ReadCreds(CredsPath(dir))
	if err != nil || uc.Subject != req.PublicKey || uc.Name != "pc-01" || e.PublicKey != req.PublicKey {
		t.Fatalf("creds: %v %v", uc, err)
	}
	raw, _ := os.ReadFile(CredsPath(dir))
	if seed, err := jwt.ParseDecoratedNKey(raw); err != nil {
		t.Fatal(err)
	} else if pk, _ := seed.PublicKey(); pk != req.PublicKey {
		t.Fatal("creds seed is not the enrolled key")
	}
	for _, name := range []string{CredsFile, EnrollmentFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", name, st.Mode().Perm())
		}
	}
	got, err := Load(dir)
	if err != nil || got.PCID != "pc-01" || got.BrokerURLs[0] != "nats://127.0.0.1:4222" {
		t.Fatalf("load: %+v %v", got, err)
	}
	kr, err := got.Keyring()
	if err != nil || kr.KeyIDs()[0] != f.signer.KeyID() {
		t.Fatalf("keyring: %v", err)
	}
	// The token was for one use.
	if _, err := Enroll(context.Background(), Options{Server: srv.URL, Token: "t1", PCID: "pc-02", DataDir: t.TempDir()}); !errors.Is(err, ErrTokenSpent) {
		t.Fatalf("second use of a token: %v", err)
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("not enrolled: %v", err)
	}

	// Enrolling again: refused locally without --force; with --force the
	// server decides (409 until an operator allows it).
	_, err = Enroll(context.Background(), Options{Server: srv.URL, Token: f.token("t2", time.Hour), PCID: "pc-01", DataDir: dir})
	if !errors.Is(err, ErrEnrolled) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("local re-enroll: %v", err)
	}
	_ = os.WriteFile(filepath.Join(dir, KeyringFile), []byte("{}"), 0o600)
	_, err = Enroll(context.Background(), Options{Server: srv.URL, Token: "t2", PCID: "pc-01", DataDir: dir, Force: true})
	if !errors.Is(err, ErrAlreadyEnrolled) || !strings.Contains(err.Error(), "/api/agents/pc-01/reenroll") {
		t.Fatalf("server re-enroll: %v", err)
	}
	f.mu.Lock()
	delete(f.pcs, "pc-01") // the operator allowed it
	f.mu.Unlock()
	e2, err := Enroll(context.Background(), Options{Server: srv.URL, Token: "t2", PCID: "pc-01", DataDir: dir, Force: true})
	if err != nil || e2.PublicKey == e.PublicKey {
		t.Fatalf("forced: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyringFile)); !errors.Is(err, os.ErrNotExist) {
		t.Error("the old keyring survived re-enrollment")
	}
}

func TestEnrollFailures(t *testing.T) {
	f, srv := newFakeBackend(t)
	f.token("expired", -time.Minute)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	cases := []struct {
		name   string
		o      Options
		tamper func(*Response)
		want   error
		text   string
	}{
		{name: "bad token", o: Options{Token: "nope"}, want: ErrBadToken, text: "unknown enrollment token"},
		{name: "expired token", o: Options{Token: "expired"}, want: ErrTokenSpent, text: "expired"},
		{name: "used token", o: Options{Token: "used"}, want: ErrTokenSpent, text: "used up"},
		{name: "unreachable", o: Options{Server: dead, Token: "x"}, want: ErrUnreachable, text: dead},
		{name: "not a backend", o: Options{Server: srv.URL + "/elsewhere", Token: "x"}, want: ErrServer, text: "HTTP 404"},
		{name: "bad pc_id", o: Options{PCID: "a.b", Token: "x"}, text: "not valid"},
		{name: "no token", o: Options{Token: " "}, text: "--token"},
		{name: "bad server", o: Options{Server: "nats://x:4222", Token: "x"}, text: "http(s)"},
		{name: "jwt for another key", o: Options{Token: "ok1"}, want: ErrBadResponse, text: "not this PC's key",
			tamper: func(r *Response) {
				_, pk, _ := brokerid.NewUserKey()
				u, _ := f.a.IssueAgent(r.PCID, pk)
				r.UserJWT = u.JWT
			}},
		{name: "no signing keys", o: Options{Token: "ok2"}, want: ErrBadResponse, text: "signing_keys",
			tamper: func(r *Response) { r.SigningKeys = nil }},
		{name: "key id mismatch", o: Options{Token: "ok3"}, want: ErrBadResponse, text: "key_id",
			tamper: func(r *Response) { r.SigningKeys[0].KeyID = "0000000000000000" }},
		{name: "no broker urls", o: Options{Token: "ok4"}, want: ErrBadResponse, text: "broker_urls",
			tamper: func(r *Response) { r.BrokerURLs = nil }},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			if o.Server == "" {
				o.Server = srv.URL
			}
			if o.PCID == "" {
				o.PCID = "pc-f" + string(rune('a'+i))
			}
			if strings.HasPrefix(o.Token, "ok") {
				f.token(o.Token, time.Hour)
			}
			f.mu.Lock()
			f.tamper = tc.tamper
			f.mu.Unlock()
			dir := t.TempDir()
			_, err := Enroll(context.Background(), Options{Server: o.Server, Token: o.Token, PCID: o.PCID, DataDir: dir})
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.text)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("a failed enrollment left %v", ents)
			}
		})
	}
}
