package sign_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kanade-fleet/kanade/internal/sign"
)

// A typical command: an inventory script of about 1 KiB.
func benchPayload(b *testing.B) []byte {
	b.Helper()
	script := make([]byte, 1024)
	for i := range script {
		script[i] = 'a' + byte(i%26)
	}
	data, err := json.Marshal(map[string]any{"id": "inv-hw", "version": "1.0.0", "request_id": "5f1c0c8e-8a0d-4d1e-9d2a-0c6f4f6f2c11",
		"exec_id": "0b1f5f7e-3c55-4f35-a3f0-54c7b8f0b6a2", "shell": "sh", "script": string(script), "timeout_secs": 60,
		"run_as": "system", "deadline_at": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkSign is the backend's cost per published command.
func BenchmarkSign(b *testing.B) {
	s, _ := sign.GenerateKey()
	data := benchPayload(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Sign("commands.group.web", data)
	}
}

// BenchmarkVerify is the agent's cost per received command (a keyring of
// two keys, as during a rotation).
func BenchmarkVerify(b *testing.B) {
	s, _ := sign.GenerateKey()
	other, _ := sign.GenerateKey()
	kr := sign.NewKeyring(s.Public(), other.Public())
	data := benchPayload(b)
	h := s.Sign("commands.group.web", data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := sign.Verify(kr, "commands.group.web", h, data); err != nil {
			b.Fatal(err)
		}
	}
}
