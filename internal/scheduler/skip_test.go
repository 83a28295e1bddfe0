package scheduler_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/scheduler"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// A scheduled fire whose target reaches no known PC goes through the real
// fan-out, is refused there, and is skipped: audited as schedule.skip with
// the reason, no executions row, and the next tick tries again.
func TestFireWithNoTargetsIsSkipped(t *testing.T) {
	rc := &recorder{}
	b, svc := startBackend(t, rc, "b1", scheduler.Options{}, func(c *server.Config) { c.Dispatcher = nil })
	waitLeader(t, svc)
	putJob(t, b, "hello")
	mustDo(t, "POST", b.HTTPURL()+"/api/schedules", `
id: to-nobody
job_id: hello
tz: utc
when:
  cron: "* * * * * *"
target: {groups: [nobody]}
`, 201)
	var audit []map[string]any
	testenv.Eventually(t, 20*time.Second, "two skipped fires audited", func() bool {
		_ = json.Unmarshal(mustDo(t, "GET", b.HTTPURL()+"/api/audit?action="+scheduler.ActionSkip, "", 200), &audit)
		return len(audit) >= 2
	})
	if audit[0]["target"] != "to-nobody" || audit[0]["actor"] != scheduler.Actor {
		t.Fatalf("audit row: %v", audit[0])
	}
	if p, _ := json.Marshal(audit[0]["payload"]); !strings.Contains(string(p), "nobody") {
		t.Fatalf("the skip does not name the group: %s", p)
	}
	rows, _, err := b.DB.ListExecutions(context.Background(), store.ExecFilter{}, store.Page{Limit: 10})
	if err != nil || len(rows) != 0 {
		t.Fatalf("a skipped fire left executions: %v %v", rows, err)
	}
}
