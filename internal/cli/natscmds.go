package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// connectNATS dials the broker once, without retries: the CLI should fail
// fast and say where it tried.
func (a *app) connectNATS() (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("kanade-cli"), nats.Timeout(5 * time.Second), nats.MaxReconnects(0),
		nats.NoCallbacksAfterClientClose()}
	if a.natsToken != "" {
		opts = append(opts, nats.Token(a.natsToken))
	}
	if a.natsUser != "" {
		opts = append(opts, nats.UserInfo(a.natsUser, a.natsPass))
	}
	nc, err := nats.Connect(a.natsURL, opts...)
	if err != nil {
		hint := "is the broker (kanade-backend) running? set --nats-url or KANADE_NATS_URL"
		if errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization") {
			hint = "set --nats-token/KANADE_NATS_TOKEN to the broker's token, or --nats-user/KANADE_NATS_USER and KANADE_NATS_PASSWORD to its operator credential"
		}
		return nil, fmt.Errorf("cannot connect to the NATS broker at %s (%v); %s", a.natsURL, err, hint)
	}
	return nc, nil
}

// subjectSafe rejects ids that would change a subject's meaning.
func subjectSafe(what, id string) error {
	if id == "" || strings.ContainsAny(id, ".*> \t\r\n") {
		return usagef("%s %q must not be empty or contain '.', '*', '>' or spaces", what, id)
	}
	return nil
}

