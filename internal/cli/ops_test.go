package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/testenv"
)

// withOrchestration is a no-op kept for readability: every server runs
// the routes and services of cmd/kanade-backend (scheduler and waves too).
func withOrchestration(*server.Config) {}

const jobsYAML = `id: hello
version: 1.0.0
description: Say hello
tags: [demo]
execute:
  shell: sh
  script: echo "hello from $KANADE_PC_ID"
  timeout: 30s
---
# pc-b fails on purpose
id: picky
version: "2"
execute:
  shell: sh
  script: |
    echo "checking $KANADE_PC_ID"
    if [ "$KANADE_PC_ID" = pc-b ]; then echo "pc-b is not ok" >&2; exit 4; fi
  timeout: 30s
`

const badYAML = `id: broken
version: 1.0.0
execute:
  shell: sh
  script: echo hi
  timout: 30s
---
id: fine
version: 1.0.0
execute:
  shell: sh
  script: echo fine
  timeout: 1m
`

const scheduleYAML = `id: nightly-hello
job_id: hello
tz: utc
cron: "0 3 * * *"
target:
  all: true
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fromResults is the output of exec --wait from its results table on (the
// progress lines before it depend on timing): the table and the summary.
func fromResults(t *testing.T, s string) string {
	t.Helper()
	i := strings.Index(s, "RESULT_ID")
	if i < 0 {
		t.Fatalf("no results table in:\n%s", s)
	}
	return s[i:]
}

// lastBlock is the output after the last blank line.
func lastBlock(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndex(s, "\n\n"); i >= 0 {
		return s[i+2:] + "\n"
	}
	return s + "\n"
}

func TestOrchestration(t *testing.T) {
	needSh(t)
	e := newEnv(t, withOrchestration)
	e.needRoute("GET", "/api/jobs")
	e.startAgent("pc-a")
	e.startAgent("pc-b")
	good := writeFiles(t, map[string]string{"jobs/all.yaml": jobsYAML, "jobs/notes.txt": "ignored"})
	bad := writeFiles(t, map[string]string{"bad.yaml": badYAML})

	t.Run("job validate", func(t *testing.T) {
		out := e.ok("job", "validate", filepath.Join(good, "jobs"))
		golden(t, "job_validate", normalize(out, good, "<dir>"))
		r := e.cli("job", "validate", filepath.Join(bad, "*.yaml"))
		if r.code != 1 || !strings.Contains(r.out, "execute.timout") || !strings.Contains(r.err, "1 of 2 documents failed") {
			t.Fatalf("validate bad: %+v", r)
		}
		golden(t, "job_validate_bad", normalize(r.out, bad, "<dir>"))
		var rows []docResult
		if r := e.cli("job", "validate", bad, "-o", "json"); r.code != 1 || !strings.Contains(r.out, `"action": "invalid"`) {
			t.Fatalf("validate -o json: %+v", r)
		}
		_ = rows
		if r := e.cli("job", "validate", filepath.Join(bad, "nothing*.yaml")); r.code != 1 || !strings.Contains(r.err, "no file matches") {
			t.Fatalf("validate no match: %+v", r)
		}
	})

	t.Run("job apply", func(t *testing.T) {
		out := e.ok("job", "apply", filepath.Join(good, "jobs", "*.yaml"))
		golden(t, "job_apply", normalize(out, good, "<dir>"))
		// One bad document does not stop the good one; the exit is 1.
		r := e.cli("job", "apply", bad)
		if r.code != 1 || !strings.Contains(r.out, "applied") || !strings.Contains(r.out, "invalid") {
			t.Fatalf("apply bad: %+v", r)
		}
		golden(t, "job_list", normalize(e.ok("job", "list")))
		var jobs []apiv1.Job
		e.jsonOK(&jobs, "job", "list")
		if len(jobs) != 3 || jobs[0].ID != "fine" || jobs[1].ID != "hello" || jobs[1].Execute.Timeout != "30s" {
			t.Fatalf("job list -o json: %+v", jobs)
		}
		show := e.ok("job", "show", "hello")
		if !strings.Contains(show, "description:     Say hello") && !strings.Contains(show, "Say hello") {
			t.Fatalf("job show:\n%s", show)
		}
		e.ok("job", "delete", "fine")
		if r := e.cli("job", "delete", "fine"); r.code != 1 || r.err != "kanade: no job fine\n" {
			t.Fatalf("delete twice: %+v", r)
		}
	})

	t.Run("exec wait ok", func(t *testing.T) {
		r := e.cli("exec", "hello", "--pc", "pc-a", "--pc", "pc-b", "--wait", "--wait-timeout", "60s")
		if r.code != 0 {
			t.Fatalf("exec --wait: %+v", r)
		}
		if !strings.Contains(r.out, "2/2 done  ok 2  failed 0  skipped 0  running 0  [completed]") {
			t.Fatalf("no final progress line:\n%s", r.out)
		}
		if !strings.HasSuffix(r.out, "\nsummary: 2 results in 2 groups\n[1] success, exit 0: pc-a\n    stdout: hello from pc-a\n[1] success, exit 0: pc-b\n    stdout: hello from pc-b\n") {
			t.Fatalf("exec --wait does not end with the summary:\n%s", r.out)
		}
		golden(t, "exec_wait_ok", normalize(fromResults(t, r.out)))
	})

	t.Run("exec wait failure", func(t *testing.T) {
		r := e.cli("exec", "picky", "--all", "--wait", "--wait-timeout", "60s")
		if r.code != 1 || !strings.Contains(r.err, "1 of 2 targets failed") {
			t.Fatalf("exec --wait with a failure: %+v", r)
		}
		golden(t, "exec_wait_failed", normalize(fromResults(t, r.out)))
		// On a terminal the progress line is redrawn in place.
		e.tty = true
		r = e.cli("exec", "picky", "--pc", "pc-b", "--wait", "--wait-timeout", "60s")
		e.tty = false
		if r.code != 1 || !strings.Contains(r.out, "\r\033[K") {
			t.Fatalf("exec --wait on a tty: %+v", r)
		}
	})

	t.Run("exec json and executions", func(t *testing.T) {
		var er apiv1.ExecResponse
		e.jsonOK(&er, "exec", "hello", "--all", "--jitter", "1s")
		if er.ExecID == "" || er.JobID != "hello" || er.TargetCount != 2 || er.Version != "1.0.0" {
			t.Fatalf("exec -o json: %+v", er)
		}
		testenv.Eventually(t, 30*time.Second, "execution completed", func() bool {
			var d apiv1.ExecutionDetail
			e.jsonOK(&d, "executions", "show", er.ExecID)
			return d.Status == "completed" && d.SuccessCount == 2
		})
		out := e.ok("executions", "show", er.ExecID)
		golden(t, "executions_show", normalize(out))
		var rows []apiv1.Execution
		e.jsonOK(&rows, "executions", "list", "--job", "picky")
		if len(rows) != 2 || rows[0].FailureCount != 1 {
			t.Fatalf("executions list: %+v", rows)
		}
		golden(t, "executions_list", normalize(e.ok("executions", "list", "--job", "picky")))
		var res []apiv1.Result
		e.jsonOK(&res, "results", "list", "--job", "picky", "--status", "failure")
		if len(res) != 2 || res[0].PCID != "pc-b" || res[0].ExitCode == nil || *res[0].ExitCode != 4 {
			t.Fatalf("failed results: %+v", res)
		}
		// -o wide adds the last line of stderr.
		if wide := e.ok("results", "list", "--job", "picky", "--status", "failure", "-o", "wide"); !strings.Contains(wide, "STDERR") ||
			!strings.Contains(wide, "pc-b is not ok") || res[0].StderrExcerpt != "pc-b is not ok" {
			t.Fatalf("results list -o wide:\n%s\n%+v", wide, res[0])
		}
		var groups []apiv1.ResultGroup
		e.jsonOK(&groups, "executions", "summary", rows[0].ExecID)
		if len(groups) != 1 || groups[0].PCs[0] != "pc-b" || groups[0].SampleStderr != "pc-b is not ok\n" {
			t.Fatalf("executions summary -o json: %+v", groups)
		}
		show := e.ok("results", "show", res[0].ResultID)
		if !strings.Contains(show, "--- stderr ---\npc-b is not ok\n") {
			t.Fatalf("results show:\n%s", show)
		}
	})

	t.Run("groups", func(t *testing.T) {
		golden(t, "groups_add", normalize(e.ok("groups", "add", "pc-a", "canary")))
		e.ok("groups", "set", "pc-b", "web", "canary")
		e.ok("groups", "rm", "pc-b", "canary")
		testenv.Eventually(t, 20*time.Second, "groups projected", func() bool {
			var g []struct {
				Group   string   `json:"group"`
				Members []string `json:"members"`
			}
			e.jsonOK(&g, "groups", "list")
			return len(g) == 2 && len(g[0].Members) == 1 && len(g[1].Members) == 1
		})
		golden(t, "groups_list_members", normalize(e.ok("groups", "list")))
		var pg struct {
			Groups []string `json:"groups"`
		}
		e.jsonOK(&pg, "groups", "list", "--pc", "pc-b")
		if len(pg.Groups) != 1 || pg.Groups[0] != "web" {
			t.Fatalf("groups of pc-b: %+v", pg)
		}
		r := e.cli("groups", "add", "pc-a", "bad.group")
		if r.code != 1 || !strings.Contains(r.err, "group") || strings.Count(r.err, "\n") != 1 {
			t.Fatalf("422: %+v", r)
		}
		// The agents pick their groups up live (KV change notification);
		// then a group exec reaches them.
		testenv.Eventually(t, 30*time.Second, "agents see their groups", func() bool {
			return slices.Equal(e.agents["pc-a"].Groups(), []string{"canary"}) && slices.Equal(e.agents["pc-b"].Groups(), []string{"web"})
		})
		r = e.cli("exec", "hello", "--group", "canary", "--wait", "--wait-timeout", "60s")
		if r.code != 0 || !strings.Contains(r.out, "1/1 done") {
			t.Fatalf("exec --group: %+v", r)
		}
		r = e.cli("exec", "hello", "--wave", "group=canary,delay=0", "--wave", "group=web,delay=1s", "--wait", "--wait-timeout", "60s")
		if r.code != 0 || !strings.Contains(r.out, "ok 2") {
			t.Fatalf("exec --wave: %+v", r)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		if out := e.ok("revoke", "hello"); out != "job hello is now REVOKED\n" {
			t.Fatalf("revoke: %q", out)
		}
		var jobs []apiv1.Job
		e.jsonOK(&jobs, "job", "list")
		if jobs[0].Status != "REVOKED" {
			t.Fatalf("after revoke: %+v", jobs[0])
		}
		e.ok("unrevoke", "hello")
	})

	t.Run("config", func(t *testing.T) {
		e.ok("config", "set", "heartbeat_interval=15s", "max_local_concurrent=3")
		e.ok("config", "set", "max_local_concurrent=2", "--group", "canary")
		e.ok("config", "set", "outbox_max_entries=500", "--pc", "pc-a")
		golden(t, "config_get", normalize(e.ok("config", "get")))
		e.ok("config", "unset", "max_local_concurrent")
		var s map[string]any
		e.jsonOK(&s, "config", "get")
		if len(s) != 1 || s["heartbeat_interval"] != "15s" {
			t.Fatalf("config get -o json: %v", s)
		}
		golden(t, "config_effective", normalize(e.ok("config", "effective", "pc-a")))
		if out := e.ok("config", "clear", "--pc", "pc-a"); out != "cleared the config of pc pc-a\n" {
			t.Fatalf("config clear: %q", out)
		}
		if r := e.cli("config", "clear"); r.code != 2 {
			t.Fatalf("config clear without scope: %+v", r)
		}
		if r := e.cli("config", "set", "heartbeat_interval=2h"); r.code != 2 || !strings.Contains(r.err, "heartbeat_interval") {
			t.Fatalf("bad value: %+v", r)
		}
	})

	t.Run("freeze", func(t *testing.T) {
		if out := e.ok("freeze", "show"); out != "frozen: no\n" {
			t.Fatalf("freeze show: %q", out)
		}
		golden(t, "freeze_set", normalize(e.ok("freeze", "set", "--reason", "year-end", "--until", "48h")))
		var f map[string]any
		e.jsonOK(&f, "freeze", "show")
		if f["frozen"] != true || f["reason"] != "year-end" {
			t.Fatalf("freeze -o json: %v", f)
		}
		e.ok("freeze", "clear")
		if out := e.ok("freeze", "show"); out != "frozen: no\n" {
			t.Fatalf("after clear: %q", out)
		}
	})

	t.Run("schedules", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"s.yaml": scheduleYAML})
		e.ok("schedule", "validate", dir)
		e.ok("schedule", "apply", dir)
		golden(t, "schedule_list", normalize(e.ok("schedule", "list")))
		r := e.cli("job", "delete", "hello")
		if r.code != 1 || !strings.Contains(r.err, "HTTP 409") {
			t.Fatalf("delete a scheduled job: %+v", r)
		}
		e.ok("schedule", "disable", "nightly-hello")
		var rows []apiv1.ScheduleRow
		e.jsonOK(&rows, "schedule", "list")
		if len(rows) != 1 || rows[0].Enabled {
			t.Fatalf("after disable: %+v", rows)
		}
		e.ok("schedule", "enable", "nightly-hello")
		e.ok("schedule", "delete", "nightly-hello")
		e.ok("job", "delete", "hello")
		bad := writeFiles(t, map[string]string{"s.yaml": strings.Replace(scheduleYAML, "job_id: hello", "job_id: nope", 1)})
		r = e.cli("schedule", "apply", bad)
		if r.code != 1 || !strings.Contains(r.out, "failed") {
			t.Fatalf("schedule of a missing job: %+v", r)
		}
	})
}
