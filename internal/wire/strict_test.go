package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// The decoders refuse ids that could not be subject tokens (SPEC §2) and
// fields over their limits, and name the field so the drop counter can.
func TestDecodersRefuseBadIDsAndSizes(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	goodRes := ExecResult{ResultID: "r1", RequestID: "q1", ExecID: "e1", PCID: "pc1", ManifestID: "job-1", Version: "1.0.1",
		Stdout: strings.Repeat("o", MaxInlineOutput), StartedAt: now, FinishedAt: now}
	goodEv := EventStarted{ResultID: "r1", RequestID: "q1", ExecID: "e1", PCID: "pc1", ManifestID: "job-1", Version: "1.0.1", StartedAt: now}
	b, _ := json.Marshal(goodRes)
	if _, err := DecodeExecResult(b); err != nil {
		t.Fatalf("good result refused: %v", err)
	}
	b, _ = json.Marshal(goodEv)
	if _, err := DecodeEventStarted(b); err != nil {
		t.Fatalf("good event refused: %v", err)
	}
	bad := map[string]string{"dot": "a.b", "star": "a*", "gt": "a>", "space": "a b", "tab": "a\tb", "nul": "a\x00b",
		"ctrl": "a\x1bb", "long": strings.Repeat("x", MaxTokenLen+1)}
	for _, field := range []string{"result_id", "request_id", "exec_id", "pc_id", "manifest_id"} {
		for name, v := range bad {
			r, e := goodRes, goodEv
			switch field {
			case "result_id":
				r.ResultID, e.ResultID = v, v
			case "request_id":
				r.RequestID, e.RequestID = v, v
			case "exec_id":
				r.ExecID, e.ExecID = v, v
			case "pc_id":
				r.PCID, e.PCID = v, v
			case "manifest_id":
				r.ManifestID, e.ManifestID = v, v
			}
			rb, _ := json.Marshal(r)
			eb, _ := json.Marshal(e)
			if _, err := DecodeExecResult(rb); !errors.Is(err, ErrInvalid) || Reason(err) != field {
				t.Errorf("result %s %s: want ErrInvalid naming %s, got %v (reason %s)", field, name, field, err, Reason(err))
			}
			if _, err := DecodeEventStarted(eb); !errors.Is(err, ErrInvalid) || Reason(err) != field {
				t.Errorf("event %s %s: want ErrInvalid naming %s, got %v", field, name, field, err)
			}
		}
	}
	for field, mut := range map[string]func(*ExecResult){
		"stdout":      func(r *ExecResult) { r.Stdout = strings.Repeat("x", MaxWireOutput+1) },
		"stderr":      func(r *ExecResult) { r.Stderr = strings.Repeat("x", MaxWireOutput+1) },
		"version":     func(r *ExecResult) { r.Version = strings.Repeat("1", MaxVersionLen+1) },
		"manifest_id": func(r *ExecResult) { r.ManifestID = strings.Repeat("j", 65) },
		"result_id":   func(r *ExecResult) { r.ResultID = "" },
		"pc_id":       func(r *ExecResult) { r.PCID = "" },
	} {
		r := goodRes
		mut(&r)
		rb, _ := json.Marshal(r)
		if _, err := DecodeExecResult(rb); Reason(err) != field {
			t.Errorf("result with bad %s: got %v", field, err)
		}
	}
	if _, err := DecodeEventStarted([]byte(`{"result_id":"r","pc_id":"p","version":"1 0","started_at":"2026-01-01T00:00:00Z"}`)); Reason(err) != "version" {
		t.Errorf("event with a spaced version: %v", err)
	}
	if _, err := DecodeHeartbeat([]byte(`{"pc_id":"pc1","hostname":"` + strings.Repeat("h", MaxTextLen+1) + `"}`)); Reason(err) != "hostname" {
		t.Errorf("heartbeat with a huge hostname: %v", err)
	}
	if _, err := DecodeHeartbeat([]byte(`{"pc_id":"a.b"}`)); Reason(err) != "pc_id" {
		t.Errorf("heartbeat with a dotted pc_id: %v", err)
	}
	if got := Reason(errors.New("x")); got != "malformed" {
		t.Errorf("Reason of a plain error = %q", got)
	}
	if _, err := DecodeExecResult([]byte(`{`)); Reason(err) != "malformed" {
		t.Errorf("Reason of bad JSON = %q", Reason(err))
	}
}
