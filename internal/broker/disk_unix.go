//go:build unix

package broker

import "syscall"

// diskStat returns the free (for unprivileged users) and total bytes of the
// filesystem holding path, and its device.
func diskStat(path string) (free, total, dev uint64, ok bool) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil {
		return 0, 0, 0, false
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, 0, 0, false
	}
	return uint64(fs.Bavail) * uint64(fs.Bsize), uint64(fs.Blocks) * uint64(fs.Bsize), uint64(st.Dev), true //nolint:unconvert // field types differ per OS
}
