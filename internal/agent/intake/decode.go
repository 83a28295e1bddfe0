package intake

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
)

// Addressed reports whether a command on subject is meant for pc, given a
// membership test for groups. Live subscriptions only deliver our subjects,
// but catch-up, shared connections and a group left a moment ago can bring
// others.
func Addressed(pc string, member func(string) bool, subject string) bool {
	switch {
	case subject == bus.SubjCommandsAll:
		return true
	case strings.HasPrefix(subject, "commands.pc."):
		return strings.TrimPrefix(subject, "commands.pc.") == pc
	case strings.HasPrefix(subject, "commands.group."):
		g := strings.TrimPrefix(subject, "commands.group.")
		return wire.ValidID(g) && member != nil && member(g)
	}
	return false
}

// SafeToken reports whether s can be used as one NATS subject token (it
// becomes part of results.<request_id>, events.started.<exec_id>.<pc> and
// kill.<exec_id>): non-empty, bounded, valid UTF-8, no '.', wildcards,
// whitespace or control characters.
func SafeToken(s string) bool {
	if s == "" || len(s) > 200 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '.' || r == '*' || r == '>' || r == '\u00a0' {
			return false
		}
	}
	return true
}

// Decode turns one delivery into a Command this PC must consider, or says
// why not. It is the only path untrusted command bytes take into the agent.
func Decode(pc string, member func(string) bool, subject string, data []byte) (wire.Command, error) {
	if !Addressed(pc, member, subject) {
		return wire.Command{}, fmt.Errorf("subject %q is not addressed to %s", subject, pc)
	}
	cmd, err := wire.DecodeCommand(data)
	if err != nil {
		return wire.Command{}, err
	}
	if !wire.ValidID(cmd.ID) {
		return cmd, fmt.Errorf("%w: id %q", wire.ErrInvalid, cmd.ID)
	}
	if !SafeToken(cmd.RequestID) || !SafeToken(cmd.ExecID) {
		return cmd, fmt.Errorf("%w: request_id %q / exec_id %q unusable in a subject", wire.ErrInvalid, cmd.RequestID, cmd.ExecID)
	}
	if cmd.RunAs != "" && cmd.RunAs != "system" && cmd.RunAs != "user" {
		return cmd, fmt.Errorf("%w: run_as %q", wire.ErrInvalid, cmd.RunAs)
	}
	return cmd, nil
}
