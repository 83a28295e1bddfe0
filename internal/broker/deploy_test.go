package broker

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// TestDeployConfigMatches parses deploy/nats-server.conf with the server's
// own parser and checks its users carry exactly the permissions the
// embedded server gives each role.
func TestDeployConfigMatches(t *testing.T) {
	for _, v := range []string{"BACKEND", "AGENT", "OPERATOR", "ROUTE"} {
		t.Setenv("KANADE_NATS_"+v+"_PASSWORD", "pw-"+v)
	}
	t.Setenv("KANADE_NATS_ROUTE_A", "nats-route://route:pw-ROUTE@n2:6222")
	t.Setenv("KANADE_NATS_ROUTE_B", "nats-route://route:pw-ROUTE@n3:6222")
	opts, err := server.ProcessConfigFile(filepath.Join("..", "..", "deploy", "nats-server.conf"))
	if err != nil {
		t.Fatalf("parse deploy/nats-server.conf: %v", err)
	}
	want := map[string]*server.Permissions{
		"kanade-backend":  nil,
		"kanade-agent":    AgentPermissions(),
		"kanade-operator": OperatorPermissions(),
	}
	if len(opts.Users) != len(want) {
		t.Fatalf("%d users, want %d", len(opts.Users), len(want))
	}
	for _, u := range opts.Users {
		w, ok := want[u.Username]
		if !ok {
			t.Errorf("unexpected user %q", u.Username)
			continue
		}
		if u.Password == "" || u.Password[:3] != "pw-" {
			t.Errorf("%s: password %q not taken from the environment", u.Username, u.Password)
		}
		comparePerms(t, u.Username, u.Permissions, w)
	}
	if !opts.JetStream || opts.MaxPayload != 8<<20 || opts.Cluster.Name == "" || len(opts.Routes) != 2 {
		t.Fatalf("jetstream=%v max_payload=%d cluster=%q routes=%d", opts.JetStream, opts.MaxPayload, opts.Cluster.Name, len(opts.Routes))
	}
	// Routes present the cluster credential the other servers require.
	for _, r := range opts.Routes {
		if pw, _ := r.User.Password(); r.User.Username() != opts.Cluster.Username || pw != opts.Cluster.Password || pw != "pw-ROUTE" {
			t.Errorf("route %s does not carry the cluster credential", r.Redacted())
		}
	}
}

func comparePerms(t *testing.T, who string, got, want *server.Permissions) {
	t.Helper()
	if want == nil || got == nil {
		if (want == nil) != (got == nil) {
			t.Errorf("%s: permissions %+v, want %+v", who, got, want)
		}
		return
	}
	sameSet := func(what string, g, w *server.SubjectPermission) {
		var ga, gd, wa, wd []string
		if g != nil {
			ga, gd = slices.Sorted(slices.Values(g.Allow)), slices.Sorted(slices.Values(g.Deny))
		}
		if w != nil {
			wa, wd = slices.Sorted(slices.Values(w.Allow)), slices.Sorted(slices.Values(w.Deny))
		}
		if !slices.Equal(ga, wa) {
			t.Errorf("%s %s allow:\n got  %q\n want %q", who, what, ga, wa)
		}
		if !slices.Equal(gd, wd) {
			t.Errorf("%s %s deny:\n got  %q\n want %q", who, what, gd, wd)
		}
	}
	sameSet("publish", got.Publish, want.Publish)
	sameSet("subscribe", got.Subscribe, want.Subscribe)
	switch {
	case (got.Response == nil) != (want.Response == nil):
		t.Errorf("%s allow_responses: %+v, want %+v", who, got.Response, want.Response)
	case got.Response != nil && *got.Response != *want.Response:
		t.Errorf("%s allow_responses: %+v, want %+v", who, *got.Response, *want.Response)
	}
}
