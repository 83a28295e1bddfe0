package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

// The agent's log lines are JSON objects with the backend's keys, so the
// same pipeline (jq, Loki, ...) reads both.
func TestLoggerIsJSON(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, slog.LevelInfo)
	log.Debug("hidden")
	log.Info("run finished", "exec_id", "e1", "pc_id", "pc-1")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	if line["level"] != "INFO" || line["msg"] != "run finished" || line["exec_id"] != "e1" || line["pc_id"] != "pc-1" || line["time"] == nil {
		t.Fatalf("line: %v", line)
	}
}