func (a *app) runCmd() *cobra.Command {
	var (
		shell   string
		timeout time.Duration
		jsonOut bool
		execID  string
	)
	cmd := &cobra.Command{
		Use:   "run <pc_id> [--shell sh] [--timeout 60s] -- <script...>",
		Short: "Run an ad-hoc script on one PC, straight through the broker",
		Long: `Run an ad-hoc script on one PC. The command goes straight to the NATS broker
(commands.pc.<pc_id>), not through the backend, so it works while the backend
is down. The script's stdout and stderr are printed as it wrote them and kanade
exits with the script's exit code (1 when the remote code does not fit an exit
status, e.g. -1 for killed or timed out). Use "-" as the script to read it
from stdin.`,
		Example: `  kanade run web-01 -- uname -a
  kanade run win-07 --shell powershell -- 'Get-Service spooler'
  kanade run web-01 --json -- 'df -h'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pc := args[0]
			if !wire.ValidPCID(pc) {
				return usagef("pc_id %q is not valid (letters, digits, '_' and '-')", pc)
			}
			rest := args[1:]
			if dash := cmd.ArgsLenAtDash(); dash > 1 {
				return usagef("put exactly one pc_id before --")
			}
			script := strings.Join(rest, " ")
			if script == "-" {
				b, err := io.ReadAll(a.opt.In)
				if err != nil {
					return fmt.Errorf("read script from stdin: %w", err)
				}
				script = string(b)
			}
			if strings.TrimSpace(script) == "" {
				return usagef("no script given: kanade run %s -- <script>", pc)
			}
			if !wire.ValidShell(shell) {
				return usagef("--shell %q: want one of %s", shell, strings.Join(wire.Shells, ", "))
			}
			if timeout < time.Second {
				return usagef("--timeout %s: want at least 1s", timeout)
			}
			if execID == "" {
				execID = uuid.NewString()
			} else if err := subjectSafe("--exec-id", execID); err != nil {
				return err
			}
			return a.run(cmd.Context(), pc, shell, script, timeout, execID, jsonOut || a.output == "json")
		},
	}
	f := cmd.Flags()
	f.StringVar(&shell, "shell", "sh", "shell: "+strings.Join(wire.Shells, "|"))
	f.DurationVar(&timeout, "timeout", 60*time.Second, "script timeout on the agent")
	f.BoolVar(&jsonOut, "json", false, "print the whole ExecResult as JSON instead of the script's output")
	f.StringVar(&execID, "exec-id", "", "exec_id to use (default: a new UUID); kanade kill takes it")
	return cmd
}

func (a *app) run(ctx context.Context, pc, shell, script string, timeout time.Duration, execID string, jsonOut bool) error {
	nc, err := a.connectNATS()
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	c := wire.Command{
		ID:          wire.AdhocJobID,
		Version:     "0.0.0",
		RequestID:   uuid.NewString(),
		ExecID:      execID,
		Shell:       shell,
		Script:      script,
		TimeoutSecs: int64(math.Ceil(timeout.Seconds())),
		RunAs:       "system",
	}
	// Subscribe before publishing, so a fast agent's result is not missed.
	sub, err := nc.SubscribeSync(bus.Result(c.RequestID))
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", bus.Result(c.RequestID), err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("subscribe to results: %w", err)
	}
	data, _ := json.Marshal(c)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = js.Publish(pctx, bus.CommandsPC(pc), data)
	cancel()
	if err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("publish to %s: no JetStream stream %s on %s; start kanade-backend once so it creates the streams", bus.CommandsPC(pc), bus.StreamExec, a.natsURL)
		}
		return fmt.Errorf("publish to %s: %w", bus.CommandsPC(pc), err)
	}
	wait := timeout + 10*time.Second
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		msg, err := sub.NextMsgWithContext(wctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("no result from %s within %s (exec_id %s); is the agent online? try `kanade ping %s`; `kanade results list --exec %s` shows it later", pc, wait, execID, pc, execID)
			}
			return fmt.Errorf("wait for the result: %w", err)
		}
		r, err := wire.DecodeExecResult(msg.Data)
		if err != nil {
			fmt.Fprintf(a.opt.Err, "kanade: ignoring an invalid result message: %v\n", err)
			continue
		}
		if jsonOut {
			if err := a.emitJSON(msg.Data); err != nil {
				return err
			}
		} else {
			_, _ = io.WriteString(a.opt.Out, r.Stdout)
			_, _ = io.WriteString(a.opt.Err, r.Stderr)
		}
		code := r.ExitCode
		note := ""
		switch {
		case r.TimedOut:
			note = fmt.Sprintf("timed out after %s on %s", timeout, pc)
		case r.Killed:
			note = "killed on " + pc
		case r.Skipped:
			note = fmt.Sprintf("skipped by %s (exit code %d)", pc, code)
		}
		if code < 0 || code > 255 {
			if note == "" {
				note = fmt.Sprintf("remote exit code %d", code)
			}
			code = 1
		}
		if note != "" && !jsonOut {
			fmt.Fprintf(a.opt.Err, "kanade: %s\n", note)
		}
		if code != 0 {
			return &ExitError{Code: code}
		}
		return nil
	}
}

// emitJSON prints a JSON document indented, whatever -o says.
func (a *app) emitJSON(raw []byte) error {
	saved := a.output
	a.output = "json"
	defer func() { a.output = saved }()
	return a.emit(raw, nil)
}

func (a *app) pingCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "ping <pc_id>",
		Short: "Ask one agent for a fresh heartbeat (NATS request/reply)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pc := args[0]
			if !wire.ValidPCID(pc) {
				return usagef("pc_id %q is not valid (letters, digits, '_' and '-')", pc)
			}
			nc, err := a.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			start := time.Now()
			msg, err := nc.Request(bus.Ping(pc), nil, timeout)
			if err != nil {
				if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) {
					return fmt.Errorf("agent %s did not answer within %s: it is offline or not connected to %s", pc, timeout, a.natsURL)
				}
				return fmt.Errorf("ping %s: %w", pc, err)
			}
			rtt := time.Since(start)
			hb, err := wire.DecodeHeartbeat(msg.Data)
			if err != nil {
				return fmt.Errorf("agent %s sent an invalid reply: %w", pc, err)
			}
			return a.emit(msg.Data, func(w io.Writer) error {
				return kv(w, "pc_id", hb.PCID, "hostname", hb.Hostname, "os", strings.TrimSpace(hb.OSFamily+" "+hb.OSVersion),
					"arch", hb.Arch, "agent_version", hb.AgentVersion, "at", a.when(hb.At), "boot_time", a.when(hb.BootTime),
					"running", strconv.Itoa(hb.Running), "rtt", a.opt.DurText(rtt))
			})
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the reply")
	return cmd
}

func (a *app) killCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "kill <exec_id>",
		Short: "Terminate an execution's running processes on every agent (NATS kill.<exec_id>)",
		Long: `Publish kill.<exec_id> on the broker: every agent running that execution
terminates its process tree, and the run reports killed with exit code -1.
Goes straight to NATS, so it works while the backend is down.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := subjectSafe("exec_id", id); err != nil {
				return err
			}
			nc, err := a.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := nc.Publish(bus.Kill(id), nil); err != nil {
				return fmt.Errorf("publish %s: %w", bus.Kill(id), err)
			}
			if err := nc.FlushTimeout(5 * time.Second); err != nil {
				return fmt.Errorf("publish %s: %w", bus.Kill(id), err)
			}
			return a.emitValue(map[string]string{"exec_id": id, "subject": bus.Kill(id)}, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "kill sent for execution %s (%s)\n", id, bus.Kill(id))
				return err
			})
		},
	}
}

// JetStream status, as shown by `kanade jetstream status -o json`.
type jsStatus struct {
	Streams      []jsStream `json:"streams"`
	KV           []jsKV     `json:"kv"`
	ObjectStores []jsObj    `json:"object_stores"`
}

type jsStream struct {
	Name      string       `json:"name"`
	Subjects  []string     `json:"subjects"`
	Messages  uint64       `json:"messages"`
	Bytes     uint64       `json:"bytes"`
	Consumers []jsConsumer `json:"consumers"`
}

