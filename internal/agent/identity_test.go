//go:build !windows

package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/agent/enroll"
	"github.com/kanade-fleet/kanade/internal/broker/identity"
	"github.com/kanade-fleet/kanade/internal/brokerid"
	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/sign"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// operatorBroker is an embedded nats-server in operator mode
// (internal/broker/identity) with the backend's resources in KANADE, and a
// minimal POST /api/enroll in front of its Authority, as the backend will
// serve it.
func operatorBroker(t *testing.T) (*broker, *brokerid.Authority, *sign.Signer, *httptest.Server) {
	t.Helper()
	keys, err := brokerid.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := brokerid.New(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true}
	if err := identity.Configure(auth)(o); err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(20 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	bu, err := auth.IssueBackend("kanade-backend")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserJWTAndSeed(bu.JWT, string(bu.Seed)), nats.CustomInboxPrefix(bus.InboxBackend))
	if err != nil {
		t.Fatal(err)
	}
	b := &broker{t: t, srv: srv, nc: nc}
	b.js, _ = jetstream.New(nc)
	t.Cleanup(func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Bootstrap(ctx, b.js, 1); err != nil {
		t.Fatal(err)
	}
	signer := mustSigner(t)
	b.putChain(sign.NewChain(signer, time.Now()))

	tokens := map[string]bool{"tok-1": true}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req enroll.Request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !tokens[req.Token] {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"unknown enrollment token","field":"token"}`))
			return
		}
		u, err := auth.IssueAgent(req.PCID, req.PublicKey)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		delete(tokens, req.Token)
		_ = json.NewEncoder(w).Encode(enroll.Response{PCID: req.PCID, UserJWT: u.JWT, BrokerURLs: []string{srv.ClientURL()},
			SigningKeys: []enroll.SigningKey{{KeyID: signer.KeyID(), PublicKey: sign.EncodePublicKey(signer.Public())}}})
	}))
	t.Cleanup(web.Close)
	return b, auth, signer, web
}

// TestEnrolledAgentUnderOperatorMode: enroll, then run from the data dir
// alone under the AGENTS account (direct gets only, own inbox), and run a
// signed command end to end.
func TestEnrolledAgentUnderOperatorMode(t *testing.T) {
	b, auth, key, web := operatorBroker(t)
	data := t.TempDir()
	pc := "pc-e"
	// A command waiting in EXEC before the PC exists: catch-up by direct
	// get, through the AGENTS import, verified against its Nats-Subject.
	early := b.send(bus.CommandsPC(pc), wire.Command{Script: "echo early"}, key, bus.CommandsPC(pc))
	if _, err := enroll.Enroll(context.Background(), enroll.Options{Server: web.URL, Token: "tok-1", PCID: pc,
		Hostname: "h", OSFamily: OSFamily(), DataDir: data}); err != nil {
		t.Fatal(err)
	}
	o := Options{DataDir: data}
	if ok, err := UseEnrollment(&o); err != nil || !ok {
		t.Fatalf("UseEnrollment: %v %v", ok, err)
	}
	if o.PCID != pc || o.CredsFile != filepath.Join(data, enroll.CredsFile) || !o.RequireSigned || o.Keyring.Len() != 1 {
		t.Fatalf("options %+v", o)
	}
	logs := &logBuf{}
	r := startWith(t, o, logs, true)

	if res := b.waitResult(early.RequestID); res.Stdout != "early\n" || res.PCID != pc {
		t.Fatalf("%+v", res)
	}
	if n := b.count(bus.StreamResults, bus.ResultFrom(pc, early.RequestID)); n != 1 {
		t.Fatalf("result not on results.%s.<request_id>: %d", pc, n)
	}
	me := bus.CommandsPC(pc)
	if res := b.waitResult(b.send(me, wire.Command{Script: "echo live"}, key, me).RequestID); res.Stdout != "live\n" {
		t.Fatalf("%+v", res)
	}
	refusedWith(t, b.waitResult(b.send(me, wire.Command{Script: "echo no"}, nil, "").RequestID), "not signed")
	refusedWith(t, b.waitResult(b.send(me, wire.Command{Script: "echo no"}, key, bus.CommandsPC("pc-other")).RequestID), "does not match")

	// Groups and signing keys follow KV by direct get under AGENTS.
	if r.a.trust.keyring().Seq() != 1 {
		t.Fatalf("signing_keys not read: seq %d", r.a.trust.keyring().Seq())
	}
	b.put(bus.KVAgentGroups, pc, `{"groups":["lab"]}`)
	waitFor(t, 20*time.Second, "joined lab", func() bool { return len(r.a.Groups()) == 1 })
	g := bus.CommandsGroup("lab")
	if res := b.waitResult(b.send(g, wire.Command{Script: "echo group"}, key, g).RequestID); res.Stdout != "group\n" {
		t.Fatalf("%+v", res)
	}
	// Kill through the KANADE → AGENTS stream import, signed.
	long := b.send(me, wire.Command{Script: "sleep 600", TimeoutSecs: 600}, key, me)
	waitFor(t, 30*time.Second, "running", func() bool { return r.a.Heartbeat().Running == 1 })
	b.signedKill(long.ExecID, key)
	if res := b.waitResult(long.RequestID); !res.Killed {
		t.Fatalf("%+v", res)
	}
	if logs.has("Permissions Violation") || logs.has("refused an operation") {
		t.Fatalf("the agent used something its identity does not allow:\n%s", logs.String())
	}

	// Revoked (DELETE /api/agents/{pc} on the backend): the PC says why it
	// is cut off.
	e, _ := enroll.Load(data)
	accJWT, err := auth.Revoke(auth.AgentsAccount(), e.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	su, _ := auth.IssueSystem("push")
	sys, err := nats.Connect(b.srv.ClientURL(), nats.UserJWTAndSeed(su.JWT, string(su.Seed)))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if err := brokerid.PushAccount(sys, accJWT, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "revocation logged", func() bool { return logs.has("refused this agent's credential") })
}

// TestRefusedCredentialIsLogged: a credential the broker does not accept
// is an error naming the PC and the reason, not silence.
func TestRefusedCredentialIsLogged(t *testing.T) {
	b, _, _, _ := operatorBroker(t)
	// A user JWT from another install's authority.
	keys, _ := brokerid.NewKeys()
	other, _ := brokerid.New(keys, nil)
	seed, pk, _ := brokerid.NewUserKey()
	u, _ := other.IssueAgent("pc-bad", pk)
	data := t.TempDir()
	creds := filepath.Join(data, "broker.creds")
	if err := brokerid.WriteCreds(creds, u.JWT, seed); err != nil {
		t.Fatal(err)
	}
	logs := &logBuf{}
	startWith(t, Options{PCID: "pc-bad", NATSURL: b.srv.ClientURL(), DataDir: data, CredsFile: creds}, logs, false)
	waitFor(t, 30*time.Second, "refused-credential log", func() bool {
		return logs.has("refused this agent's credential") && logs.has("pc_id=pc-bad")
	})
	if !strings.Contains(strings.ToLower(logs.String()), "authorization") {
		t.Fatalf("no reason in the log:\n%s", logs.String())
	}
	_ = os.Remove(creds)
}
