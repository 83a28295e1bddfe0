package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// ExecRequested kinds. The first message of an execution is "requested"
// and carries the whole row; the others change it, each at most once.
const (
	// ExecRequestedKind is the execution itself (SPEC §11).
	ExecRequestedKind = "requested"
	// ExecWaveSentKind: a later wave went out to TargetsAdded more targets.
	ExecWaveSentKind = "wave_sent"
	// ExecWaveCancelledKind: a later wave will never go out.
	ExecWaveCancelledKind = "wave_cancelled"
	// ExecFanoutKind: how the first fan-out ended (subjects sent and failed).
	ExecFanoutKind = "fanout"
	// ExecPausedKind, ExecResumedKind: an operator held or released the
	// pending waves (Seq orders them; the newest wins).
	ExecPausedKind  = "paused"
	ExecResumedKind = "resumed"
	// ExecHaltedKind: halt_on stopped the later waves; Reason says why.
	ExecHaltedKind = "halted"
)

// Bounds of an ExecRequested. Subjects are commands.* subjects; a pcs plan
// has one per PC, so the list is long but bounded by the message size.
const (
	MaxExecSubjects   = 200000
	MaxSubjectLen     = 256
	MaxExecTargets    = 10000000
	MaxExecWaves      = 1024 // well over manifest.MaxWaves
	MaxExecPlanBytes  = 4 << 20
	MaxInitiatedByLen = MaxTextLen
)

// ExecRequested is published on execs.<exec_id> (stream EXECS) by the
// backend before any Command of the execution, and awaited (PubAck): the
// executions projector rebuilds the executions row from these messages
// alone. Each message's id (MsgID) makes a retried publish a duplicate the
// stream drops.
type ExecRequested struct {
	Kind        string          `json:"kind"`
	ExecID      string          `json:"exec_id"`
	JobID       string          `json:"job_id"`
	Version     string          `json:"version,omitempty"`
	InitiatedBy string          `json:"initiated_by,omitempty"`
	InitiatedAt time.Time       `json:"initiated_at,omitzero"`
	TargetCount int             `json:"target_count,omitempty"`
	Plan        json.RawMessage `json:"plan,omitempty"`
	// Wave is the index in plan.rollout.waves of a wave_sent or
	// wave_cancelled message (0 otherwise).
	Wave int `json:"wave"`
	// PendingWaves (requested): later waves kept in KV waves.
	PendingWaves int `json:"pending_waves,omitempty"`
	// TargetsAdded (wave_sent): live targets the wave reached.
	TargetsAdded int `json:"targets_added,omitempty"`
	// SubjectsSent, SubjectsFailed (fanout): the first fan-out's subjects
	// the broker acknowledged, and those it did not (in plan order; the
	// fan-out stops at the first failure, so the rest were not attempted).
	SubjectsSent   int      `json:"subjects_sent,omitempty"`
	SubjectsFailed []string `json:"subjects_failed,omitempty"`
	// TargetsLost (fanout): targets counted in TargetCount that only the
	// failed subjects reached; WavesLost: later waves that could not be
	// stored and will never go out.
	TargetsLost int `json:"targets_lost,omitempty"`
	WavesLost   int `json:"waves_lost,omitempty"`
	// Schedule (requested, scheduled fires): the schedule and, for per_pc
	// schedules, the PCs dispatched to (schedule_dispatches rows).
	Schedule *ExecSchedule `json:"schedule,omitempty"`
	// Seq (paused, resumed): when it was decided, in Unix nanoseconds; the
	// projection keeps the newest.
	Seq int64 `json:"seq,omitempty"`
	// Reason (halted): why the rollout stopped.
	Reason string `json:"reason,omitempty"`
}

// ExecSchedule links a scheduled execution to its schedule.
type ExecSchedule struct {
	ID           string    `json:"id"`
	PCs          []string  `json:"pcs,omitempty"`
	DispatchedAt time.Time `json:"dispatched_at,omitzero"`
}

// MsgID is the message's Nats-Msg-Id: one per (execution, fact), so a
// publish retried after a lost PubAck is dropped by the stream. A wave's
// sent and cancelled messages share an id: a wave has one fate.
func (e ExecRequested) MsgID() string {
	switch e.Kind {
	case ExecWaveSentKind, ExecWaveCancelledKind:
		return "exec." + e.ExecID + ".wave." + strconv.Itoa(e.Wave)
	case ExecPausedKind, ExecResumedKind:
		return "exec." + e.ExecID + "." + e.Kind + "." + strconv.FormatInt(e.Seq, 10)
	default:
		return "exec." + e.ExecID + "." + e.Kind
	}
}

