//go:build !windows

package facts

import (
	"context"
	"os/exec"
	"runtime"
	"slices"
	"strings"

	"github.com/shirou/gopsutil/v4/host"
)

// osBuild: macOS's build number (sw_vers); elsewhere the kernel version
// says it all and os_build stays empty.
func osBuild(ctx context.Context) string {
	if runtime.GOOS != "darwin" {
		return ""
	}
	out, err := exec.CommandContext(ctx, "sw_vers", "-buildVersion").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// loggedInUsers from utmp (gopsutil), each name once.
func loggedInUsers(ctx context.Context) []string {
	us, err := host.UsersWithContext(ctx)
	if err != nil {
		return []string{}
	}
	names := []string{}
	for _, u := range us {
		if u.User != "" && !slices.Contains(names, u.User) {
			names = append(names, u.User)
		}
	}
	slices.Sort(names)
	return names
}
