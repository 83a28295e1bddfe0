// Package exetest builds the smallest files package exe identifies as
// executables — headers only, nothing runs — for tests of release
// uploads that must not carry real binaries around.
package exetest

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"fmt"
)

var le = binary.LittleEndian

// ELF is a 64-bit little-endian ELF executable header for a linux GOARCH
// (amd64 or arm64), followed by pad bytes (so sizes and digests differ).
func ELF(arch string, pad ...byte) []byte {
	m := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if m == 0 {
		panic(fmt.Sprintf("exetest.ELF: no machine for %q", arch))
	}
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), byte(elf.ELFOSABI_NONE)})
	b.Write(make([]byte, 8))
	for _, v := range []any{uint16(elf.ET_EXEC), uint16(m), uint32(elf.EV_CURRENT), uint64(0x401000), uint64(0), uint64(0),
		uint32(0), uint16(64), uint16(56), uint16(0), uint16(64), uint16(0), uint16(0)} {
		_ = binary.Write(&b, le, v)
	}
	b.Write(pad)
	return b.Bytes()
}

// MachO is a 64-bit Mach-O executable header for a darwin GOARCH.
func MachO(arch string, pad ...byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, le, macho.FileHeader{Magic: macho.Magic64, Cpu: machoCPU(arch), Type: macho.TypeExec})
	_ = binary.Write(&b, le, uint32(0)) // reserved (64-bit header)
	b.Write(pad)
	return b.Bytes()
}

func machoCPU(arch string) macho.Cpu {
	c := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[arch]
	if c == 0 {
		panic(fmt.Sprintf("exetest: no Mach-O cpu for %q", arch))
	}
	return c
}

// Universal is a universal (fat) Mach-O holding one thin executable per
// arch.
func Universal(arches ...string) []byte {
	const align = 12 // 4 KiB
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, []uint32{macho.MagicFat, uint32(len(arches))})
	off := uint32(1 << align)
	var thin [][]byte
	for _, a := range arches {
		t := MachO(a)
		thin = append(thin, t)
		_ = binary.Write(&b, binary.BigEndian, macho.FatArchHeader{Cpu: machoCPU(a), Offset: off, Size: uint32(len(t)), Align: align})
		off += 1 << align
	}
	for i, t := range thin {
		b.Write(make([]byte, (i+1)<<align-b.Len()))
		b.Write(t)
	}
	return b.Bytes()
}

// PE is a Windows executable (MZ, PE header, no sections) for a windows
// GOARCH.
func PE(arch string, pad ...byte) []byte {
	m := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}[arch]
	if m == 0 {
		panic(fmt.Sprintf("exetest.PE: no machine for %q", arch))
	}
	dos := make([]byte, 64)
	dos[0], dos[1] = 'M', 'Z'
	le.PutUint32(dos[0x3c:], 64)
	var b bytes.Buffer
	b.Write(dos)
	b.Write([]byte{'P', 'E', 0, 0})
	_ = binary.Write(&b, le, pe.FileHeader{Machine: m, Characteristics: pe.IMAGE_FILE_EXECUTABLE_IMAGE})
	b.Write(make([]byte, 16)) // debug/pe reads past the file header
	b.Write(pad)
	return b.Bytes()
}

// For is the executable of one platform (linux ELF, darwin Mach-O,
// windows PE).
func For(goos, arch string, pad ...byte) []byte {
	switch goos {
	case "linux":
		return ELF(arch, pad...)
	case "darwin":
		return MachO(arch, pad...)
	case "windows":
		return PE(arch, pad...)
	}
	panic(fmt.Sprintf("exetest.For: no executable for %q", goos))
}
