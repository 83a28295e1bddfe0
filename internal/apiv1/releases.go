package apiv1

import "time"

// Release is one stored agent binary (GET /api/releases; SPEC §13).
type Release struct {
	Version    string    `json:"version"`
	OS         string    `json:"os"`
	Arch       string    `json:"arch"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	KeyID      string    `json:"key_id"` // command-signing key that signed it
	UploadedAt time.Time `json:"uploaded_at"`
	// Error is set when the stored object is not a valid signed release
	// (written by hand): it is listed so it can be deleted, never served.
	Error string `json:"error,omitempty"`
}

// ReleaseUpload is the query of POST /api/releases (the body is the
// binary, application/octet-stream).
type ReleaseUpload struct {
	Version string `query:"version"`
	OS      string `query:"os"`
	Arch    string `query:"arch"`
}

// DeletedRelease answers DELETE /api/releases/{version}.
type DeletedRelease struct {
	Version string   `json:"version"`
	Deleted []string `json:"deleted"` // object names removed, one per platform
	// TargetOf lists the config scopes (global, groups.<g>, pcs.<pc>)
	// whose target_version is still this version: their agents can no
	// longer download it until it is uploaded again or the key changes.
	TargetOf []string `json:"target_of,omitempty"`
}

// AgentVersion is one row of the fleet's version distribution (GET
// /api/agents/versions): how many PCs run a version, and where their
// self-update stands.
type AgentVersion struct {
	Version string `json:"version"`
	Agents  int    `json:"agents"`
	Online  int    `json:"online"`
	// States counts the PCs on this version by update_state (current,
	// downloading, restarting, failed, quarantined).
	States map[string]int `json:"states"`
	// Quarantined counts the PCs that quarantined this version (rolled
	// back from it), whatever they run now.
	Quarantined int `json:"quarantined"`
}
