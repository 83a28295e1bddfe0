package version

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}}
	cases := []struct {
		name, ver, commit string
		info              *debug.BuildInfo
		ok                bool
		wantVer, wantCmt  string
	}{
		{"stamped wins", "1.2.3", "", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: vcs}, true, "1.2.3", "0123456789ab"},
		{"module version", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, true, "v1.4.0", ""},
		{"devel falls back", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, true, Default, "0123456789ab"},
		{"no build info", "", "", nil, false, Default, ""},
		{"stamped commit kept", "", "abc", &debug.BuildInfo{Settings: vcs}, true, Default, "abc"},
	}
	for _, c := range cases {
		v, cm := resolve(c.ver, c.commit, c.info, c.ok)
		if v != c.wantVer || cm != c.wantCmt {
			t.Errorf("%s: got (%q, %q), want (%q, %q)", c.name, v, cm, c.wantVer, c.wantCmt)
		}
	}
}
