package outgroup

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeGroupsTheSameOutput(t *testing.T) {
	same := []string{
		"ok\n",
		"ok",
		"ok\r\n",
		"\nok  \n\n\n",
		"ok\t\r\n\r\n",
	}
	for _, s := range same {
		if got := Normalize(s); got != "ok" {
			t.Errorf("Normalize(%q) = %q, want ok", s, got)
		}
		if Hash(s) != Hash("ok") {
			t.Errorf("Hash(%q) differs from Hash(ok)", s)
		}
	}
	for _, s := range []string{"OK", "o k", "ok\nmore", " ok"} {
		if Hash(s) == Hash("ok") {
			t.Errorf("Hash(%q) = Hash(ok): outputs that differ must not group", s)
		}
	}
	if Hash("") != "" || Hash(" \n\r\n") != "" {
		t.Errorf("empty output hashes to %q", Hash("\n"))
	}
	if h := Hash("ok"); len(h) != 32 {
		t.Errorf("hash %q: want 32 hex characters", h)
	}
	// The truncation note's byte counts differ between PCs.
	a := "head\n\n[kanade] output truncated: 100 bytes written, 20 dropped\ntail\n"
	b := "head\n\n[kanade] output truncated: 130 bytes written, 50 dropped\ntail\n"
	if Hash(a) != Hash(b) {
		t.Errorf("truncated outputs with the same head and tail do not group")
	}
}

func TestStderrExcerpt(t *testing.T) {
	cases := map[string]string{
		"":                                 "",
		"\n\n":                             "",
		"warning: x\nerror: disk full\n\n": "error: disk full",
		"  boom  \r\n":                     "boom",
		"only line":                        "only line",
	}
	for in, want := range cases {
		if got := StderrExcerpt(in); got != want {
			t.Errorf("StderrExcerpt(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("é", 150) // 300 bytes
	got := StderrExcerpt("first\n" + long)
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "…") || len(got) > ExcerptMax+len("…") {
		t.Errorf("long excerpt %q (%d bytes)", got, len(got))
	}
}
