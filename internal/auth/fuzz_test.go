package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/kanade-fleet/kanade/internal/auth"
)

func FuzzDecodeLogin(f *testing.F) {
	for _, s := range []string{
		`{"username":"admin","password":"secret-pass"}`,
		`{"username":"","password":""}`,
		`{"username":"a","password":"b","extra":true}`,
		`{"username":1}`, `[]`, `null`, ``, `{`, `{"username":"a","password":"b"}{}`,
		`{"username":"\u0000","password":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeLogin(data)
		if err == nil && (req.Username == "" || req.Password == "") {
			t.Fatalf("accepted empty credentials: %q", data)
		}
	})
}

// FuzzAuthenticate drives the whole token path (header parsing, static
// token compare, JWT parse, account lookup) with arbitrary input.
func FuzzAuthenticate(f *testing.F) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := New(Config{JWTSecret: []byte(testSecret), StaticToken: "static-service-token-0123456789",
		Now: func() time.Time { return now }}, openDB(f), nil)
	if err != nil {
		f.Fatal(err)
	}
	users := a.Users()
	if _, err := users.Create(context.Background(), NewUser{Username: "fz", Password: "password-123", Role: RoleViewer}); err != nil {
		f.Fatal(err)
	}
	valid, ghost := IssueTestToken(a, "fz"), IssueTestToken(a, "ghost")
	for _, s := range []string{
		"Bearer " + valid, "Bearer " + ghost, "Bearer static-service-token-0123456789", "bearer  x",
		"Bearer", "Basic Zm9vOmJhcg==", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJmeiJ9.",
		"Bearer a.b.c", "Bearer ....", valid,
	} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, header, query string) {
		req := httptest.NewRequest(http.MethodGet, "/api/x", nil)
		if header != "" {
			req.Header["Authorization"] = []string{header}
		}
		if query != "" {
			req.URL.RawQuery = "access_token=" + url.QueryEscape(query)
		}
		p, err := a.Authenticate(req)
		if err == nil && p.Username == "" {
			t.Fatalf("authenticated without a name: %q %q", header, query)
		}
		if err == nil && p.Username == "fz" && p.Role != RoleViewer {
			t.Fatalf("role from token instead of database: %+v", p)
		}
	})
}

func FuzzVerifyPassword(f *testing.F) {
	h, _ := HashPassword("password-123")
	f.Add(h, "password-123")
	f.Add("$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, enc, pw string) {
		ok, err := VerifyPassword(enc, pw)
		if ok && err != nil {
			t.Fatal("ok with error")
		}
	})
}

// FuzzParseAPIToken: only the exact kt_ shape is accepted, and its hash is
// the stored form.
func FuzzParseAPIToken(f *testing.F) {
	for _, s := range []string{"kt_" + strings.Repeat("A", 43), "kt_", "kt_" + strings.Repeat("A", 44),
		"KT_" + strings.Repeat("a", 43), "kt_" + strings.Repeat("\u00e9", 22), "", "eyJ.x.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := ParseAPIToken(s)
		if !ok {
			return
		}
		if len(s) != 46 || !strings.HasPrefix(s, APITokenPrefix) || h != HashAPIToken(s) || len(h) != 64 {
			t.Fatalf("accepted %q (hash %q)", s, h)
		}
	})
}

func FuzzDecodeMFALogin(f *testing.F) {
	for _, s := range []string{
		`{"mfa_token":"a.b.c","code":"123456"}`, `{"mfa_token":"a.b.c","code":"abcde-fghij"}`,
		`{"mfa_token":"","code":""}`, `{"mfa_token":"x","code":"1","extra":1}`, `{"code":123456}`,
		`[]`, `null`, ``, `{`, `{"mfa_token":"x","code":"1"}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeMFALogin(data)
		if err == nil && (req.MFAToken == "" || req.Code == "" || len(req.Code) > 64) {
			t.Fatalf("accepted %q", data)
		}
		c, err := DecodeMFACode(data)
		if err == nil && (c.Code == "" || len(c.Code) > 64) {
			t.Fatalf("code body accepted %q", data)
		}
		_, _ = DecodeMFAPolicy(data)
	})
}
