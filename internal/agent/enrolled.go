package agent

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kanade-fleet/kanade/internal/agent/enroll"
)

// OSFamily is the os_family this agent reports (SPEC §3).
func OSFamily() string { return osFamily() }

// UseEnrollment switches o to the PC's own identity when o.DataDir holds
// an enrollment (kanade-agent enroll): pc_id, broker URLs (unless o.NATSURL
// is set), broker.creds and the command-signing keys, with signatures
// required. A shared token or user given as well is dropped: the enrolled
// credential is the PC's identity. It reports whether the PC is enrolled.
func UseEnrollment(o *Options) (bool, error) {
	e, err := enroll.Load(o.DataDir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("agent: %w", err)
	}
	if o.PCID != "" && o.PCID != e.PCID {
		return false, fmt.Errorf("agent: --id %s differs from the pc_id this data dir is enrolled as (%s); drop --id or enroll again with --force", o.PCID, e.PCID)
	}
	kr, err := e.Keyring()
	if err != nil {
		return false, fmt.Errorf("agent: %s: %w; enroll again with --force", enroll.EnrollmentFile, err)
	}
	o.PCID = e.PCID
	if o.NATSURL == "" {
		o.NATSURL = strings.Join(e.BrokerURLs, ",")
	}
	o.CredsFile = enroll.CredsPath(o.DataDir)
	o.Keyring = kr
	o.RequireSigned = true
	o.JoinedAt = e.EnrolledAt
	o.NATSToken, o.NATSUser, o.NATSPassword = "", "", ""
	return true, nil
}
