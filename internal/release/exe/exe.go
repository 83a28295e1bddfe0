// Package exe tells what executable a file is — ELF, Mach-O (thin or
// universal) or PE — and for which OS and architectures, from its headers
// alone. The backend refuses a release whose binary cannot run where the
// upload says (SPEC §13: an agent swapping in a binary it cannot exec
// would crash-loop into a rollback), and `kanade release upload` infers
// --os and --arch with it. It is its own package so the agent, which
// links internal/release, does not link the debug/* parsers.
package exe

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Info is what the headers of an executable say.
type Info struct {
	Format string   // ELF, Mach-O, Mach-O universal, PE
	OS     string   // linux, darwin, windows (or freebsd, … for other ELF systems)
	Arches []string // GOARCH names; a universal Mach-O has several
}

// Has reports whether the executable runs on arch.
func (i Info) Has(arch string) bool { return slices.Contains(i.Arches, arch) }

// String reads like "an ELF executable for linux/amd64".
func (i Info) String() string {
	return fmt.Sprintf("%s %s executable for %s/%s", article(i.Format), i.Format, i.OS, strings.Join(i.Arches, "+"))
}

func article(w string) string {
	if strings.ContainsRune("AEIOU", rune(w[0])) {
		return "an"
	}
	return "a"
}

// NotExecutableError says what a file is when it is not an executable this
// package knows: "a shell script", "gzip data", "an ELF shared library".
type NotExecutableError struct{ What string }

func (e *NotExecutableError) Error() string { return "not an executable program: " + e.What }

// ErrNotExecutable is matched by every *NotExecutableError.
var ErrNotExecutable = errors.New("not an executable program")

func (e *NotExecutableError) Is(target error) bool { return target == ErrNotExecutable }

func notExe(format string, a ...any) error {
	return &NotExecutableError{What: fmt.Sprintf(format, a...)}
}

// Identify reads the headers of the size bytes of r. An error that is not
// a *NotExecutableError is a read error of r.
func Identify(r io.ReaderAt, size int64) (Info, error) {
	head := make([]byte, 512)
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Info{}, fmt.Errorf("read executable header: %w", err)
	}
	head = head[:n]
	if n == 0 {
		return Info{}, notExe("an empty file")
	}
	sr := io.NewSectionReader(r, 0, size)
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return identifyELF(sr)
	case bytes.HasPrefix(head, []byte("MZ")):
		return identifyPE(sr)
	case isMachO(head):
		return identifyMachO(sr)
	case isFat(head):
		return identifyFat(sr)
	}
	return Info{}, notExe("%s", guess(head))
}

func identifyELF(r io.ReaderAt) (Info, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return Info{}, notExe("a damaged ELF file (%v)", err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return Info{}, notExe("an ELF %s, not a program", elfType(f.Type))
	}
	if f.Type == elf.ET_DYN && f.Entry == 0 {
		return Info{}, notExe("an ELF shared library, not a program")
	}
	arch := elfArch(f)
	osName := "linux"
	switch f.OSABI {
	case elf.ELFOSABI_NONE, elf.ELFOSABI_LINUX:
	case elf.ELFOSABI_FREEBSD:
		osName = "freebsd"
	case elf.ELFOSABI_NETBSD:
		osName = "netbsd"
	case elf.ELFOSABI_OPENBSD:
		osName = "openbsd"
	case elf.ELFOSABI_SOLARIS:
		osName = "solaris"
	default:
		osName = strings.ToLower(strings.TrimPrefix(f.OSABI.String(), "ELFOSABI_"))
	}
	return Info{Format: "ELF", OS: osName, Arches: []string{arch}}, nil
}

func elfType(t elf.Type) string {
	switch t {
	case elf.ET_REL:
		return "object file"
	case elf.ET_CORE:
		return "core dump"
	}
	return strings.ToLower(strings.TrimPrefix(t.String(), "ET_")) + " file"
}

func elfArch(f *elf.File) string {
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64"
	case elf.EM_AARCH64:
		return "arm64"
	case elf.EM_386:
		return "386"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		return "riscv64"
	case elf.EM_PPC64:
		if f.Data == elf.ELFDATA2LSB {
			return "ppc64le"
		}
		return "ppc64"
	case elf.EM_S390:
		return "s390x"
	case elf.EM_LOONGARCH:
		return "loong64"
	}
	return strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
}

