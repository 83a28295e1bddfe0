package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func goodExecRequested() ExecRequested {
	return ExecRequested{Kind: ExecRequestedKind, ExecID: "e1", JobID: "job-1", Version: "1.0.1", InitiatedBy: "alice@example.com",
		InitiatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), TargetCount: 3, Plan: json.RawMessage(`{"target":{"all":true}}`),
		PendingWaves: 2, Schedule: &ExecSchedule{ID: "nightly", PCs: []string{"pc1"}, DispatchedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
}

func TestDecodeExecRequestedRefusesWhatTheContractForbids(t *testing.T) {
	t.Parallel()
	b, _ := json.Marshal(goodExecRequested())
	if _, err := DecodeExecRequested(b); err != nil {
		t.Fatalf("good message refused: %v", err)
	}
	for _, k := range []string{ExecWaveSentKind, ExecWaveCancelledKind, ExecFanoutKind, ExecPausedKind, ExecResumedKind, ExecHaltedKind} {
		b, _ := json.Marshal(ExecRequested{Kind: k, ExecID: "e1", Wave: 3, TargetsAdded: 2, SubjectsSent: 1,
			SubjectsFailed: []string{"commands.pc.pc2"}, Seq: 7, Reason: "2 failures"})
		if _, err := DecodeExecRequested(b); err != nil {
			t.Errorf("good %s refused: %v", k, err)
		}
	}
	for _, k := range []string{ExecPausedKind, ExecResumedKind} {
		b, _ := json.Marshal(ExecRequested{Kind: k, ExecID: "e1"})
		if _, err := DecodeExecRequested(b); err == nil {
			t.Errorf("%s without seq accepted", k)
		}
	}
	if a, b := (ExecRequested{Kind: ExecPausedKind, ExecID: "e1", Seq: 1}).MsgID(), (ExecRequested{Kind: ExecPausedKind, ExecID: "e1", Seq: 2}).MsgID(); a == b {
		t.Errorf("two pauses share msg id %s", a)
	}
	for field, mut := range map[string]func(*ExecRequested){
		"kind":                   func(e *ExecRequested) { e.Kind = "" },
		"exec_id":                func(e *ExecRequested) { e.ExecID = "a.b" },
		"job_id":                 func(e *ExecRequested) { e.JobID = "j*" },
		"version":                func(e *ExecRequested) { e.Version = "1 0" },
		"initiated_by":           func(e *ExecRequested) { e.InitiatedBy = strings.Repeat("a", MaxInitiatedByLen+1) },
		"initiated_at":           func(e *ExecRequested) { e.InitiatedAt = time.Time{} },
		"target_count":           func(e *ExecRequested) { e.TargetCount = -1 },
		"targets_added":          func(e *ExecRequested) { e.TargetsAdded = MaxExecTargets + 1 },
		"wave":                   func(e *ExecRequested) { e.Wave = -1 },
		"pending_waves":          func(e *ExecRequested) { e.PendingWaves = MaxExecWaves + 1 },
		"plan":                   func(e *ExecRequested) { e.Plan = json.RawMessage(`[1]`) },
		"subjects_failed":        func(e *ExecRequested) { e.SubjectsFailed = []string{"commands.>"} },
		"schedule.id":            func(e *ExecRequested) { e.Schedule.ID = "a b" },
		"schedule.pcs":           func(e *ExecRequested) { e.Schedule.PCs = []string{"p\x00"} },
		"schedule.dispatched_at": func(e *ExecRequested) { e.Schedule.DispatchedAt = time.Time{} },
	} {
		e := goodExecRequested()
		sc := *e.Schedule
		e.Schedule = &sc
		mut(&e)
		b, _ := json.Marshal(e)
		if _, err := DecodeExecRequested(b); !errors.Is(err, ErrInvalid) || Reason(err) != field {
			t.Errorf("bad %s: want ErrInvalid naming it, got %v (reason %s)", field, err, Reason(err))
		}
	}
	if _, err := DecodeExecRequested([]byte(`{"kind":"requested","exec_id":"e1","job_id":"j"`)); Reason(err) != "malformed" {
		t.Errorf("truncated JSON: %v", err)
	}
}

func TestExecRequestedMsgIDs(t *testing.T) {
	t.Parallel()
	sent := ExecRequested{Kind: ExecWaveSentKind, ExecID: "e1", Wave: 2}
	cancelled := ExecRequested{Kind: ExecWaveCancelledKind, ExecID: "e1", Wave: 2}
	if sent.MsgID() != cancelled.MsgID() {
		t.Errorf("a wave's sent and cancelled messages must share an id: %s %s", sent.MsgID(), cancelled.MsgID())
	}
	ids := map[string]bool{}
	for _, e := range []ExecRequested{{Kind: ExecRequestedKind, ExecID: "e1"}, {Kind: ExecFanoutKind, ExecID: "e1"}, sent,
		{Kind: ExecWaveSentKind, ExecID: "e1", Wave: 3}, {Kind: ExecRequestedKind, ExecID: "e2"}} {
		if ids[e.MsgID()] {
			t.Errorf("duplicate msg id %s", e.MsgID())
		}
		ids[e.MsgID()] = true
	}
}

func FuzzDecodeExecRequested(f *testing.F) {
	seeds(f)
	b, _ := json.Marshal(goodExecRequested())
	f.Add(b)
	f.Add([]byte(`{"kind":"fanout","exec_id":"e","wave":0,"subjects_sent":2,"subjects_failed":["commands.pc.a","commands.group.g"]}`))
	f.Add([]byte(`{"kind":"wave_sent","exec_id":"e","job_id":"j","wave":1,"targets_added":5,"plan":null}`))
	f.Add([]byte(`{"kind":"requested","exec_id":"e","job_id":"j","initiated_at":"2026-01-01T00:00:00+09:00","plan":{ "a" : [1, 2] }}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeExecRequested(data)
		if err != nil {
			return
		}
		if !independentToken(e.ExecID, MaxTokenLen) {
			t.Fatalf("accepted exec_id %q", e.ExecID)
		}
		if e.Kind == ExecRequestedKind && (e.JobID == "" || e.InitiatedAt.IsZero()) {
			t.Fatalf("accepted a request without job_id or initiated_at: %+v", e)
		}
		for _, n := range []int{e.TargetCount, e.TargetsAdded, e.TargetsLost, e.SubjectsSent, e.Wave, e.PendingWaves, e.WavesLost} {
			if n < 0 || n > MaxExecTargets {
				t.Fatalf("accepted a count out of range: %+v", e)
			}
		}
		for _, s := range e.SubjectsFailed {
			if s == "" || strings.ContainsAny(s, "*> \t\r\n\x00") || strings.Contains(s, "..") ||
				strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
				t.Fatalf("accepted subject %q", s)
			}
		}
		if len(e.Plan) > 0 && e.Plan[0] != '{' && string(e.Plan) != "null" {
			t.Fatalf("accepted a non-object plan %q", e.Plan)
		}
		if e.Schedule != nil {
			for _, pc := range e.Schedule.PCs {
				if !independentToken(pc, 128) {
					t.Fatalf("accepted schedule pc %q", pc)
				}
			}
		}
		roundTrip(t, e, DecodeExecRequested)
	})
}
