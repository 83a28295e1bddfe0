package store_test

import (
	"testing"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// paused/resumed keep the newest (by seq) whatever the order they arrive
// in or how often; halted applies once and wins over paused.
func TestExecRolloutState(t *testing.T) {
	eachDB(t, true, func(t *testing.T, db *store.DB) {
		hold := func(kind string, seq int64) wire.ExecRequested {
			return wire.ExecRequested{Kind: kind, ExecID: "r1", Seq: seq}
		}
		applyExec(t, db, requested("r1", 1, 2), fanout("r1", 0))
		if e := execRow(t, db, "r1"); e.RolloutState != apiv1.RolloutWaiting || e.PendingWaves != 2 {
			t.Fatalf("new rollout %+v", e)
		}
		// The API applies pause then resume at once; the projector's late
		// copy of the pause changes nothing.
		applyExec(t, db, hold(wire.ExecPausedKind, 10), hold(wire.ExecResumedKind, 20), hold(wire.ExecPausedKind, 10))
		if e := execRow(t, db, "r1"); e.RolloutState != apiv1.RolloutWaiting {
			t.Fatalf("after resume: %+v", e)
		}
		applyExec(t, db, hold(wire.ExecPausedKind, 30))
		if e := execRow(t, db, "r1"); e.RolloutState != apiv1.RolloutPaused {
			t.Fatalf("after pause: %+v", e)
		}
		applyExec(t, db, wire.ExecRequested{Kind: wire.ExecHaltedKind, ExecID: "r1", Reason: "2 failures ≥ halt_on.failures 2"},
			wire.ExecRequested{Kind: wire.ExecHaltedKind, ExecID: "r1", Reason: "other"},
			wire.ExecRequested{Kind: wire.ExecWaveCancelledKind, ExecID: "r1", Wave: 1},
			wire.ExecRequested{Kind: wire.ExecWaveCancelledKind, ExecID: "r1", Wave: 2})
		e := execRow(t, db, "r1")
		if e.RolloutState != apiv1.RolloutHalted || e.HaltReason != "2 failures ≥ halt_on.failures 2" || e.PendingWaves != 0 {
			t.Fatalf("halted: %+v", e)
		}
	})
}
