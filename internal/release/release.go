// Package release is the contract of an agent release (SPEC §13), shared by
// the backend that stores and signs it and the agent that verifies it
// before swapping its own binary.
//
// A release is one object in object store agent_releases, named
// kanade-agent/<version>/<os>-<arch>. Its metadata carries the statement
// (version, os, arch, sha256, size) and its headers the Ed25519 signature
// of that statement by the command-signing key (Kanade-Key-Id,
// Kanade-Signature, as internal/sign writes them). The signed subject is
// Subject(), which starts with "kanade-release/": no command or kill is
// published on such a subject, so a release signature never verifies as
// a command and a command signature never verifies as a release.
package release

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kanade-fleet/kanade/internal/sign"
)

// Prefix starts every release object's name.
const Prefix = "kanade-agent/"

// Metadata keys of a release object.
const (
	MetaVersion = "version"
	MetaOS      = "os"
	MetaArch    = "arch"
	MetaSHA256  = "sha256"
	MetaSize    = "size"
)

// OSes and Arches an agent is built for.
var (
	OSes   = []string{"linux", "darwin", "windows"}
	Arches = []string{"amd64", "arm64"}
)

// ErrInvalid wraps every validation error of this package.
var ErrInvalid = errors.New("invalid release")

// FieldError names the offending field.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// ValidVersion accepts what `go build -ldflags -X github.com/kanade-fleet/kanade/internal/version.Version=` is given
// in practice: 1–64 of letters, digits, '.', '_', '+' and '-', starting with
// a letter or digit. No '/' (it is a path segment of the object name).
func ValidVersion(v string) error {
	if v == "" || len(v) > 64 {
		return &FieldError{"version", "must be 1 to 64 characters"}
	}
	for i, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !ok && (i == 0 || !strings.ContainsRune("._+-", r)) {
			return &FieldError{"version", fmt.Sprintf("%q: letters, digits and . _ + - only, starting with a letter or digit", v)}
		}
	}
	return nil
}

// ValidPlatform checks os and arch against the supported lists.
func ValidPlatform(goos, arch string) error {
	if !contains(OSes, goos) {
		return &FieldError{"os", fmt.Sprintf("%q is not one of %s", goos, strings.Join(OSes, ", "))}
	}
	if !contains(Arches, arch) {
		return &FieldError{"arch", fmt.Sprintf("%q is not one of %s", arch, strings.Join(Arches, ", "))}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// ObjectName is the object store name of a release binary.
func ObjectName(version, goos, arch string) string {
	return Prefix + version + "/" + goos + "-" + arch
}

// ParseObjectName splits an object name made by ObjectName.
func ParseObjectName(name string) (version, goos, arch string, ok bool) {
	rest, found := strings.CutPrefix(name, Prefix)
	if !found {
		return "", "", "", false
	}
	version, plat, found := strings.Cut(rest, "/")
	if !found {
		return "", "", "", false
	}
	goos, arch, found = strings.Cut(plat, "-")
	if !found || ValidVersion(version) != nil || ValidPlatform(goos, arch) != nil {
		return "", "", "", false
	}
	return version, goos, arch, true
}

// Statement is what a release signature covers.
type Statement struct {
	Version string `json:"version"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	SHA256  string `json:"sha256"` // lowercase hex of the binary
	Size    int64  `json:"size"`
}

// Validate checks every field.
func (s Statement) Validate() error {
	if err := ValidVersion(s.Version); err != nil {
		return err
	}
	if err := ValidPlatform(s.OS, s.Arch); err != nil {
		return err
	}
	if b, err := hex.DecodeString(s.SHA256); err != nil || len(b) != 32 || strings.ToLower(s.SHA256) != s.SHA256 {
		return &FieldError{"sha256", "must be 64 lowercase hex digits"}
	}
	if s.Size <= 0 {
		return &FieldError{"size", "must be positive"}
	}
	return nil
}

// Name is the statement's object name.
func (s Statement) Name() string { return ObjectName(s.Version, s.OS, s.Arch) }

// Subject is the signed subject: never a subject anything is published on.
func (s Statement) Subject() string { return "kanade-release/" + s.Name() }

// Payload is the canonical signed bytes (fields in a fixed order).
func (s Statement) Payload() []byte {
	b, _ := json.Marshal(s) // a struct of strings and an int: cannot fail
	return b
}

// Metadata is the statement as object metadata.
func (s Statement) Metadata() map[string]string {
	return map[string]string{MetaVersion: s.Version, MetaOS: s.OS, MetaArch: s.Arch,
		MetaSHA256: s.SHA256, MetaSize: strconv.FormatInt(s.Size, 10)}
}

// FromMetadata reads a statement back from object metadata and checks it
// names the object it is attached to.
func FromMetadata(name string, md map[string]string) (Statement, error) {
	size, err := strconv.ParseInt(md[MetaSize], 10, 64)
	if err != nil {
		return Statement{}, &FieldError{"size", "missing or not a number"}
	}
	s := Statement{Version: md[MetaVersion], OS: md[MetaOS], Arch: md[MetaArch], SHA256: md[MetaSHA256], Size: size}
	if err := s.Validate(); err != nil {
		return Statement{}, err
	}
	if s.Name() != name {
		return Statement{}, &FieldError{"name", fmt.Sprintf("object %q carries the statement of %q", name, s.Name())}
	}
	return s, nil
}

// Sign returns the signature headers for s (store them as the object's
// headers).
func Sign(signer *sign.Signer, s Statement) map[string][]string {
	return signer.Sign(s.Subject(), s.Payload())
}

// Verify checks that headers h hold a signature of s by a key of kr.
func Verify(kr *sign.Keyring, s Statement, h map[string][]string) error {
	if err := sign.Verify(kr, s.Subject(), h, s.Payload()); err != nil {
		return fmt.Errorf("release %s: %w", s.Name(), err)
	}
	return nil
}

// KeyID is the signing key id in headers h ("" when unsigned).
func KeyID(h map[string][]string) string {
	if v := h[sign.HeaderKeyID]; len(v) == 1 {
		return v[0]
	}
	return ""
}
