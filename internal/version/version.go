// Package version is the build's version, set with -ldflags
// "-X github.com/kanade-fleet/kanade/internal/version.Version=…".
package version

import "runtime/debug"

// Version and Commit are stamped at build time.
var (
	Version = "0.1.0-dev"
	Commit  = ""
)

func init() {
	if Commit != "" {
		return
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				Commit = s.Value[:12]
			}
		}
	}
}

// String is "version (commit)".
func String() string {
	if Commit == "" {
		return Version
	}
	return Version + " (" + Commit + ")"
}
