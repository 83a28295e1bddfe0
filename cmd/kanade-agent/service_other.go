//go:build !windows

package main

import (
	"context"
	"errors"
)

func isService() bool { return false }

func runService(func(context.Context) error) error { return errors.New("not a Windows service") }

func serviceCommand(string, []string) error {
	return errors.New("service management is Windows-only; use deploy/kanade-agent.service (systemd) " +
		"or deploy/com.kanade.agent.plist (launchd), see docs/agent.md")
}
