package identity_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestOutputChunksStayInTheirLane (SPEC §11 within §12): an agent publishes
// its full-output chunks on output.<own pc>.<result_id>.<stream> with a
// PubAck, through the service import into KANADE's stream OUTPUT. Another
// PC's output subjects, and subjects of another shape, are refused by the
// broker. Chunks sent with a reply aimed at commands, kills, $KV, $O,
// execs, audit or the victim's subjects get their PubAck delivered there
// in AGENTS only: nothing is published on those subjects in KANADE, and
// no stream, bucket or object changes but OUTPUT, by exactly the chunks
// the attacker was allowed to send.
func TestOutputChunksStayInTheirLane(t *testing.T) {
	e := startEnv(t)
	e.bootstrap()
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: "OUTPUT", Subjects: []string{"output.>"}}); err != nil {
		t.Fatal(err)
	}

	before := e.snapshot()
	kanadeSpy := record(t, e.backend, ">")
	root := e.rootAgentsUser()
	agentsSpy := record(t, root.nc, ">")
	attacker := e.connectAgent(e.enroll("attacker"))

	// Its own chunk, as the agent sends it: stored in OUTPUT, acknowledged.
	ajs, err := jetstream.New(attacker.nc)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := ajs.PublishMsg(ctx, &nats.Msg{Subject: "output.attacker.r1.stdout",
		Header: nats.Header{"Kanade-Output-Index": {"0"}}, Data: []byte("chunk")})
	if err != nil || ack.Stream != "OUTPUT" {
		t.Fatalf("own chunk: %+v %v", ack, err)
	}
	allowed := 1

	// Another PC's output, and subjects outside output.<pc>.*.*.
	for _, s := range []string{"output.victim.r1.stdout", "output.victim.r1.stderr", "output.attacker.r1", "output.attacker.r1.stdout.x", "output.>"} {
		run(t, attacker, agentsSpy, attack{name: "publish " + s, subject: s, body: "x", want: violation})
	}
	// Reserved replies are refused on output subjects too.
	for _, r := range []string{"_R_.abc.def", "$JS.ACK.OUTPUT.asm.1.1.1.0.0"} {
		if err := attacker.nc.PublishRequest("output.attacker.r2.stdout", r, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := attacker.waitViolation(r, wait); err != nil {
			t.Errorf("reply %s: %v", r, err)
		}
	}
	// Chunks with a hostile reply: the PubAck lands in AGENTS, nowhere else.
	for i, r := range hostileReplies {
		run(t, attacker, agentsSpy, attack{name: "chunk reply " + r, subject: fmt.Sprintf("output.attacker.h%d.stdout", i),
			body: "chunk", reply: r, want: inAgents})
		allowed++
	}

	if err := e.backend.Publish("sentinel", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := kanadeSpy.waitFor("sentinel", wait); !ok {
		t.Fatal("sentinel not seen")
	}
	for _, m := range kanadeSpy.all() {
		if hasAnyPrefix(m.Subject, kanadeForbidden) || hasAnyPrefix(m.Subject, victimForbidden) || strings.HasPrefix(m.Subject, "output.victim.") {
			t.Errorf("published in KANADE: %s (reply %q) %q", m.Subject, m.Reply, m.Data)
		}
	}
	diff(t, before, e.snapshot())
	st, err := e.js.Stream(ctx, "OUTPUT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(allowed) {
		t.Errorf("OUTPUT holds %d chunks, want the %d allowed", info.State.Msgs, allowed)
	}
	for subj := range info.State.Subjects {
		if !strings.HasPrefix(subj, "output.attacker.") {
			t.Errorf("OUTPUT stored %s", subj)
		}
	}
}
