// Package bus names every NATS subject, stream, KV bucket and object store
// of SPEC §2 and creates them. It uses only the nats.go client, so agents and
// the CLI can link it without pulling in server code.
package bus

// Streams.
const (
	StreamExec    = "EXEC"
	StreamEvents  = "EVENTS"
	StreamResults = "RESULTS"
	StreamAudit   = "AUDIT"
	// StreamOutput holds agents' full-output chunks until the backend has
	// assembled them into object store result_output (internal/output).
	StreamOutput = "OUTPUT"
	// StreamExecs holds the ExecRequested messages the executions table is
	// rebuilt from (SPEC §11).
	StreamExecs = "EXECS"
	// StreamInventory holds agents' built-in facts (SPEC §14).
	StreamInventory = "INVENTORY"
	// StreamAlerts holds the alert changes not derived from results:
	// agent-offline opens/resolves and operators' acks (SPEC §15).
	StreamAlerts = "ALERTS"
	// StreamNotify is the durable queue of notifications to deliver
	// (SPEC §15, internal/notify); StreamNotifyLog holds every delivery
	// attempt, projected into notification_deliveries.
	StreamNotify    = "NOTIFY"
	StreamNotifyLog = "NOTIFY_LOG"
)

// KV buckets and object stores.
const (
	KVJobs          = "jobs"
	KVSchedules     = "schedules"
	KVScriptCurrent = "script_current"
	KVScriptStatus  = "script_status"
	KVAgentGroups   = "agent_groups"
	KVAgentConfig   = "agent_config"
	KVFleetConfig   = "fleet_config"
	KVWaves         = "waves"
	KVJobsYAML      = "jobs_yaml"      // original manifest text (comments kept) for editing
	KVSchedulesYAML = "schedules_yaml" // same, for schedules
	KVLocks         = "locks"          // leader-election locks with a TTL (scheduler)
	KVSchedState    = "scheduler_state"
	// KVNotifyChannels holds notification channels (id → JSON, secrets
	// included: readable by backends only); KVNotifyState the dispatcher's
	// watermark (key NotifyWatermarkKey).
	KVNotifyChannels   = "notification_channels"
	KVNotifyState      = "notify_state"
	NotifyWatermarkKey = "watermark"
	ObjAgentRelease    = "agent_releases"
	// ObjResultOutput holds full run output: object <result_id>/<stream>.
	ObjResultOutput = "result_output"
	FreezeKey       = "freeze"
	ConfigGlobalKey = "global"
)

// KVSigningKeys holds the command-signing public keys as one rotation chain
// under key SigningKeysChain (format: internal/sign).
const (
	KVSigningKeys    = "signing_keys"
	SigningKeysChain = "chain"
)

// Durable consumer names of the backend projectors (shared by replicas).
const (
	ConsumerEvents  = "backend_events_projector"
	ConsumerResults = "backend_results_projector"
	ConsumerAudit   = "backend_audit_projector"
	ConsumerExecs   = "backend_execs_projector"
	// ConsumerInventory projects built-in facts (SPEC §14).
	ConsumerInventory = "backend_inventory_projector"
	// ConsumerAlerts projects stream ALERTS (SPEC §15).
	ConsumerAlerts = "backend_alerts_projector"
	// ConsumerCommandAudit follows EXEC to audit commands the backend did
	// not publish itself (internal/cmdaudit).
	ConsumerCommandAudit = "backend_command_audit"
	// ConsumerOutput assembles output chunks (internal/output).
	ConsumerOutput = "backend_output_assembler"
	// ConsumerNotifySender delivers NOTIFY (shared: each notification is
	// sent by one replica); ConsumerNotifyLog projects NOTIFY_LOG.
	ConsumerNotifySender = "backend_notify_sender"
	ConsumerNotifyLog    = "backend_notify_log_projector"
)

// Subjects.
const (
	SubjCommandsAll       = "commands.all"
	SubjCommandsAllFilter = "commands.>"
	SubjEventsStartedAll  = "events.started.>"
	SubjResultsAll        = "results.>"
	SubjHeartbeatAll      = "heartbeat.>"
	SubjAuditAll          = "audit.>"
	SubjOutputAll         = "output.>"
	SubjExecsAll          = "execs.>"
	SubjNotifyAll         = "notify.>"
	SubjNotifyLogAll      = "notifylog.>"
	// SubjLiveAll carries the dashboard's live events between backend
	// replicas (core NATS, backend only): whichever replica projected a
	// change publishes it once, and every replica's SSE hub relays it.
	SubjLiveAll = "kanade.live.>"
)

// CommandsGroup is the subject of a command for every member of group g.
func CommandsGroup(g string) string { return "commands.group." + g }

// CommandsPC is the subject of a command for one PC.
func CommandsPC(pc string) string { return "commands.pc." + pc }

// EventStarted is the subject an agent reports a run's start on.
func EventStarted(execID, pc string) string { return "events.started." + execID + "." + pc }

// ResultFrom is the subject an agent reports a run's result on (SPEC §12):
// the pc token lets the broker bind it to the agent's identity.
func ResultFrom(pc, requestID string) string { return "results." + pc + "." + requestID }

// ResultsOf matches every PC's result of one request (a subscription
// filter, never a publish subject).
func ResultsOf(requestID string) string { return "results.*." + requestID }

// Output is the subject of one chunk of a result's full output (stream is
// stdout or stderr); the pc token binds it to the agent's identity.
func Output(pc, resultID, stream string) string {
	return "output." + pc + "." + resultID + "." + stream
}

// ExecRequested is the subject of an execution's ExecRequested messages.
func ExecRequested(execID string) string { return "execs." + execID }

// Heartbeat is the subject of a PC's heartbeats.
func Heartbeat(pc string) string { return "heartbeat." + pc }

// Inventory is the subject of a PC's built-in facts (stream INVENTORY).
func Inventory(pc string) string { return "inventory." + pc }

// AlertOffline is the subject of a PC's agent-offline open or resolve
// (stream ALERTS; published by the leader backend only).
func AlertOffline(pc string) string { return "alerts.offline." + pc }

// AlertForgotten is the subject of the event that resolves a deleted PC's
// open alerts (stream ALERTS).
func AlertForgotten(pc string) string { return "alerts.forgotten." + pc }

// SubjAlertAck is the subject of operators' alert acks (stream ALERTS).
const SubjAlertAck = "alerts.ack"

// Notify is the subject of a notification queued for a channel.
func Notify(channelID string) string { return "notify." + SubjectToken(channelID) }

// NotifyLog is the subject of a delivery attempt's record.
func NotifyLog(channelID string) string { return "notifylog." + SubjectToken(channelID) }

// Ping is the request/reply subject answered by an agent with a Heartbeat.
func Ping(pc string) string { return "agents." + pc + ".ping" }

// Kill is the subject that terminates an execution's processes.
func Kill(execID string) string { return "kill." + execID }

// Live is the subject of a live (SSE) event of the given type.
func Live(eventType string) string { return "kanade.live." + SubjectToken(eventType) }

// Audit is the subject of an audit event.
func Audit(actor, action string) string {
	return "audit." + SubjectToken(actor) + "." + SubjectToken(action)
}

// GroupConfigKey and PCConfigKey are agent_config keys.
func GroupConfigKey(g string) string { return "groups." + g }
func PCConfigKey(pc string) string   { return "pcs." + pc }

// SubjectToken makes s safe as one subject token (actors may be e-mail
// addresses; dots and wildcards would split or widen the subject).
func SubjectToken(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			b[i] = '_'
		}
	}
	return string(b)
}
