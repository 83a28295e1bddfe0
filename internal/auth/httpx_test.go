package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		remote, xff string
		trusted     []netip.Prefix
		want        string
	}{
		{"192.0.2.1:1234", "203.0.113.9", nil, "192.0.2.1"},                         // XFF ignored without trust
		{"192.0.2.1:1234", "203.0.113.9", trusted, "192.0.2.1"},                     // peer not a trusted proxy
		{"10.0.0.5:1234", "203.0.113.9", trusted, "203.0.113.9"},                    // one proxy
		{"10.0.0.5:1234", "1.1.1.1, 203.0.113.9, 10.0.0.7", trusted, "203.0.113.9"}, // forged left hop ignored
		{"10.0.0.5:1234", "", trusted, "10.0.0.5"},
		{"10.0.0.5:1234", "garbage", trusted, "10.0.0.5"},
		{"[::ffff:192.0.2.3]:80", "", nil, "192.0.2.3"},
		{"[2001:db8::1]:80", "", nil, "2001:db8::1"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientIP(r, c.trusted); got != c.want {
			t.Errorf("%s xff=%q: got %s want %s", c.remote, c.xff, got, c.want)
		}
	}
	if _, err := ParseTrustedProxies("10.0.0.0/8,nonsense"); err == nil {
		t.Error("bad proxy list accepted")
	}
}

func TestHarden(t *testing.T) {
	h := Harden(HardenOptions{MaxBodyBytes: 10}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 100)
		n, err := r.Body.Read(b)
		for err == nil {
			var k int
			k, err = r.Body.Read(b[n:])
			n += k
		}
		if n > 10 {
			t.Errorf("read %d bytes past the limit", n)
		}
		if err.Error() != "EOF" {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		}
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader("0123456789abc")))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared length over limit: %d", w.Code)
	}
	for _, k := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy"} {
		if w.Header().Get(k) == "" {
			t.Errorf("missing %s", k)
		}
	}
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS header set")
	}
	// Chunked body (no Content-Length) is cut by MaxBytesReader.
	req := httptest.NewRequest("POST", "/", strings.NewReader("0123456789abcdef"))
	req.ContentLength = -1
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed body over limit: %d", w.Code)
	}
	s := &http.Server{}
	HardenServer(s)
	if s.ReadHeaderTimeout == 0 || s.WriteTimeout != 0 {
		t.Errorf("server timeouts: %+v", s)
	}
}

func TestRedact(t *testing.T) {
	in := map[string]any{
		"username": "u", "password": "p1", "New_Password": "p2",
		"nested": []any{map[string]any{"api_token": "t", "ok": 1}},
		"config": map[string]any{"client_secret": "s", "name": "n"},
	}
	out := Redact(in)
	b, _ := json.Marshal(out)
	s := string(b)
	for _, leak := range []string{"p1", "p2", `"t"`, `"s"`} {
		if strings.Contains(s, leak) {
			t.Errorf("leaked %s in %s", leak, s)
		}
	}
	if !strings.Contains(s, `"username":"u"`) || !strings.Contains(s, `"name":"n"`) || !strings.Contains(s, `"ok":1`) {
		t.Errorf("over-redacted: %s", s)
	}
	type req struct {
		Password string `json:"password"`
		Role     string `json:"role"`
	}
	if s, _ := json.Marshal(Redact(req{"pw", "admin"})); string(s) != `{"password":"[redacted]","role":"admin"}` {
		t.Errorf("struct: %s", s)
	}
	if Redact(nil) != nil || Redact(json.RawMessage("{bad")) != nil {
		t.Error("nil/bad payload")
	}
}

func TestRoleText(t *testing.T) {
	for r := RoleViewer; r <= RoleAdmin; r++ {
		b, _ := r.MarshalText()
		var back Role
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("%v round trip: %v %v", r, back, err)
		}
	}
	var r Role
	if r.UnmarshalText([]byte("public")) == nil {
		t.Error("public accepted as an account role")
	}
	if !(RolePublic < RoleViewer && RoleViewer < RoleOperator && RoleOperator < RoleAdmin) {
		t.Error("role order")
	}
}

func TestFromTrustedProxy(t *testing.T) {
	a := &Authenticator{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	for remote, want := range map[string]bool{"10.1.2.3:80": true, "[::ffff:10.0.0.1]:80": true, "192.0.2.1:80": false, "junk": false} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := a.FromTrustedProxy(r); got != want {
			t.Errorf("%s: %v, want %v", remote, got, want)
		}
	}
}