// DecodeExecRequested decodes and validates an ExecRequested.
func DecodeExecRequested(data []byte) (ExecRequested, error) {
	var e ExecRequested
	if err := decode(data, &e); err != nil {
		return e, err
	}
	switch e.Kind {
	case ExecRequestedKind, ExecWaveSentKind, ExecWaveCancelledKind, ExecFanoutKind, ExecHaltedKind:
	case ExecPausedKind, ExecResumedKind:
		if e.Seq <= 0 {
			return e, invalid("seq", "is required")
		}
	case "":
		return e, invalid("kind", "is required")
	default:
		return e, invalid("kind", fmt.Sprintf("%.40q is not requested, wave_sent, wave_cancelled, fanout, paused, resumed or halted", e.Kind))
	}
	if len(e.Reason) > MaxTextLen {
		return e, invalid("reason", fmt.Sprintf("must be at most %d bytes", MaxTextLen))
	}
	if err := checkIDs(idField{"exec_id", e.ExecID, true}, idField{"job_id", e.JobID, e.Kind == ExecRequestedKind}); err != nil {
		return e, err
	}
	if e.JobID != "" && !ValidID(e.JobID) {
		return e, invalid("job_id", fmt.Sprintf("%.40q breaks the id rules", e.JobID))
	}
	if !validVersion(e.Version) {
		return e, invalid("version", fmt.Sprintf("must be at most %d bytes without spaces or control characters", MaxVersionLen))
	}
	if len(e.InitiatedBy) > MaxInitiatedByLen {
		return e, invalid("initiated_by", fmt.Sprintf("must be at most %d bytes", MaxInitiatedByLen))
	}
	if e.Kind == ExecRequestedKind && e.InitiatedAt.IsZero() {
		return e, invalid("initiated_at", "is required")
	}
	for _, n := range []struct {
		field string
		v     int
		max   int
	}{{"target_count", e.TargetCount, MaxExecTargets}, {"targets_added", e.TargetsAdded, MaxExecTargets},
		{"targets_lost", e.TargetsLost, MaxExecTargets}, {"subjects_sent", e.SubjectsSent, MaxExecSubjects},
		{"wave", e.Wave, MaxExecWaves}, {"pending_waves", e.PendingWaves, MaxExecWaves}, {"waves_lost", e.WavesLost, MaxExecWaves}} {
		if n.v < 0 || n.v > n.max {
			return e, invalid(n.field, fmt.Sprintf("must be between 0 and %d", n.max))
		}
	}
	if len(e.Plan) > MaxExecPlanBytes {
		return e, invalid("plan", fmt.Sprintf("must be at most %d bytes", MaxExecPlanBytes))
	}
	if len(e.Plan) > 0 && e.Plan[0] != '{' && string(e.Plan) != "null" {
		return e, invalid("plan", "must be an object")
	}
	if len(e.SubjectsFailed) > MaxExecSubjects {
		return e, invalid("subjects_failed", fmt.Sprintf("at most %d subjects", MaxExecSubjects))
	}
	for _, s := range e.SubjectsFailed {
		if !validSubject(s) {
			return e, invalid("subjects_failed", fmt.Sprintf("%.40q is not a command subject", s))
		}
	}
	if sc := e.Schedule; sc != nil {
		if !ValidID(sc.ID) {
			return e, invalid("schedule.id", fmt.Sprintf("%.40q breaks the id rules", sc.ID))
		}
		if len(sc.PCs) > MaxExecTargets {
			return e, invalid("schedule.pcs", fmt.Sprintf("at most %d pcs", MaxExecTargets))
		}
		for _, pc := range sc.PCs {
			if !ValidPCID(pc) {
				return e, invalid("schedule.pcs", fmt.Sprintf("%.40q is not a valid pc_id", pc))
			}
		}
		if len(sc.PCs) > 0 && sc.DispatchedAt.IsZero() {
			return e, invalid("schedule.dispatched_at", "is required with pcs")
		}
	}
	return e, nil
}

// validSubject is a literal subject of tokens (no wildcards, no empty
// token), at most MaxSubjectLen bytes.
func validSubject(s string) bool {
	if s == "" || len(s) > MaxSubjectLen {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if !ValidToken(s[start:i], MaxSubjectLen) {
				return false
			}
			start = i + 1
		}
	}
	return true
}
