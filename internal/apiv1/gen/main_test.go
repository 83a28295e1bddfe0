package main

import (
	"os"
	"testing"
)

// TestTSCurrent fails when web/src/lib/api.gen.ts is not what the contract
// generates: run `go generate ./internal/apiv1/...` and commit the file.
func TestTSCurrent(t *testing.T) {
	t.Parallel()
	want, err := Render("..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../../web/src/lib/api.gen.ts")
	if err != nil {
		t.Fatalf("%v; run go generate ./internal/apiv1/...", err)
	}
	if string(got) != string(want) {
		t.Fatal("web/src/lib/api.gen.ts is stale; run go generate ./internal/apiv1/... and commit it")
	}
}