func identifyPE(r io.ReaderAt) (Info, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return Info{}, notExe("a damaged Windows (MZ) file (%v)", err)
	}
	defer f.Close()
	if f.Characteristics&pe.IMAGE_FILE_DLL != 0 {
		return Info{}, notExe("a Windows DLL, not a program")
	}
	if f.Characteristics&pe.IMAGE_FILE_EXECUTABLE_IMAGE == 0 {
		return Info{}, notExe("a Windows object file, not a program")
	}
	var arch string
	switch f.Machine {
	case pe.IMAGE_FILE_MACHINE_AMD64:
		arch = "amd64"
	case pe.IMAGE_FILE_MACHINE_ARM64:
		arch = "arm64"
	case pe.IMAGE_FILE_MACHINE_I386:
		arch = "386"
	case pe.IMAGE_FILE_MACHINE_ARMNT, pe.IMAGE_FILE_MACHINE_ARM:
		arch = "arm"
	default:
		arch = fmt.Sprintf("machine 0x%04x", f.Machine)
	}
	return Info{Format: "PE", OS: "windows", Arches: []string{arch}}, nil
}

var machoMagics = []uint32{macho.Magic32, macho.Magic64}

func isMachO(h []byte) bool {
	if len(h) < 4 {
		return false
	}
	be := uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
	le := uint32(h[3])<<24 | uint32(h[2])<<16 | uint32(h[1])<<8 | uint32(h[0])
	return slices.Contains(machoMagics, be) || slices.Contains(machoMagics, le)
}

// isFat: 0xcafebabe (big-endian) starts a universal binary — and a Java
// class file, which NewFatFile then refuses.
func isFat(h []byte) bool { return bytes.HasPrefix(h, []byte{0xca, 0xfe, 0xba, 0xbe}) }

func identifyMachO(r io.ReaderAt) (Info, error) {
	f, err := macho.NewFile(r)
	if err != nil {
		return Info{}, notExe("a damaged Mach-O file (%v)", err)
	}
	defer f.Close()
	if f.Type != macho.TypeExec {
		return Info{}, notExe("a Mach-O %s, not a program", machoType(f.Type))
	}
	return Info{Format: "Mach-O", OS: "darwin", Arches: []string{machoArch(f.Cpu)}}, nil
}

func identifyFat(r io.ReaderAt) (Info, error) {
	f, err := macho.NewFatFile(r)
	if err != nil {
		return Info{}, notExe("a Java class file or a damaged universal Mach-O file (%v)", err)
	}
	defer f.Close()
	info := Info{Format: "Mach-O universal", OS: "darwin"}
	for _, a := range f.Arches {
		if a.Type != macho.TypeExec {
			return Info{}, notExe("a universal Mach-O %s, not a program", machoType(a.Type))
		}
		info.Arches = append(info.Arches, machoArch(a.Cpu))
	}
	if len(info.Arches) == 0 {
		return Info{}, notExe("an empty universal Mach-O file")
	}
	return info, nil
}

func machoType(t macho.Type) string {
	switch t {
	case macho.TypeObj:
		return "object file"
	case macho.TypeDylib:
		return "dynamic library"
	case macho.TypeBundle:
		return "bundle"
	}
	return "file of type " + t.String()
}

func machoArch(c macho.Cpu) string {
	switch c {
	case macho.CpuAmd64:
		return "amd64"
	case macho.CpuArm64:
		return "arm64"
	case macho.Cpu386:
		return "386"
	case macho.CpuArm:
		return "arm"
	case macho.CpuPpc64:
		return "ppc64"
	}
	return strings.ToLower(strings.TrimPrefix(c.String(), "Cpu"))
}

// guess names a file that is no executable, from its first bytes.
func guess(h []byte) string {
	switch {
	case bytes.HasPrefix(h, []byte("#!")):
		line, _, _ := bytes.Cut(h[2:], []byte("\n"))
		return fmt.Sprintf("a script (#!%s)", strings.TrimSpace(string(line)))
	case bytes.HasPrefix(h, []byte{0x1f, 0x8b}):
		return "gzip data (unpack the archive and upload the binary)"
	case bytes.HasPrefix(h, []byte("PK\x03\x04")):
		return "a zip archive (unpack it and upload the binary)"
	case len(h) > 262 && bytes.Equal(h[257:262], []byte("ustar")):
		return "a tar archive (unpack it and upload the binary)"
	case bytes.HasPrefix(h, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz data (unpack the archive and upload the binary)"
	case bytes.HasPrefix(h, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd data (unpack the archive and upload the binary)"
	}
	ct := http.DetectContentType(h)
	kind, _, _ := strings.Cut(ct, ";")
	switch {
	case strings.HasPrefix(kind, "text/"):
		return "text (" + kind + ")"
	case kind == "application/octet-stream":
		n := min(len(h), 4)
		return fmt.Sprintf("data starting with % x", h[:n])
	}
	return kind
}
