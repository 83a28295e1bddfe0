package wire

import (
	"encoding/json"
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
		b, _ := json.Marshal(r)
		if _, err := DecodeExecResult(b); err != nil {
			t.Fatalf("accepted result does not round-trip: %v", err)
		}
	})
}

func FuzzDecodeOthers(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = DecodeEventStarted(data)
		_, _ = DecodeHeartbeat(data)
		_, _ = DecodeAuditEvent(data)
		_, _ = DecodeAgentGroups(data)
		if s, err := DecodeConfigScope(data); err == nil {
			Resolve(ConfigLayers{Global: &s, Groups: map[string]ConfigScope{"g": s}, PC: &s})
		}
	})
}
