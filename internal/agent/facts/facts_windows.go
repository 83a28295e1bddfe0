//go:build windows

package facts

import (
	"context"
	"fmt"
	"slices"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// osBuild is CurrentBuildNumber.UBR from the registry (e.g. 22631.4460):
// what an operator compares patch levels with.
func osBuild(context.Context) string {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Windows NT\CurrentVersion`, registry.QUERY_VALUE)
	if err != nil {
		return ""
	}
	defer k.Close()
	build, _, err := k.GetStringValue("CurrentBuildNumber")
	if err != nil {
		return ""
	}
	if ubr, _, err := k.GetIntegerValue("UBR"); err == nil {
		return fmt.Sprintf("%s.%d", build, ubr)
	}
	return build
}

// loggedInUsers are the users of the active and disconnected sessions,
// from their session tokens (the agent runs as SYSTEM, which may read
// them), as DOMAIN\user.
func loggedInUsers(context.Context) []string {
	names := []string{}
	var sessions *windows.WTS_SESSION_INFO
	var count uint32
	if err := windows.WTSEnumerateSessions(0, 0, 1, &sessions, &count); err != nil {
		return names
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(sessions)))
	for _, s := range unsafe.Slice(sessions, count) {
		if s.State != windows.WTSActive && s.State != windows.WTSDisconnected {
			continue
		}
		var tok windows.Token
		if err := windows.WTSQueryUserToken(s.SessionID, &tok); err != nil {
			continue
		}
		u, err := tok.GetTokenUser()
		if err == nil {
			if acct, domain, _, err := u.User.Sid.LookupAccount(""); err == nil {
				n := domain + `\` + acct
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
		tok.Close()
	}
	slices.Sort(names)
	return names
}
