package brokerid

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/jwt/v2"
)

// Names fixed by SPEC §2 and §12. They are repeated here rather than taken
// from internal/bus so the policy reads as one table; the hostile tests
// create exactly these resources.
const (
	StreamExec      = "EXEC"
	KVScriptCurrent = "script_current"
	KVScriptStatus  = "script_status"
	KVAgentGroups   = "agent_groups"
	KVAgentConfig   = "agent_config"
	KVSigningKeys   = "signing_keys"
	SigningChainKey = "chain"
	ObjAgentRelease = "agent_releases"
)

// Account names (the JWT "name"; accounts are identified by public key).
const (
	AccountSystem = "SYS"
	AccountKanade = "KANADE"
	AccountAgents = "AGENTS"
)

// pcT expands, in the server, to the connecting user's JWT name, which is
// its pc_id (see IssueAgent).
const pcT = "{{name()}}"

// AgentInboxPrefix is the inbox prefix an agent must use
// (nats.CustomInboxPrefix): it may subscribe to its own inbox only, so no
// agent can read the replies another agent receives.
func AgentInboxPrefix(pcID string) string { return "_INBOX." + pcID }

// ValidPCID refuses ids that would break subjects or permission templates
// (SPEC §2: no '.', '*', '>' or spaces).
func ValidPCID(id string) error {
	if id == "" {
		return fmt.Errorf("pc_id is empty")
	}
	if len(id) > 128 {
		return fmt.Errorf("pc_id %q is longer than 128 bytes", id)
	}
	for _, r := range id {
		if r == '.' || r == '*' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("pc_id %q contains %q (not allowed in a subject token)", id, r)
		}
	}
	if strings.Contains(id, "{{") || strings.Contains(id, "}}") {
		return fmt.Errorf("pc_id %q contains a template marker", id)
	}
	return nil
}

// directGet is the subject-in-API direct get ("last message of subject")
// of stream: the only JetStream form an agent may use. Its request body
// may not carry seq, batch or another subject (the server answers 408), so
// permitting it per subject limits what an agent reads to that subject.
func directGet(stream, subject string) string {
	return "$JS.API.DIRECT.GET." + stream + "." + subject
}

func kvSubject(bucket, key string) string { return "$KV." + bucket + "." + key }

// agentPubAllow: what an agent may publish in AGENTS. Only imported
// subjects go anywhere; everything else would stay in AGENTS anyway.
func agentPubAllow() []string {
	return []string{
		"events.started.*." + pcT,
		"results." + pcT + ".*",
		"heartbeat." + pcT,
		"inventory." + pcT,
		// Full-output chunks (SPEC §11): output.<pc>.<result_id>.<stream>.
		// Published with a PubAck like results, through the service import.
		"output." + pcT + ".*.*",
		directGet(StreamExec, "commands.all"),
		directGet(StreamExec, "commands.pc."+pcT),
		// Groups change without a new JWT; reading another group's last
		// command is no more than subscribing to it (allowed below), and a
		// command is signed for its subject, so it cannot be run elsewhere.
		directGet(StreamExec, "commands.group.*"),
		directGet("KV_"+KVScriptCurrent, kvSubject(KVScriptCurrent, "*")),
		directGet("KV_"+KVScriptStatus, kvSubject(KVScriptStatus, "*")),
		directGet("KV_"+KVAgentGroups, kvSubject(KVAgentGroups, pcT)),
		directGet("KV_"+KVAgentConfig, kvSubject(KVAgentConfig, "global")),
		directGet("KV_"+KVAgentConfig, kvSubject(KVAgentConfig, "groups.*")),
		directGet("KV_"+KVAgentConfig, kvSubject(KVAgentConfig, "pcs."+pcT)),
		directGet("KV_"+KVSigningKeys, kvSubject(KVSigningKeys, SigningChainKey)),
		// Self-update (SPEC §13): a release's description by subject, its
		// chunks by sequence (the body form, which may name any message of
		// the stream: it holds nothing but release binaries, which every
		// agent may read). No consumer, so no state per downloading agent.
		directGet("OBJ_"+ObjAgentRelease, "$O."+ObjAgentRelease+".M.*"),
		releaseChunks,
	}
}

// releaseChunks is the direct get, by sequence, of object store
// agent_releases.
const releaseChunks = "$JS.API.DIRECT.GET.OBJ_" + ObjAgentRelease

