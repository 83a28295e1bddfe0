package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The decoders take input from the network (agents, other backends, KV):
// none may panic, and whatever they accept must round-trip.

func seeds(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `{"id":"j","request_id":"r","exec_id":"e","shell":"sh","script":"x","timeout_secs":1}`,
		`{"result_id":"r","pc_id":"p","started_at":"2026-01-01T00:00:00Z","exit_code":-1,"killed":true}`,
		`{"pc_id":"pc1","hostname":"h","at":"2026-01-01T00:00:00Z","agent_rss_bytes":1}`,
		`{"actor":"a","action":"b","payload":{"k":[1,2]},"occurred_at":"2026-01-01T00:00:00Z"}`,
		`{"groups":["a","b"]}`, `["a"]`, `{"heartbeat_interval":"30s","max_local_concurrent":2}`,
		"\x00\xff", `{"deadline_at":"not a time"}`, `{"exit_code":1e400}`,
		`{"result_id":"r","request_id":"a.b","pc_id":"p","started_at":"2026-01-01T00:00:00Z"}`,
		`{"result_id":"r\u0000","pc_id":"p","started_at":"2026-01-01T00:00:00Z"}`,
		`{"result_id":"r","exec_id":"e","pc_id":"p","manifest_id":"j*","version":"1","started_at":"2026-01-01T00:00:00+09:00"}`,
	} {
		f.Add([]byte(s))
	}
}

func FuzzDecodeCommand(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err != nil {
			return
		}
		b, _ := json.Marshal(c)
		if _, err := DecodeCommand(b); err != nil {
			t.Fatalf("accepted command does not round-trip: %v", err)
		}
	})
}

func FuzzDecodeExecResult(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeExecResult(data)
		if err != nil {
			return
		}
		assertIDs(t, r.ResultID, r.RequestID, r.ExecID, r.PCID, r.ManifestID, r.Version)
		if len(r.Stdout) > MaxWireOutput || len(r.Stderr) > MaxWireOutput {
			t.Fatalf("accepted output over the limit: %d/%d bytes", len(r.Stdout), len(r.Stderr))
		}
		roundTrip(t, r, DecodeExecResult)
	})
}

func FuzzDecodeOthers(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, err := DecodeEventStarted(data); err == nil {
			assertIDs(t, e.ResultID, e.RequestID, e.ExecID, e.PCID, e.ManifestID, e.Version)
			if e.StartedAt.IsZero() {
				t.Fatal("accepted an event without started_at")
			}
			roundTrip(t, e, DecodeEventStarted)
		}
		if h, err := DecodeHeartbeat(data); err == nil {
			if !independentToken(h.PCID, 128) || strings.HasPrefix(h.PCID, "-") {
				t.Fatalf("accepted heartbeat pc_id %q", h.PCID)
			}
			roundTrip(t, h, DecodeHeartbeat)
		}
		if a, err := DecodeAuditEvent(data); err == nil {
			if a.Actor == "" || a.Action == "" {
				t.Fatalf("accepted audit without actor/action: %+v", a)
			}
			roundTrip(t, a, DecodeAuditEvent)
		}
		if g, err := DecodeAgentGroups(data); err == nil {
			for _, name := range g.Groups {
				if !independentToken(name, 64) {
					t.Fatalf("accepted group %q", name)
				}
			}
			roundTrip(t, g, DecodeAgentGroups)
		}
		if s, err := DecodeConfigScope(data); err == nil {
			roundTrip(t, s, DecodeConfigScope)
			Resolve(ConfigLayers{Global: &s, Groups: map[string]ConfigScope{"g": s}, PC: &s})
		}
	})
}

// roundTrip asserts that an accepted value re-encodes, the encoding is
// accepted again, and that second decode encodes to the same bytes (byte
// equality sidesteps time.Time's location pointers).
func roundTrip[T any](t *testing.T, v T, dec func([]byte) (T, error)) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted %T does not encode: %v", v, err)
	}
	again, err := dec(b)
	if err != nil {
		t.Fatalf("accepted %T does not round-trip: %v\n%s", v, err, b)
	}
	b2, err := json.Marshal(again)
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("%T changed in a round trip:\n%s\n%s", v, b, b2)
	}
}

// independentToken restates SPEC §2 without the decoders' code: non-empty,
// at most max bytes, no '.', '*', '>', whitespace, control or replacement
// characters.
func independentToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
			r == 0x85 || r == 0xa0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x2028 || r == 0x2029 ||
			r == 0x202f || r == 0x205f || r == 0x3000 || r == 0xfffd {
			return false
		}
	}
	return true
}

// assertIDs checks the ids of an accepted result or event: result_id and
// pc_id present, every present id a subject token, manifest_id by the
// manifest rule, the version bounded.
func assertIDs(t *testing.T, resultID, requestID, execID, pcID, manifestID, version string) {
	t.Helper()
	if !independentToken(resultID, MaxTokenLen) || !independentToken(pcID, 128) {
		t.Fatalf("accepted result_id %q pc_id %q", resultID, pcID)
	}
	for _, id := range []string{requestID, execID} {
		if id != "" && !independentToken(id, MaxTokenLen) {
			t.Fatalf("accepted id %q", id)
		}
	}
	if manifestID != "" && (!independentToken(manifestID, 64) || strings.ContainsFunc(manifestID, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})) {
		t.Fatalf("accepted manifest_id %q", manifestID)
	}
	if len(version) > MaxVersionLen || strings.ContainsFunc(version, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		t.Fatalf("accepted version %q", version)
	}
}
