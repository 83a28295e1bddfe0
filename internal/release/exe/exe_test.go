package exe_test

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/kanade-fleet/kanade/internal/release/exe"
	"github.com/kanade-fleet/kanade/internal/release/exe/exetest"
)

func identify(b []byte) (exe.Info, error) { return exe.Identify(bytes.NewReader(b), int64(len(b))) }

func TestIdentify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file         []byte
		format, goos string
		arches       []string
	}{
		{exetest.ELF("amd64"), "ELF", "linux", []string{"amd64"}},
		{exetest.ELF("arm64", 1, 2, 3), "ELF", "linux", []string{"arm64"}},
		{exetest.MachO("arm64"), "Mach-O", "darwin", []string{"arm64"}},
		{exetest.Universal("amd64", "arm64"), "Mach-O universal", "darwin", []string{"amd64", "arm64"}},
		{exetest.PE("amd64"), "PE", "windows", []string{"amd64"}},
		{exetest.PE("arm64"), "PE", "windows", []string{"arm64"}},
	} {
		got, err := identify(tc.file)
		if err != nil || got.Format != tc.format || got.OS != tc.goos || !slices.Equal(got.Arches, tc.arches) {
			t.Errorf("%s %s %v: got %+v, %v", tc.format, tc.goos, tc.arches, got, err)
		}
	}
	if got, _ := identify(exetest.Universal("amd64", "arm64")); !got.Has("arm64") || got.Has("386") ||
		got.String() != "a Mach-O universal executable for darwin/amd64+arm64" {
		t.Errorf("universal: %v", got)
	}
	if got, _ := identify(exetest.ELF("amd64")); got.String() != "an ELF executable for linux/amd64" {
		t.Errorf("String: %q", got)
	}
}

// The test binary itself is a real executable of this platform.
func TestIdentifySelf(t *testing.T) {
	t.Parallel()
	path, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	got, err := exe.Identify(f, st.Size())
	if err != nil || got.OS != runtime.GOOS || !got.Has(runtime.GOARCH) {
		t.Fatalf("%s: %+v %v", path, got, err)
	}
}

func TestNotExecutable(t *testing.T) {
	t.Parallel()
	elfRel := exetest.ELF("amd64")
	elfRel[16] = 1 // ET_REL
	dll := exetest.PE("amd64")
	dll[64+4+19] |= 0x20 // IMAGE_FILE_DLL (high byte of Characteristics)
	java := append([]byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 0x34}, make([]byte, 64)...)
	for _, tc := range []struct {
		file []byte
		want string
	}{
		{nil, "empty"},
		{[]byte("#!/bin/sh\necho hi\n"), "script (#!/bin/sh)"},
		{[]byte{0x1f, 0x8b, 8, 0, 0, 0}, "gzip"},
		{[]byte("PK\x03\x04rest"), "zip"},
		{[]byte("hello, this is plain text\n"), "text"},
		{[]byte{0, 1, 2, 3, 4, 5}, "data starting with 00 01 02 03"},
		{[]byte("\x7fELF\x02\x01"), "damaged ELF"},
		{[]byte("MZ"), "damaged Windows"},
		{elfRel, "object file"},
		{dll, "DLL"},
		{java, "Java class"},
	} {
		_, err := identify(tc.file)
		var ne *exe.NotExecutableError
		if !errors.As(err, &ne) || !errors.Is(err, exe.ErrNotExecutable) || !strings.Contains(ne.What, tc.want) {
			t.Errorf("%q: %v, want a NotExecutableError with %q", tc.file[:min(len(tc.file), 8)], err, tc.want)
		}
	}
}