// agentSubAllow: what an agent may subscribe to in AGENTS.
func agentSubAllow() []string {
	return []string{
		"commands.all",
		"commands.pc." + pcT,
		"commands.group.*",
		"kill.*",
		"agents." + pcT + ".ping",
		AgentInboxPrefix(pcT) + ".>",
		// Change notifications only: in AGENTS another agent can aim a
		// server reply at these subjects, so an agent treats them as a
		// hint and re-reads the key by direct get (docs/identity-design.md).
		kvSubject(KVAgentGroups, pcT),
		kvSubject(KVAgentConfig, "global"),
		kvSubject(KVAgentConfig, "groups.*"),
		kvSubject(KVAgentConfig, "pcs."+pcT),
		kvSubject(KVSigningKeys, SigningChainKey),
	}
}

// AgentPermissions is the template every agent user gets through the
// AGENTS scoped signing key. Ping answers go through allow_responses: one
// reply per request received, for a minute.
func AgentPermissions() jwt.Permissions {
	return jwt.Permissions{
		Pub:  jwt.Permission{Allow: agentPubAllow()},
		Sub:  jwt.Permission{Allow: agentSubAllow()},
		Resp: &jwt.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
	}
}

// ExpandAgentPermissions is AgentPermissions for one pc, as the server
// expands it (for logs, docs and tests).
func ExpandAgentPermissions(pcID string) jwt.Permissions {
	p := AgentPermissions()
	exp := func(l []string) []string {
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = strings.ReplaceAll(s, pcT, pcID)
		}
		return out
	}
	p.Pub.Allow = exp(p.Pub.Allow)
	p.Sub.Allow = exp(p.Sub.Allow)
	return p
}

// CLIPermissions: the operator CLI's direct path (kanade run/kill/ping,
// jetstream status). Commands and kills it sends are refused by agents
// unless signed (SPEC §12); it cannot pose as an agent.
func CLIPermissions() jwt.Permissions {
	return jwt.Permissions{
		Pub: jwt.Permission{Allow: []string{"commands.>", "kill.>", "agents.*.ping",
			"$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "$KV.>"}},
		Sub:  jwt.Permission{Allow: []string{"_INBOX.>", "results.>", "events.>", "heartbeat.>"}},
		Resp: &jwt.ResponsePermission{MaxMsgs: 1, Expires: time.Minute},
	}
}

// kanadeExports are what KANADE offers AGENTS. Services carry requests into
// KANADE with the reply rewritten by the server to a one-time _R_ subject
// that leads back into AGENTS, so nothing KANADE's JetStream answers can
// land on a KANADE subject. Streams carry KANADE messages into AGENTS and
// nothing back.
func kanadeExports() jwt.Exports {
	svc := func(subject string) *jwt.Export {
		return &jwt.Export{Name: subject, Subject: jwt.Subject(subject), Type: jwt.Service, ResponseType: jwt.ResponseTypeSingleton}
	}
	str := func(subject string) *jwt.Export {
		return &jwt.Export{Name: subject, Subject: jwt.Subject(subject), Type: jwt.Stream}
	}
	return jwt.Exports{
		str("commands.>"),
		str("kill.>"),
		str(kvSubject(KVAgentGroups, ">")),
		str(kvSubject(KVAgentConfig, ">")),
		str(kvSubject(KVSigningKeys, ">")),
		svc("results.>"),
		svc("events.>"),
		svc("heartbeat.>"),
		svc("inventory.>"),
		svc("output.>"),
		svc(directGet(StreamExec, "commands.>")),
		svc(directGet("KV_"+KVScriptCurrent, kvSubject(KVScriptCurrent, ">"))),
		svc(directGet("KV_"+KVScriptStatus, kvSubject(KVScriptStatus, ">"))),
		svc(directGet("KV_"+KVAgentGroups, kvSubject(KVAgentGroups, ">"))),
		svc(directGet("KV_"+KVAgentConfig, kvSubject(KVAgentConfig, ">"))),
		svc(directGet("KV_"+KVSigningKeys, kvSubject(KVSigningKeys, ">"))),
		svc(directGet("OBJ_"+ObjAgentRelease, "$O."+ObjAgentRelease+".M.*")),
		svc(releaseChunks),
	}
}

// agentsImports mirrors kanadeExports from the AGENTS side.
func agentsImports(kanade string) jwt.Imports {
	var im jwt.Imports
	for _, e := range kanadeExports() {
		im.Add(&jwt.Import{Name: e.Name, Subject: e.Subject, Account: kanade, Type: e.Type})
	}
	return im
}

// pingExport: the backend and the CLI ping agents through a service AGENTS
// exports; the agent answers the _R_ reply through allow_responses.
func pingExport() *jwt.Export {
	return &jwt.Export{Name: "ping", Subject: "agents.*.ping", Type: jwt.Service, ResponseType: jwt.ResponseTypeSingleton}
}
