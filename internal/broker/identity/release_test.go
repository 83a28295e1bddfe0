package identity_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

// TestAgentReadsReleases: an agent reads a release's description and its
// chunks with direct gets (self-update, SPEC §13), and the body form of
// direct get stays closed on every other stream.
func TestAgentReadsReleases(t *testing.T) {
	e := startEnv(t)
	e.bootstrap()
	a := e.connectAgent(e.enroll("attacker"))

	meta := "$O.agent_releases.M." + base64.URLEncoding.EncodeToString([]byte("kanade-agent-linux-amd64"))
	m, err := a.nc.Request("$JS.API.DIRECT.GET.OBJ_agent_releases."+meta, nil, wait)
	if err != nil || m.Header.Get("Status") != "" {
		t.Fatalf("release description: %v %v", err, m)
	}
	var info struct {
		NUID string `json:"nuid"`
		Size int    `json:"size"`
	}
	if err := json.Unmarshal(m.Data, &info); err != nil || info.NUID == "" {
		t.Fatalf("description %q: %v", m.Data, err)
	}
	body, _ := json.Marshal(map[string]any{"seq": 1, "next_by_subj": "$O.agent_releases.C." + info.NUID})
	c, err := a.nc.Request("$JS.API.DIRECT.GET.OBJ_agent_releases", body, wait)
	if err != nil || string(c.Data) != "binary" {
		t.Fatalf("release chunk: %v %v", err, c)
	}

	// The body form on EXEC would read any PC's commands: refused.
	body, _ = json.Marshal(map[string]any{"last_by_subj": "commands.pc.victim"})
	if _, err := a.nc.Request("$JS.API.DIRECT.GET.EXEC", body, 500*time.Millisecond); err == nil {
		t.Error("agent read commands.pc.victim with a body-form direct get")
	}
	if err := a.waitViolation("$JS.API.DIRECT.GET.EXEC", wait); err != nil {
		t.Error(err)
	}
	// Nor may it change the object store.
	if _, err := a.nc.Request("$JS.API.STREAM.PURGE.OBJ_agent_releases", nil, 500*time.Millisecond); err == nil {
		t.Error("agent purged the release store")
	}
}
