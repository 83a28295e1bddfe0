package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

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
