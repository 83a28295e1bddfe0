// Package facts collects an agent's built-in inventory (SPEC §14) with
// gopsutil, and the OS's own sources where gopsutil has no answer
// (Windows build and logged-in users: facts_windows.go).
package facts

import (
	"context"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"

	"github.com/kanade-fleet/kanade/internal/wire"
)

// pseudo filesystems are not disks an operator asks about.
var pseudo = []string{"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs",
	"efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs", "securityfs",
	"squashfs", "sysfs", "tmpfs", "tracefs", "devfs", "nullfs", "fdescfs"}

// Collect gathers the facts. A source that fails leaves its fields empty:
// a partial report is more use than none.
func Collect(ctx context.Context, agentVersion string) wire.Facts {
	f := wire.Facts{OSFamily: runtime.GOOS, Arch: runtime.GOARCH, AgentVersion: agentVersion,
		CPUCores: runtime.NumCPU(), Disks: []wire.Disk{}, Interfaces: []wire.Interface{}, LoggedInUsers: []string{}}
	f.Hostname, _ = os.Hostname()
	if hi, err := host.InfoWithContext(ctx); err == nil {
		f.OSVersion = strings.TrimSpace(hi.Platform + " " + hi.PlatformVersion)
		f.Kernel = hi.KernelVersion
		if hi.BootTime > 0 {
			f.BootTime = time.Unix(int64(hi.BootTime), 0).UTC()
		}
	}
	f.OSBuild = osBuild(ctx)
	if ci, err := cpu.InfoWithContext(ctx); err == nil && len(ci) > 0 {
		f.CPUModel = strings.TrimSpace(ci[0].ModelName)
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		f.MemoryBytes = vm.Total
	}
	if parts, err := disk.PartitionsWithContext(ctx, false); err == nil {
		seen := map[string]bool{}
		for _, p := range parts {
			if slices.Contains(pseudo, p.Fstype) || seen[p.Mountpoint] {
				continue
			}
			u, err := disk.UsageWithContext(ctx, p.Mountpoint)
			if err != nil || u.Total == 0 {
				continue
			}
			seen[p.Mountpoint] = true
			f.Disks = append(f.Disks, wire.Disk{Mount: p.Mountpoint, FS: p.Fstype, SizeBytes: u.Total, FreeBytes: u.Free})
		}
	}
	if ifs, err := net.InterfacesWithContext(ctx); err == nil {
		for _, i := range ifs {
			ips := []string{}
			for _, a := range i.Addrs {
				ips = append(ips, a.Addr)
			}
			if len(ips) == 0 && i.HardwareAddr == "" {
				continue
			}
			f.Interfaces = append(f.Interfaces, wire.Interface{Name: i.Name, MAC: i.HardwareAddr, IPs: ips})
		}
	}
	f.LoggedInUsers = loggedInUsers(ctx)
	f.Timezone = timezone()
	sort.Slice(f.Disks, func(i, j int) bool { return f.Disks[i].Mount < f.Disks[j].Mount })
	sort.Slice(f.Interfaces, func(i, j int) bool { return f.Interfaces[i].Name < f.Interfaces[j].Name })
	return truncate(f)
}

// truncate keeps a report within what the backend accepts.
func truncate(f wire.Facts) wire.Facts {
	n := wire.MaxInventoryItems
	if len(f.Disks) > n {
		f.Disks = f.Disks[:n]
	}
	if len(f.Interfaces) > n {
		f.Interfaces = f.Interfaces[:n]
	}
	for i := range f.Interfaces {
		if len(f.Interfaces[i].IPs) > n {
			f.Interfaces[i].IPs = f.Interfaces[i].IPs[:n]
		}
	}
	if len(f.LoggedInUsers) > n {
		f.LoggedInUsers = f.LoggedInUsers[:n]
	}
	return f
}

func timezone() string {
	if tz := os.Getenv("TZ"); tz != "" {
		return tz
	}
	if l := time.Local.String(); l != "Local" {
		return l
	}
	name, _ := time.Now().Zone()
	return name
}

// Stable reports whether a and b differ only in what changes all the time
// (free disk space): such a change waits for the interval.
func Stable(a, b wire.Facts) bool {
	strip := func(f wire.Facts) wire.Facts {
		f.Disks = slices.Clone(f.Disks)
		for i := range f.Disks {
			f.Disks[i].FreeBytes = 0
		}
		return f
	}
	x, y := strip(a), strip(b)
	return equal(x, y)
}

func equal(a, b wire.Facts) bool {
	if a.Hostname != b.Hostname || a.OSFamily != b.OSFamily || a.OSVersion != b.OSVersion || a.OSBuild != b.OSBuild ||
		a.Kernel != b.Kernel || a.Arch != b.Arch || a.CPUModel != b.CPUModel || a.CPUCores != b.CPUCores ||
		a.MemoryBytes != b.MemoryBytes || !a.BootTime.Equal(b.BootTime) || a.Timezone != b.Timezone ||
		a.AgentVersion != b.AgentVersion || !slices.Equal(a.Disks, b.Disks) || !slices.Equal(a.LoggedInUsers, b.LoggedInUsers) ||
		len(a.Interfaces) != len(b.Interfaces) {
		return false
	}
	for i := range a.Interfaces {
		if a.Interfaces[i].Name != b.Interfaces[i].Name || a.Interfaces[i].MAC != b.Interfaces[i].MAC ||
			!slices.Equal(a.Interfaces[i].IPs, b.Interfaces[i].IPs) {
			return false
		}
	}
	return true
}
