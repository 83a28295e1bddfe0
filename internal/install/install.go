// Package install renders the installer scripts of SPEC §13: the text
// GET /api/install/{os} answers, a POSIX sh script for linux (systemd) and
// darwin (launchd) and a PowerShell script for windows (a Windows
// service). The script downloads the release for the machine's arch from
// GET /api/releases/{version}/{os}-{arch} with the same enrollment token,
// checks its SHA-256 against the X-Kanade-Sha256 header, installs the
// binary and the service, enrolls (kanade-agent enroll) and then starts
// the service.
//
// The templates are embedded; every value is validated here (the
// version by release.ValidVersion, the token's charset, the server URL)
// and shell-quoted as it goes in, so nothing a request carries can become
// script.
package install

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"text/template"

	"github.com/kanade-fleet/kanade/internal/enrollment"
	"github.com/kanade-fleet/kanade/internal/release"
)

//go:embed unix.sh.tmpl windows.ps1.tmpl
var files embed.FS

var templates = template.Must(template.New("install").Funcs(template.FuncMap{
	"sq":      ShellQuote,
	"psq":     PowerShellQuote,
	"psqList": psqList,
}).ParseFS(files, "*.tmpl"))

// ErrInvalid wraps every validation error of Script.
var ErrInvalid = errors.New("invalid installer parameter")

// FieldError names the offending parameter.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Params is what a script is made for.
type Params struct {
	OS      string   // linux, darwin or windows
	Server  string   // the backend's base URL: downloads and enrollment go there
	Token   string   // the enrollment token: authorises the download, then enrolls
	Version string   // the release to install
	Arches  []string // the arches Version has a binary of for OS
}

// Validate checks every field.
func (p Params) Validate() error {
	if !slices.Contains(release.OSes, p.OS) {
		return &FieldError{"os", fmt.Sprintf("%q is not one of %s", p.OS, strings.Join(release.OSes, ", "))}
	}
	if err := ValidServer(p.Server); err != nil {
		return err
	}
	if !enrollment.WellFormedToken(p.Token) {
		return &FieldError{"token", "not an enrollment token (letters, digits, '-' and '_' only)"}
	}
	if err := release.ValidVersion(p.Version); err != nil {
		return &FieldError{"version", err.Error()}
	}
	if len(p.Arches) == 0 {
		return &FieldError{"arches", "no arch has a release"}
	}
	for _, a := range p.Arches {
		if err := release.ValidPlatform(p.OS, a); err != nil {
			return &FieldError{"arches", err.Error()}
		}
	}
	return nil
}

// ValidServer accepts an http(s) base URL: a host (name, IPv4 or
// bracketed IPv6) and optional port, no user, path, query or fragment.
func ValidServer(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return &FieldError{"server", fmt.Sprintf("%q is not an http(s) URL of a host", s)}
	}
	if !ValidHost(u.Host) {
		return &FieldError{"server", fmt.Sprintf("host %q: letters, digits and . - : [ ] only", u.Host)}
	}
	return nil
}

// ValidHost accepts a Host header value that can go into a URL as is:
// 1–255 of letters, digits, '.', '-', ':', '[' and ']'.
func ValidHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r)) {
			return false
		}
	}
	return true
}

// view is what the templates see.
type view struct {
	Params
	OSTitle, ServiceKind, ServiceTool, ArchList string
}

// Script renders the installer for p.OS.
func Script(p Params) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	v := view{Params: p, ArchList: strings.Join(p.Arches, " ")}
	name := "unix.sh.tmpl"
	switch p.OS {
	case "linux":
		v.OSTitle, v.ServiceKind, v.ServiceTool = "Linux", "systemd", "systemctl"
	case "darwin":
		v.OSTitle, v.ServiceKind, v.ServiceTool = "macOS", "launchd", "launchctl"
	case "windows":
		name = "windows.ps1.tmpl"
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, v); err != nil {
		return nil, fmt.Errorf("installer for %s: %w", p.OS, err)
	}
	return b.Bytes(), nil
}

// ContentType is the media type of p.OS's script.
func ContentType(goos string) string {
	if goos == "windows" {
		return "text/plain; charset=utf-8" // iwr | iex wants text, not a download
	}
	return "text/x-shellscript; charset=utf-8"
}

// ShellQuote quotes s for POSIX sh: one single-quoted word.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// PowerShellQuote quotes s as a PowerShell verbatim string. PowerShell
// also closes a single-quoted string at the typographic quotes, so they
// are doubled like the ASCII one.
func PowerShellQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

func psqList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = PowerShellQuote(s)
	}
	return strings.Join(q, ", ")
}
