package identity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const wait = 5 * time.Second

// Subjects no agent may cause a publish on in KANADE (SPEC §12), whatever
// credential of the AGENTS account it holds.
var kanadeForbidden = []string{"commands.", "kill.", "$KV.", "$O.", "execs.", "audit."}

// Another PC's subjects: forbidden to the per-user agent credential (a
// user of AGENTS without per-user permissions could publish these through
// the service imports; the per-user permissions are what stop it).
var victimForbidden = []string{"heartbeat.victim", "results.victim.", "events.started.e1.victim",
	"inventory.victim", "agents.victim.ping"}

// Reply subjects an attacker names.
var hostileReplies = []string{
	"commands.pc.victim", "commands.all", "commands.group.g1", "kill.x",
	"$KV.script_status.job", "$KV.agent_groups.victim", "$KV.agent_config.global",
	"$O.agent_releases.M.x", "execs.x", "audit.attacker.run",
	"heartbeat.victim", "results.victim.r1", "events.started.e1.victim", "agents.victim.ping",
}

// state is what must not change: stream message counts and last sequences
// per subject, KV values and revisions, the object's info.
type state map[string]string

func (e *env) snapshot() state {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := state{}
	for _, name := range []string{"EXEC", "RESULTS", "EVENTS", "AUDIT", "CANARY"} {
		s, err := e.js.Stream(ctx, name)
		if err != nil {
			e.t.Fatal(err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			e.t.Fatal(err)
		}
		st[name] = fmt.Sprintf("msgs=%d last=%d subjects=%v", info.State.Msgs, info.State.LastSeq, info.State.Subjects)
	}
	for _, b := range []string{"script_status", "script_current", "agent_groups", "agent_config", "signing_keys"} {
		kv, err := e.js.KeyValue(ctx, b)
		if err != nil {
			e.t.Fatal(err)
		}
		s, _ := kv.Status(ctx)
		st["kv "+b] = fmt.Sprintf("values=%d bytes=%d", s.Values(), s.Bytes())
		keys, _ := kv.Keys(ctx)
		for _, k := range keys {
			en, err := kv.Get(ctx, k)
			if err != nil {
				e.t.Fatal(err)
			}
			st["kv "+b+"/"+k] = fmt.Sprintf("%q rev=%d", en.Value(), en.Revision())
		}
	}
	obj, err := e.js.ObjectStore(ctx, "agent_releases")
	if err != nil {
		e.t.Fatal(err)
	}
	oi, err := obj.GetInfo(ctx, "kanade-agent-linux-amd64")
	if err != nil {
		e.t.Fatal(err)
	}
	st["obj"] = fmt.Sprintf("%s %d %s", oi.NUID, oi.Size, oi.Digest)
	return st
}

func diff(t *testing.T, before, after state, allowed ...string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v && !contains(allowed, k) {
			t.Errorf("%s changed:\n  before %s\n  after  %s", k, v, after[k])
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared: %s", k, v)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// outcome of one attack, as observed.
type outcome int

const (
	violation outcome = iota // the server refused the publish (permissions)
	inAgents                 // the server's answer arrived on the hostile subject, in AGENTS
	silent                   // nothing answers (no responder); nothing to wait for
)

type attack struct {
	name    string
	subject string
	body    string
	reply   string // hostile reply
	want    outcome
}

// run performs one attack with ag and waits for its observable outcome:
// the permissions error, or the answer landing on the reply subject in
// AGENTS (seen by the AGENTS spy).
func run(t *testing.T, ag *agent, agentsSpy *recorder, at attack) {
	t.Helper()
	if err := ag.nc.PublishMsg(&nats.Msg{Subject: at.subject, Reply: at.reply, Data: []byte(at.body)}); err != nil {
		t.Fatalf("%s: %v", at.name, err)
	}
	switch at.want {
	case violation:
		if err := ag.waitViolation(at.subject, wait); err != nil {
			t.Errorf("%s: %v", at.name, err)
		}
	case inAgents:
		if _, ok := agentsSpy.waitFor(at.reply, wait); !ok {
			t.Errorf("%s: the answer did not arrive on %s in AGENTS", at.name, at.reply)
		}
	case silent:
		if err := ag.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileAgentCannotPublishInKanade is SPEC §12's claim, tried as an
// attacker would: with a real agent credential, and with an AGENTS user
// that has no per-user permissions at all, every direct publish and every
// reply-subject trick the server answers (direct gets, the JetStream API,
// PubAcks of results and events) — and nothing is published on commands,
// kills, KV, object stores, execs, audit or another PC's subjects in
// KANADE; streams, KV and the object store are unchanged.
func TestHostileAgentCannotPublishInKanade(t *testing.T) {
	e := startEnv(t)
	e.bootstrap()

	before := e.snapshot() // before the spy: snapshots read KV through consumers
	kanadeSpy := record(t, e.backend, ">")
	root := e.rootAgentsUser()
	agentsSpy := record(t, root.nc, ">")
	victim := e.connectAgent(e.enroll("victim"))
	victimSaw := record(t, victim.nc, "commands.all", "commands.pc.victim", "commands.group.*", "kill.*",
		"agents.victim.ping", "$KV.agent_groups.victim", "$KV.agent_config.global")
	attacker := e.connectAgent(e.enroll("attacker"))

	results, events := 0, 0

	// 1. Direct publishes with the agent credential.
	for _, s := range append(append([]string{}, hostileReplies...),
		"commands.pc.attacker", "$JS.API.STREAM.PURGE.EXEC", "$JS.API.STREAM.DELETE.EXEC",
		"$JS.API.STREAM.CREATE.X", "$JS.API.CONSUMER.CREATE.EXEC", "$JS.API.STREAM.MSG.DELETE.EXEC") {
		run(t, attacker, agentsSpy, attack{name: "publish " + s, subject: s, body: `{"x":1}`, want: violation})
	}
	// Reserved replies are refused to every client: _R_ (service import
	// responses) and $JS.ACK (the one reply a service import passes
	// through unchanged, nats-server client.go processServiceImport).
	for _, r := range []string{"_R_.abc.def", "$JS.ACK.RESULTS.proj.1.1.1.0.0"} {
		if err := attacker.nc.PublishRequest("results.attacker.r0", r, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if err := attacker.waitViolation(r, wait); err != nil {
			t.Errorf("reply %s: %v", r, err)
		}
	}

	// 2. Every request the server answers, with every hostile reply.
	for _, r := range hostileReplies {
		for _, at := range []attack{
			{name: "own direct get", subject: "$JS.API.DIRECT.GET.EXEC.commands.pc.attacker", want: inAgents},
			{name: "broadcast direct get", subject: "$JS.API.DIRECT.GET.EXEC.commands.all", want: inAgents},
			{name: "group direct get", subject: "$JS.API.DIRECT.GET.EXEC.commands.group.g1", want: inAgents},
			{name: "kv direct get", subject: "$JS.API.DIRECT.GET.KV_script_status.$KV.script_status.job", want: inAgents},
			{name: "kv direct get (missing key)", subject: "$JS.API.DIRECT.GET.KV_script_status.$KV.script_status.nope", want: inAgents},
			{name: "signing keys direct get", subject: "$JS.API.DIRECT.GET.KV_signing_keys.$KV.signing_keys.chain", want: inAgents},
			{name: "direct get with a body", subject: "$JS.API.DIRECT.GET.EXEC.commands.pc.attacker", body: `{"seq":1}`, want: inAgents},
			{name: "result PubAck", subject: "results.attacker.r1", body: `{"pc_id":"attacker"}`, want: inAgents},
			{name: "event PubAck", subject: "events.started.e1.attacker", body: `{"pc_id":"attacker"}`, want: inAgents},
			{name: "heartbeat", subject: "heartbeat.attacker", body: `{}`, want: silent},
			{name: "victim's direct get", subject: "$JS.API.DIRECT.GET.EXEC.commands.pc.victim", want: violation},
			{name: "wildcard direct get", subject: "$JS.API.DIRECT.GET.EXEC.commands.pc.*", want: violation},
			{name: "wildcard direct get >", subject: "$JS.API.DIRECT.GET.EXEC.commands.>", want: violation},
			{name: "direct get by body", subject: "$JS.API.DIRECT.GET.EXEC", body: `{"last_by_subj":"commands.pc.victim"}`, want: violation},
			{name: "stream info", subject: "$JS.API.STREAM.INFO.EXEC", want: violation},
			{name: "msg get", subject: "$JS.API.STREAM.MSG.GET.EXEC", body: `{"last_by_subj":"commands.pc.victim"}`, want: violation},
			{name: "consumer create", subject: "$JS.API.CONSUMER.CREATE.EXEC", body: `{"stream_name":"EXEC","config":{"deliver_subject":"` + r + `"}}`, want: violation},
			{name: "consumer info", subject: "$JS.API.CONSUMER.INFO.EXEC.x", want: violation},
			{name: "account info", subject: "$JS.API.INFO", want: violation},
			{name: "kv of another pc", subject: "$JS.API.DIRECT.GET.KV_agent_groups.$KV.agent_groups.victim", want: violation},
		} {
			at.reply = r
			at.name += " reply " + r
			run(t, attacker, agentsSpy, at)
			switch at.subject {
			case "results.attacker.r1":
				results++
			case "events.started.e1.attacker":
				events++
			}
		}
	}

	// What reached the victim through AGENTS: the residual SPEC §12
	// accepts. None of it can pass a subject-bound signature check: it is
	// junk (PubAcks, API errors, forged bytes), or a stored command whose
	// Nats-Subject differs from the subject it arrived on, or a replay of
	// the very message last published on that broadcast/group subject
	// (refused by the agent's request_id ledger).
	// A barrier on the victim's own subject: everything before it has arrived.
	if err := root.nc.Publish("commands.pc.victim", []byte("barrier")); err != nil {
		t.Fatal(err)
	}
	if _, ok := victimSaw.waitFor("commands.pc.victim", wait); !ok {
		t.Fatal("barrier not seen")
	}
	var junk, rerouted, replays int
	for _, m := range victimSaw.all() {
		ns := m.Header.Get("Nats-Subject")
		switch {
		case ns == "":
			junk++
		case ns != m.Subject:
			rerouted++
		case m.Subject == "commands.all" || strings.HasPrefix(m.Subject, "commands.group."):
			replays++
		default:
			t.Errorf("victim got a stored message on its own subject %s: %q", m.Subject, m.Data)
		}
		if string(m.Data) == `{"for":"victim"}` {
			t.Errorf("victim's own command re-delivered on %s", m.Subject)
		}
	}
	residual := [3]int{junk, rerouted, replays}

	// 3. The same tricks from an AGENTS user with no per-user permissions:
	// the account boundary alone. Its JetStream API calls reach only
	// AGENTS' own JetStream, which is disabled ("not enabled for account"
	// answers, in AGENTS); direct gets by body are not imported at all.
	for _, r := range hostileReplies {
		if hasAnyPrefix(r, victimForbidden) {
			continue // root may publish those itself; only per-user permissions stop that
		}
		for _, at := range []attack{
			{name: "root publish", subject: r, reply: "", want: inAgents},
			{name: "root victim direct get", subject: "$JS.API.DIRECT.GET.EXEC.commands.pc.victim", want: inAgents},
			{name: "root stream info", subject: "$JS.API.STREAM.INFO.EXEC", want: inAgents},
			{name: "root msg get", subject: "$JS.API.STREAM.MSG.GET.EXEC", body: `{"last_by_subj":"commands.pc.victim"}`, want: inAgents},
			{name: "root consumer create", subject: "$JS.API.CONSUMER.CREATE.EXEC", body: `{"stream_name":"EXEC","config":{"deliver_subject":"` + r + `"}}`, want: inAgents},
			{name: "root consumer info", subject: "$JS.API.CONSUMER.INFO.EXEC.x", want: inAgents},
			{name: "root stream create", subject: "$JS.API.STREAM.CREATE.X", body: `{"name":"X","subjects":["` + r + `"]}`, want: inAgents},
			{name: "root account info", subject: "$JS.API.INFO", want: inAgents},
			{name: "root kv of another pc", subject: "$JS.API.DIRECT.GET.KV_agent_groups.$KV.agent_groups.victim", want: inAgents},
			{name: "root direct get by body", subject: "$JS.API.DIRECT.GET.EXEC", body: `{"seq":1}`, want: silent},
			{name: "root result PubAck", subject: "results.root.r9", body: `{}`, want: inAgents},
		} {
			if at.reply == "" && at.name != "root publish" {
				at.reply = r
			}
			if at.name == "root publish" {
				// a plain publish: the spy sees it in AGENTS; it must not
				// cross into KANADE (stream imports are one-way).
				at.reply = ""
				if err := root.nc.Publish(r, []byte(`{"forged":true}`)); err != nil {
					t.Fatal(err)
				}
				if _, ok := agentsSpy.waitFor(r, wait); !ok {
					t.Errorf("root publish %s not seen in AGENTS", r)
				}
				continue
			}
			at.name += " reply " + r
			run(t, root, agentsSpy, at)
			if at.subject == "results.root.r9" {
				results++
			}
		}
	}

	// Everything the attacks caused has been observed; a backend round
	// trip makes sure the KANADE spy has drained what came before.
	if err := e.backend.Publish("sentinel", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := kanadeSpy.waitFor("sentinel", wait); !ok {
		t.Fatal("sentinel not seen")
	}

	// Nothing on a forbidden subject of KANADE.
	for _, m := range kanadeSpy.all() {
		if hasAnyPrefix(m.Subject, kanadeForbidden) || hasAnyPrefix(m.Subject, victimForbidden) {
			t.Errorf("published in KANADE: %s (reply %q) %q", m.Subject, m.Reply, m.Data)
		}
	}
	// Streams, KV and object store: only the results and events the
	// agents were allowed to publish were added.
	after := e.snapshot()
	diff(t, before, after, "RESULTS", "EVENTS")
	wantResults := fmt.Sprintf("msgs=%d", results)
	if !strings.HasPrefix(after["RESULTS"], wantResults+" ") {
		t.Errorf("RESULTS %s, want %s", after["RESULTS"], wantResults)
	}
	if !strings.HasPrefix(after["EVENTS"], fmt.Sprintf("msgs=%d ", events)) {
		t.Errorf("EVENTS %s, want %d", after["EVENTS"], events)
	}

	t.Logf("KANADE spy saw %d messages, none forbidden; victim in AGENTS got %d junk, %d re-routed stored messages, %d same-subject replays",
		len(kanadeSpy.all()), residual[0], residual[1], residual[2])
}

// TestAgentScope: an agent reads the last message of its own command
// subject by direct get, not another PC's, and cannot publish another PC's
// results; its replies come back to its own inbox only.
func TestAgentScope(t *testing.T) {
	e := startEnv(t)
	e.bootstrap()
	a := e.connectAgent(e.enroll("attacker"))
	b := e.connectAgent(e.enroll("victim"))

	m, err := a.nc.Request("$JS.API.DIRECT.GET.EXEC.commands.pc.attacker", nil, wait)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != `{"for":"attacker"}` || m.Header.Get("Nats-Subject") != "commands.pc.attacker" {
		t.Errorf("own direct get: %q %v", m.Data, m.Header)
	}
	if !strings.HasPrefix(m.Subject, "_INBOX.attacker.") {
		t.Errorf("reply arrived on %s", m.Subject)
	}
	for _, s := range []string{"commands.all", "commands.group.g1"} {
		if m, err := a.nc.Request("$JS.API.DIRECT.GET.EXEC."+s, nil, wait); err != nil || m.Header.Get("Nats-Subject") != s {
			t.Errorf("direct get %s: %v %v", s, err, m)
		}
	}
	kv, err := a.nc.Request("$JS.API.DIRECT.GET.KV_script_status.$KV.script_status.job", nil, wait)
	if err != nil || string(kv.Data) != "ACTIVE" {
		t.Errorf("kv direct get: %v %v", err, kv)
	}

	if _, err := a.nc.Request("$JS.API.DIRECT.GET.EXEC.commands.pc.victim", nil, 500*time.Millisecond); err == nil {
		t.Error("agent A read commands.pc.victim")
	}
	if err := a.waitViolation("$JS.API.DIRECT.GET.EXEC.commands.pc.victim", wait); err != nil {
		t.Error(err)
	}

	// A forges a result for B: refused; B's own result goes through.
	js, _ := jetstream.New(a.nc)
	actx, acancel := context.WithTimeout(context.Background(), time.Second)
	defer acancel()
	if _, err := js.Publish(actx, "results.victim.r1", []byte(`{"pc_id":"victim"}`), jetstream.WithRetryAttempts(0)); err == nil {
		t.Error("A published results.victim.r1")
	}
	if err := a.waitViolation("results.victim.r1", wait); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	jsb, _ := jetstream.New(b.nc)
	ack, err := jsb.Publish(ctx, "results.victim.r2", []byte(`{"pc_id":"victim"}`))
	if err != nil || ack.Stream != "RESULTS" {
		t.Fatalf("B's own result: %v %v", ack, err)
	}
	s, _ := e.js.Stream(ctx, "RESULTS")
	info, _ := s.Info(ctx, jetstream.WithSubjectFilter("results.>"))
	if info.State.Msgs != 1 || info.State.Subjects["results.victim.r2"] != 1 {
		t.Errorf("RESULTS: %+v", info.State.Subjects)
	}

	// A cannot listen to B's commands, pings or inbox.
	for _, s := range []string{"commands.pc.victim", "agents.victim.ping", "_INBOX.victim.>", "_INBOX.>", "results.>", "$JS.API.>"} {
		if _, err := a.nc.SubscribeSync(s); err != nil {
			t.Fatal(err)
		}
		if err := a.waitViolation(s, wait); err != nil {
			t.Errorf("subscribe %s: %v", s, err)
		}
	}

	// The backend pings B through the AGENTS export; B answers through
	// allow_responses and nothing else.
	sub, err := b.nc.Subscribe("agents.victim.ping", func(m *nats.Msg) { m.Respond([]byte(`{"pc_id":"victim"}`)) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	b.nc.Flush()
	// The CANARY stream stores agents.> too, so its PubAck may answer the
	// request first: collect replies until the agent's own arrives.
	inbox := nats.NewInbox()
	replies, err := e.backend.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer replies.Unsubscribe()
	if err := e.backend.PublishRequest("agents.victim.ping", inbox, nil); err != nil {
		t.Fatal(err)
	}
	for {
		pong, err := replies.NextMsg(wait)
		if err != nil {
			t.Fatalf("ping: no answer from the agent: %v", err)
		}
		var hb map[string]any
		if json.Unmarshal(pong.Data, &hb) == nil && hb["pc_id"] == "victim" {
			return
		}
		if _, isAck := hb["stream"]; !isAck {
			t.Fatalf("unexpected pong %q", pong.Data)
		}
	}
}
