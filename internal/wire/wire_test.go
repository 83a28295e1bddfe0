package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeCommand(t *testing.T) {
	t.Parallel()
	good := `{"id":"j","version":"1","request_id":"r","exec_id":"e","shell":"sh","script":"true","timeout_secs":5,"future_field":1}`
	c, err := DecodeCommand([]byte(good))
	if err != nil || c.ID != "j" || c.TimeoutSecs != 5 {
		t.Fatalf("good command: %+v %v", c, err)
	}
	for name, bad := range map[string]string{
		"not json":       `{`,
		"missing id":     `{"request_id":"r","exec_id":"e","shell":"sh"}`,
		"bad shell":      `{"id":"j","request_id":"r","exec_id":"e","shell":"zsh"}`,
		"negative":       `{"id":"j","request_id":"r","exec_id":"e","shell":"sh","timeout_secs":-1}`,
		"trailing":       good + `{}`,
		"wrong type":     `{"id":1}`,
		"array":          `[]`,
		"missing exec":   `{"id":"j","request_id":"r","shell":"sh"}`,
		"missing req id": `{"id":"j","exec_id":"e","shell":"sh"}`,
	} {
		if _, err := DecodeCommand([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: want ErrInvalid, got %v", name, err)
		}
	}
}

func TestWritersOmitEmptyOptionals(t *testing.T) {
	t.Parallel()
	b, _ := json.Marshal(ExecResult{ResultID: "r", PCID: "p"})
	s := string(b)
	for _, f := range []string{"skipped", "timed_out", "killed"} {
		if strings.Contains(s, f) {
			t.Errorf("%s must be omitted when false: %s", f, s)
		}
	}
	b, _ = json.Marshal(Command{ID: "j"})
	if strings.Contains(string(b), "deadline_at") || strings.Contains(string(b), "cwd") {
		t.Errorf("empty optionals written: %s", b)
	}
}

func TestDecodeResultAndEvents(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	r := ExecResult{ResultID: "r1", PCID: "pc1", ExitCode: 124, Skipped: true, StartedAt: now, FinishedAt: now}
	b, _ := json.Marshal(r)
	got, err := DecodeExecResult(b)
	if err != nil || !got.Skipped || got.ExitCode != 124 {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := DecodeExecResult([]byte(`{"pc_id":"x"}`)); err == nil {
		t.Error("result without result_id accepted")
	}
	if _, err := DecodeEventStarted([]byte(`{"result_id":"r","pc_id":"p"}`)); err == nil {
		t.Error("event without started_at accepted")
	}
	if _, err := DecodeHeartbeat([]byte(`{"pc_id":"a.b"}`)); err == nil {
		t.Error("heartbeat with a dotted pc_id accepted")
	}
	if _, err := DecodeAuditEvent([]byte(`{"actor":"a","action":"b","payload":[1]}`)); err == nil {
		t.Error("audit payload that is not an object accepted")
	}
	g, err := DecodeAgentGroups([]byte(`["a","b"]`))
	if err != nil || len(g.Groups) != 2 {
		t.Errorf("bare array groups: %+v %v", g, err)
	}
	if _, err := DecodeAgentGroups([]byte(`{"groups":["a b"]}`)); err == nil {
		t.Error("group with a space accepted")
	}
}

func TestValidIDs(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "cleanup-temp", "A_1", strings.Repeat("x", 64)} {
		if !ValidID(ok) {
			t.Errorf("%q rejected", ok)
		}
	}
	for _, bad := range []string{"", "a.b", "a b", "a*", "a>", strings.Repeat("x", 65), "é"} {
		if ValidID(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestResolveLayers(t *testing.T) {
	s := func(v string) *string { return &v }
	n := func(v int) *int { return &v }
	eff, warn := Resolve(ConfigLayers{
		Global: &ConfigScope{HeartbeatInterval: s("20s"), MaxLocalConcurrent: n(2)},
		Groups: map[string]ConfigScope{"b": {MaxLocalConcurrent: n(8)}, "a": {MaxLocalConcurrent: n(4)}},
		PC:     &ConfigScope{HeartbeatInterval: s("45s")},
	})
	if eff.HeartbeatInterval != "45s" || eff.MaxLocalConcurrent != 8 || eff.HeartbeatEvery() != 45*time.Second {
		t.Fatalf("effective: %+v", eff)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "max_local_concurrent") {
		t.Fatalf("want one conflict warning, got %v", warn)
	}
	if _, err := DecodeConfigScope([]byte(`{"heartbeat_intervall":"1s"}`)); err == nil {
		t.Error("unknown config key accepted")
	}
	var fe *FieldError
	if _, err := DecodeConfigScope([]byte(`{"max_local_concurrent":0}`)); !errors.As(err, &fe) || fe.Field != "max_local_concurrent" {
		t.Errorf("range error must name the field: %v", err)
	}
}
