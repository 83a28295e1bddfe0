package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/apiv1"
	"github.com/kanade-fleet/kanade/internal/auth"
	"github.com/kanade-fleet/kanade/internal/check"
	"github.com/kanade-fleet/kanade/internal/cursor"
	"github.com/kanade-fleet/kanade/internal/release/exe/exetest"
	"github.com/kanade-fleet/kanade/internal/server"
	"github.com/kanade-fleet/kanade/internal/store"
	"github.com/kanade-fleet/kanade/internal/testenv"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// walkAPI follows X-Next-Cursor from path (which has its own query) with
// limit rows a page and returns every row's raw JSON, in order.
func walkAPI(t *testing.T, b *server.Server, path string, limit int) []string {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	var out []string
	next := ""
	for pages := 0; pages < 1000; pages++ {
		p := fmt.Sprintf("%s%slimit=%d", path, sep, limit)
		if next != "" {
			p += "&cursor=" + url.QueryEscape(next)
		}
		r := must(t, call(t, b, "GET", p, "", nil), 200)
		var rows []json.RawMessage
		r.json(t, &rows)
		for _, row := range rows {
			out = append(out, string(row))
		}
		next = r.hdr.Get(cursor.HeaderNext)
		if next == "" {
			return out
		}
		if len(rows) != limit {
			t.Fatalf("%s: short page (%d of %d) with a next cursor", p, len(rows), limit)
		}
	}
	t.Fatalf("%s: cursor walk does not end", path)
	return nil
}

func TestCursorPagingEveryList(t *testing.T) {
	b := testenv.Backend(t, nil)
	seedEveryList(t, b)
	for _, e := range apiv1.Endpoints {
		if e.Method != "GET" || !e.List || strings.Contains(e.Path, "{") {
			continue
		}
		r := call(t, b, "GET", e.Path+"?limit=1000", "", nil)
		if r.status != 200 {
			t.Logf("%s: %d (not served by this backend), skipped", e.Path, r.status)
			continue
		}
		if r.hdr.Get(cursor.HeaderNext) != "" {
			t.Errorf("%s?limit=1000: the only page has X-Next-Cursor", e.Path)
		}
		var all []json.RawMessage
		r.json(t, &all)
		want := make([]string, len(all))
		for i, row := range all {
			want[i] = string(row)
		}
		if len(want) < 2 {
			t.Errorf("%s: seed %d rows, want at least 2 to page", e.Path, len(want))
		}
		for _, limit := range []int{1, 2} {
			if got := walkAPI(t, b, e.Path, limit); !slices.Equal(got, want) {
				t.Errorf("%s: cursor walk by %d:\n got %v\nwant %v", e.Path, limit, got, want)
			}
		}
		t.Logf("%s: %d rows walked", e.Path, len(want))
	}
	// Filters stay with the cursor.
	got := walkAPI(t, b, "/api/results?status=failure&job_id=job2", 3)
	if len(got) != 11 {
		t.Errorf("filtered walk: %d rows, want 11", len(got))
	}
}

func TestPagingErrors(t *testing.T) {
	b := testenv.Backend(t, nil)
	seed(t, b)
	r := must(t, call(t, b, "GET", "/api/results?limit=1", "", nil), 200)
	if r.hdr.Get("X-Total-Count") != "2" || r.hdr.Get(cursor.HeaderEstimated) != "" {
		t.Errorf("small table: X-Total-Count %q estimated %q, want exact 2", r.hdr.Get("X-Total-Count"), r.hdr.Get(cursor.HeaderEstimated))
	}
	next := url.QueryEscape(r.hdr.Get(cursor.HeaderNext))
	if next == "" {
		t.Fatal("no X-Next-Cursor on the first of two pages")
	}
	must(t, call(t, b, "GET", "/api/results?offset=10000", "", nil), 200)
	for _, c := range []struct{ path, field, msg string }{
		{"/api/results?offset=10001", "offset", "cursor"},
		{"/api/agents?offset=20000", "offset", "cursor"},
		{"/api/audit?offset=1000000", "offset", "cursor"},
		{"/api/jobs?offset=10001", "offset", "cursor"},
		{"/api/results?cursor=not-a-cursor", "cursor", "malformed"},
		{"/api/results?cursor=" + url.QueryEscape("eyJmIjoiIiwiayI6W119"), "cursor", "malformed"}, // {"f":"","k":[]}
		{"/api/results?status=success&cursor=" + next, "cursor", "other filters"},
		{"/api/executions?cursor=" + next, "cursor", "other filters"},
		{"/api/results?offset=5&cursor=" + next, "offset", "cursor"},
		{"/api/accounts?offset=10001", "offset", "cursor"},
	} {
		r := must(t, call(t, b, "GET", c.path, "", nil), 400)
		var eb apiv1.ErrorBody
		r.json(t, &eb)
		if eb.Field != c.field || !strings.Contains(eb.Error, c.msg) {
			t.Errorf("%s: %+v, want field %s and a message naming %q", c.path, eb, c.field, c.msg)
		}
	}
}

