package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Full output of a run (SPEC §11). A result carries at most
// MaxInlineOutput of each stream inline (head and tail); when a stream is
// longer, the agent publishes the whole captured stream (at most the 8 MiB
// capture bound plus its truncation marker) as OutputChunks on
// output.<pc>.<result_id>.<stream> before the result, and the result names
// it with StdoutRef/StderrRef. The backend assembles the chunks into object
// result_output/<result_id>/<stream>.
const (
	OutputStdout = "stdout"
	OutputStderr = "stderr"
	// OutputChunkSize is the payload of every chunk but the last.
	OutputChunkSize = 128 << 10
	// MaxOutputSize bounds one assembled stream: the agent's 8 MiB capture
	// plus its truncation marker and notes, with a margin.
	MaxOutputSize = 8<<20 + 64<<10
	// MaxOutputChunks is the most chunks a stream of MaxOutputSize needs.
	MaxOutputChunks = (MaxOutputSize + OutputChunkSize - 1) / OutputChunkSize
	// OutputObjectStore is the object store holding assembled outputs.
	OutputObjectStore = "result_output"
)

// Headers of an output chunk. The payload is raw bytes, so what describes
// it travels in headers: its place, and the size and SHA-256 (lower-case
// hex) of the whole stream, which the assembler verifies.
const (
	HeaderOutputIndex  = "Kanade-Output-Index"
	HeaderOutputCount  = "Kanade-Output-Count"
	HeaderOutputSize   = "Kanade-Output-Size"
	HeaderOutputSHA256 = "Kanade-Output-Sha256"
)

// OutputRef is the value of stdout_ref/stderr_ref: the object's path.
func OutputRef(resultID, stream string) string {
	return OutputObjectStore + "/" + resultID + "/" + stream
}

// ValidOutputStream reports whether s names an output stream.
func ValidOutputStream(s string) bool { return s == OutputStdout || s == OutputStderr }

// OutputChunk is one piece of a stream's full output. PCID, ResultID and
// Stream come from the subject output.<pc>.<result_id>.<stream>, which the
// broker binds to the publishing agent's identity.
type OutputChunk struct {
	PCID     string
	ResultID string
	Stream   string
	Index    int
	Count    int
	Size     int64  // bytes of the whole stream
	SHA256   string // of the whole stream, lower-case hex
	Data     []byte
}

// Header renders the chunk's headers (a nats.Header converts from it).
func (c OutputChunk) Header() map[string][]string {
	return map[string][]string{
		HeaderOutputIndex:  {strconv.Itoa(c.Index)},
		HeaderOutputCount:  {strconv.Itoa(c.Count)},
		HeaderOutputSize:   {strconv.FormatInt(c.Size, 10)},
		HeaderOutputSHA256: {c.SHA256},
	}
}

// SplitOutput cuts one stream's output into chunks of OutputChunkSize (the
// last one shorter). Empty output has no chunks. The chunks share data's
// memory.
func SplitOutput(pc, resultID, stream string, data []byte) []OutputChunk {
	if len(data) == 0 {
		return nil
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	n := (len(data) + OutputChunkSize - 1) / OutputChunkSize
	out := make([]OutputChunk, 0, n)
	for i := range n {
		end := min((i+1)*OutputChunkSize, len(data))
		out = append(out, OutputChunk{PCID: pc, ResultID: resultID, Stream: stream, Index: i, Count: n,
			Size: int64(len(data)), SHA256: digest, Data: data[i*OutputChunkSize : end]})
	}
	return out
}

func header(h map[string][]string, key string) (string, error) {
	v := h[key]
	if len(v) != 1 {
		return "", invalid(key, "must be given exactly once")
	}
	return v[0], nil
}

func headerUint(h map[string][]string, key string, max uint64) (uint64, error) {
	s, err := header(h, key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > max || len(s) > 20 {
		return 0, invalid(key, fmt.Sprintf("%.24q is not a number up to %d", s, max))
	}
	return n, nil
}

// DecodeOutputChunk validates a chunk received on subject with headers h.
// Everything is checked against what SplitOutput produces: the subject's
// shape and ids, the numbers' ranges, the chunk count implied by the size,
// and this chunk's exact length, so the assembler can trust the layout.
func DecodeOutputChunk(subject string, h map[string][]string, data []byte) (OutputChunk, error) {
	var c OutputChunk
	toks := strings.Split(subject, ".")
	if len(toks) != 4 || toks[0] != "output" {
		return c, invalid("subject", fmt.Sprintf("%.60q is not output.<pc>.<result_id>.<stream>", subject))
	}
	c.PCID, c.ResultID, c.Stream = toks[1], toks[2], toks[3]
	if err := checkIDs(idField{"pc_id", c.PCID, true}, idField{"result_id", c.ResultID, true}); err != nil {
		return c, err
	}
	if !ValidOutputStream(c.Stream) {
		return c, invalid("stream", fmt.Sprintf("%.20q is not stdout or stderr", c.Stream))
	}
	size, err := headerUint(h, HeaderOutputSize, MaxOutputSize)
	if err != nil {
		return c, err
	}
	if size == 0 {
		return c, invalid(HeaderOutputSize, "must not be 0")
	}
	count, err := headerUint(h, HeaderOutputCount, MaxOutputChunks)
	if err != nil {
		return c, err
	}
	if want := (size + OutputChunkSize - 1) / OutputChunkSize; count != want {
		return c, invalid(HeaderOutputCount, fmt.Sprintf("is %d, but %d bytes make %d chunks", count, size, want))
	}
	index, err := headerUint(h, HeaderOutputIndex, count-1)
	if err != nil {
		return c, err
	}
	c.Size, c.Count, c.Index = int64(size), int(count), int(index)
	if c.SHA256, err = header(h, HeaderOutputSHA256); err != nil {
		return c, err
	}
	if len(c.SHA256) != 64 || strings.Trim(c.SHA256, "0123456789abcdef") != "" {
		return c, invalid(HeaderOutputSHA256, "must be 64 lower-case hex digits")
	}
	want := min(int64(OutputChunkSize), c.Size-int64(c.Index)*OutputChunkSize)
	if int64(len(data)) != want {
		return c, invalid("data", fmt.Sprintf("chunk %d of %d bytes must be %d bytes, not %d", c.Index, c.Size, want, len(data)))
	}
	c.Data = data
	return c, nil
}
