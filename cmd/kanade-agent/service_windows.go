//go:build windows

package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

const serviceName = "kanade-agent"

func isService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// runService hands control to the service control manager until stopped.
func runService(run func(context.Context) error) error {
	return svc.Run(serviceName, &handler{run: run})
}

type handler struct{ run func(context.Context) error }

func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.run(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case <-done:
			// The agent ended without being asked (it logged why): report
			// a service-specific failure so the recovery actions restart it.
			return true, 1
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: 40000}
				cancel()
				<-done
				return false, 0
			}
		}
	}
}

// serviceCommand installs, removes, starts or stops the service. install
// records the given flags as the service's arguments.
func serviceCommand(cmd string, args []string) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service manager (run as Administrator): %w", err)
	}
	defer m.Disconnect()
	if cmd == "install" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		s, err := m.CreateService(serviceName, exe, mgr.Config{DisplayName: "Kanade Agent",
			Description: "kanade endpoint agent: runs jobs sent through the kanade broker",
			StartType:   mgr.StartAutomatic, DelayedAutoStart: true}, args...)
		if err != nil {
			return fmt.Errorf("create service: %w", err)
		}
		defer s.Close()
		actions := []mgr.RecoveryAction{
			{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
			{Type: mgr.ServiceRestart, Delay: 15 * time.Second},
			{Type: mgr.ServiceRestart, Delay: time.Minute},
		}
		if err := s.SetRecoveryActions(actions, 24*60*60); err != nil {
			return fmt.Errorf("recovery actions: %w", err)
		}
		// Exit codes other than a crash (e.g. self-update's exit) restart too.
		if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
			return fmt.Errorf("recovery flag: %w", err)
		}
		fmt.Println("installed service", serviceName)
		return nil
	}
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("open service %s: %w", serviceName, err)
	}
	defer s.Close()
	switch cmd {
	case "uninstall":
		_, _ = s.Control(svc.Stop)
		if err := s.Delete(); err != nil {
			return fmt.Errorf("delete service: %w", err)
		}
	case "start":
		if err := s.Start(); err != nil {
			return fmt.Errorf("start service: %w", err)
		}
	case "stop":
		if _, err := s.Control(svc.Stop); err != nil {
			return fmt.Errorf("stop service: %w", err)
		}
	}
	fmt.Println(cmd, "ok:", serviceName)
	return nil
}
