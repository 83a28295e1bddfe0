package projector_test

import (
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/projector"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/testenv/testdb"
)

func resultsStatus(e *env) projector.Status {
	for _, s := range e.b.Projectors.Statuses() {
		if s.Consumer == bus.ConsumerResults {
			return s
		}
	}
	e.t.Fatal("no results projector")
	return projector.Status{}
}

// A message that keeps failing keeps its projector failing, even while
// other messages are applied around it, until it is applied itself.
func TestFailingProjectorIsVisible(t *testing.T) {
	if testdb.PostgresSelected() {
		t.Skip("SKIP: the failure is injected with an SQLite trigger")
	}
	e := start(t)
	e.result(result("ok-1", "e1", "pc1", 0))
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results")
	// The status is recorded just after the commit (and the acks) that the
	// count sees: wait for it rather than race it.
	testenv.Eventually(t, 10*time.Second, "a recorded success", func() bool { return !resultsStatus(e).LastSuccess.IsZero() })
	if s := resultsStatus(e); s.LastSuccess.IsZero() || !s.FailingSince.IsZero() {
		t.Fatalf("healthy projector: %+v", s)
	}
	store.TestExec(t, e.b.DB, `CREATE TRIGGER poison BEFORE INSERT ON execution_results WHEN NEW.result_id = 'poison'
		BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
	e.result(result("poison", "e1", "pc2", 0))
	testenv.Eventually(t, 10*time.Second, "results projector failing", func() bool { return !resultsStatus(e).FailingSince.IsZero() })
	since := resultsStatus(e).FailingSince
	// Healthy messages keep flowing; the failure stays, with its first time.
	e.result(result("ok-2", "e1", "pc3", 0))
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results WHERE result_id = 'ok-2'")
	s := resultsStatus(e)
	if !s.FailingSince.Equal(since) || s.LastError == "" {
		t.Fatalf("after a healthy batch: %+v (failing since %s)", s, since)
	}
	store.TestExec(t, e.b.DB, `DROP TRIGGER poison`)
	e.waitCount(1, "SELECT COUNT(*) FROM execution_results WHERE result_id = 'poison'")
	testenv.Eventually(t, 10*time.Second, "results projector healthy again", func() bool { return resultsStatus(e).FailingSince.IsZero() })
}