// seedEveryList gives every list endpoint at least two rows (seed, then
// more results, jobs, schedules, executions, accounts, tokens, releases
// and operator credentials).
func seedEveryList(t *testing.T, b *server.Server) {
	t.Helper()
	seed(t, b)
	ctx := context.Background()
	now := time.Now().UTC()
	var rs []store.Result
	for i := range 23 {
		rs = append(rs, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("rr-%02d", i), RequestID: "q", ExecID: "e2",
			PCID: fmt.Sprintf("pc-%d", i%5), ManifestID: "job2", Version: "1", ExitCode: i % 2, StartedAt: now, FinishedAt: now},
			RecordedAt: now.Add(-time.Duration(i/4) * time.Second)}) // ties in recorded_at
	}
	if _, err := b.DB.ApplyResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		must(t, call(t, b, "POST", "/api/jobs", "application/yaml",
			fmt.Sprintf("id: job-%d\nversion: \"1\"\nexecute:\n  shell: sh\n  script: echo %d\n  timeout: 60s\n", i, i)), 201)
		must(t, call(t, b, "POST", "/api/schedules", "application/yaml",
			fmt.Sprintf("id: s-%d\njob_id: job-%d\nenabled: false\nwhen: {calendar: {at: \"03:00\", days: [mon]}}\ntarget: {pcs: [pc-0]}\n", i, i)), 201)
	}
	for i := range 3 {
		if err := b.DB.CreateExecution(ctx, apiv1.Execution{ExecID: fmt.Sprintf("ex-%d", i), JobID: "job1", Version: "1",
			InitiatedBy: "bob", InitiatedAt: now.Add(-time.Hour), TargetCount: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Auth.Users().Create(ctx, auth.NewUser{Username: fmt.Sprintf("user-%d", i),
			Password: "correct horse battery staple", Role: auth.RoleViewer}); err != nil {
			t.Fatal(err)
		}
		// 503 where this backend does not enroll (no identity): then the
		// list is not served either and is skipped below.
		call(t, b, "POST", "/api/enrollment-tokens", "", apiv1.CreateEnrollmentTokenRequest{Groups: []string{"lab"}})
		must(t, call(t, b, "POST", fmt.Sprintf("/api/releases?version=1.0.%d&os=linux&arch=amd64", i), "application/octet-stream",
			string(exetest.ELF("amd64"))), 201)
		// Issuing needs broker identity; the list is the store's either way.
		if err := b.DB.InsertOperatorCred(ctx, store.OperatorCred{PublicKey: fmt.Sprintf("UKEY%d", i), Name: "laptop",
			CreatedBy: "bob", CreatedAt: now.Add(-time.Duration(i/2) * time.Second)}); err != nil { // a tie in created_at
			t.Fatal(err)
		}
	}
	// Check results: 2 checks on 3 PCs, failing then (pc-0) passing, so
	// both checks list, alerts tie in opened_at, and resolved ones exist.
	for i, v := range []check.Verdict{check.Fail, check.Pass} {
		var cr []store.Result
		for c := range 2 {
			for pc := range 3 {
				verdict := v
				if pc > 0 {
					verdict = check.Fail
				}
				cr = append(cr, store.Result{ExecResult: wire.ExecResult{ResultID: fmt.Sprintf("ck-%d-%d-%d", i, c, pc), RequestID: "q",
					ExecID: "e3", PCID: fmt.Sprintf("pc-%d", pc), ManifestID: fmt.Sprintf("chk-%d", c), Version: "1", StartedAt: now, FinishedAt: now},
					RecordedAt: now.Add(time.Duration(i) * time.Second), Check: &store.CheckEval{Verdict: verdict, Severity: "warning", FlapThreshold: 1}})
			}
		}
		if _, err := b.DB.ApplyResults(ctx, cr); err != nil {
			t.Fatal(err)
		}
	}
	// Facts of 3 PCs, each reported twice with two changed fields: history
	// rows tie in at.
	for i := range 3 {
		pc := fmt.Sprintf("pc-%d", i)
		for seq, v := range []string{"1", "2"} {
			if _, err := b.DB.ApplyFacts(ctx, []store.FactsReport{{Inventory: wire.Inventory{PCID: pc, CollectedAt: now.Add(-time.Duration(i/2) * time.Second),
				Facts: wire.Facts{Hostname: "h" + v, OSVersion: v}}, Seq: uint64(10*i + seq + 1)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Notification channels and delivery attempts (ties in at).
	for i := range 3 {
		must(t, call(t, b, "POST", "/api/notification-channels", "", apiv1.NotificationChannelInput{ID: fmt.Sprintf("ch-%d", i),
			Name: "Hook", Type: "webhook", URL: "https://hooks.example.org/k", Secret: "s"}), 201)
	}
	var attempts []store.NotifyAttempt
	for i := range 5 {
		attempts = append(attempts, store.NotifyAttempt{Seq: uint64(i + 1), NotifyAttempt: wire.NotifyAttempt{DeliveryID: fmt.Sprintf("n%d", i),
			ChannelID: "ch-0", Attempt: 1, Status: wire.AttemptDelivered, At: now.Add(-time.Duration(i/2) * time.Second)}})
	}
	if err := b.DB.InsertNotifyAttempts(ctx, attempts); err != nil {
		t.Fatal(err)
	}
}
