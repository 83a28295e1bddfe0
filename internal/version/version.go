// Package version is the one version string of all three binaries
// (kanade, kanade-agent, kanade-backend). Releases stamp it with
//
//	-ldflags "-X github.com/kanade-fleet/kanade/internal/version.Version=1.2.3"
//
// and an unstamped build falls back to the module version Go recorded
// (`go install …@v1.2.3`), then to Default.
package version

import "runtime/debug"

// Default is the version of a development build from a work tree.
const Default = "0.1.0-dev"

// Version and Commit are stamped at build time.
var (
	Version = ""
	Commit  = ""
)

func init() {
	info, ok := debug.ReadBuildInfo()
	Version, Commit = resolve(Version, Commit, info, ok)
}

// resolve applies the fallbacks: the stamped value, else the build info's
// module version (not "(devel)"), else Default; the commit from the VCS
// stamp when not given.
func resolve(ver, commit string, info *debug.BuildInfo, ok bool) (string, string) {
	if ver == "" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	if ver == "" {
		ver = Default
	}
	if commit == "" && ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				commit = s.Value[:12]
			}
		}
	}
	return ver, commit
}

// String is "version (commit)".
func String() string {
	if Commit == "" {
		return Version
	}
	return Version + " (" + Commit + ")"
}