type jsConsumer struct {
	Name       string `json:"name"`
	Lag        uint64 `json:"lag"`         // messages not yet delivered
	AckPending int    `json:"ack_pending"` // delivered, not yet acknowledged
}

type jsKV struct {
	Bucket string `json:"bucket"`
	Values uint64 `json:"values"`
	Bytes  uint64 `json:"bytes"`
}

type jsObj struct {
	Bucket string `json:"bucket"`
	Size   uint64 `json:"size"`
}

func (a *app) jetstreamCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "jetstream", Short: "Inspect the broker's JetStream resources"}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Streams (messages, bytes, consumers and their lag), KV buckets, object stores",
		Long:  "Read straight from the NATS broker (not the backend), so it works while the backend is down.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, err := a.connectNATS()
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			st, err := jetstreamStatus(ctx, js)
			if err != nil {
				return fmt.Errorf("read JetStream status from %s: %w", a.natsURL, err)
			}
			return a.emitValue(st, func(w io.Writer) error { return a.printJSStatus(w, st) })
		},
	})
	return cmd
}

func jetstreamStatus(ctx context.Context, js jetstream.JetStream) (jsStatus, error) {
	st := jsStatus{Streams: []jsStream{}, KV: []jsKV{}, ObjectStores: []jsObj{}}
	sl := js.ListStreams(ctx)
	var infos []*jetstream.StreamInfo
	for si := range sl.Info() {
		infos = append(infos, si)
	}
	if err := sl.Err(); err != nil {
		return st, err
	}
	for _, si := range infos {
		// KV buckets and object stores are streams underneath; they get
		// their own sections.
		if strings.HasPrefix(si.Config.Name, "KV_") || strings.HasPrefix(si.Config.Name, "OBJ_") {
			continue
		}
		s := jsStream{Name: si.Config.Name, Subjects: si.Config.Subjects, Messages: si.State.Msgs, Bytes: si.State.Bytes, Consumers: []jsConsumer{}}
		stream, err := js.Stream(ctx, si.Config.Name)
		if err != nil {
			return st, err
		}
		cl := stream.ListConsumers(ctx)
		for ci := range cl.Info() {
			s.Consumers = append(s.Consumers, jsConsumer{Name: ci.Name, Lag: ci.NumPending, AckPending: ci.NumAckPending})
		}
		if err := cl.Err(); err != nil {
			return st, err
		}
		sort.Slice(s.Consumers, func(i, j int) bool { return s.Consumers[i].Name < s.Consumers[j].Name })
		st.Streams = append(st.Streams, s)
	}
	sort.Slice(st.Streams, func(i, j int) bool { return st.Streams[i].Name < st.Streams[j].Name })
	kl := js.KeyValueStores(ctx)
	for s := range kl.Status() {
		st.KV = append(st.KV, jsKV{Bucket: s.Bucket(), Values: s.Values(), Bytes: s.Bytes()})
	}
	if err := kl.Error(); err != nil {
		return st, err
	}
	sort.Slice(st.KV, func(i, j int) bool { return st.KV[i].Bucket < st.KV[j].Bucket })
	ol := js.ObjectStores(ctx)
	for s := range ol.Status() {
		st.ObjectStores = append(st.ObjectStores, jsObj{Bucket: s.Bucket(), Size: s.Size()})
	}
	if err := ol.Error(); err != nil {
		return st, err
	}
	sort.Slice(st.ObjectStores, func(i, j int) bool { return st.ObjectStores[i].Bucket < st.ObjectStores[j].Bucket })
	return st, nil
}

func (a *app) printJSStatus(w io.Writer, st jsStatus) error {
	fmt.Fprintln(w, "STREAMS")
	t := newTable(w, "NAME", "SUBJECTS", "MESSAGES", "BYTES", "CONSUMERS")
	for _, s := range st.Streams {
		t.row(s.Name, strings.Join(s.Subjects, ","), strconv.FormatUint(s.Messages, 10), bytesText(s.Bytes), strconv.Itoa(len(s.Consumers)))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nCONSUMERS")
	t = newTable(w, "STREAM", "CONSUMER", "LAG", "ACK_PENDING")
	for _, s := range st.Streams {
		for _, c := range s.Consumers {
			t.row(s.Name, c.Name, strconv.FormatUint(c.Lag, 10), strconv.Itoa(c.AckPending))
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nKV BUCKETS")
	t = newTable(w, "BUCKET", "VALUES", "BYTES")
	for _, k := range st.KV {
		t.row(k.Bucket, strconv.FormatUint(k.Values, 10), bytesText(k.Bytes))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nOBJECT STORES")
	t = newTable(w, "BUCKET", "SIZE")
	for _, o := range st.ObjectStores {
		t.row(o.Bucket, bytesText(o.Size))
	}
	return t.flush()
}

// bytesText is a human size: 512 B, 1.5 KiB, 3.2 MiB.
func bytesText(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
