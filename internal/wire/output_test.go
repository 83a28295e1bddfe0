package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

func subjectOf(c OutputChunk) string { return "output." + c.PCID + "." + c.ResultID + "." + c.Stream }

// TestSplitOutputRoundTrip: every chunk SplitOutput makes decodes, and the
// chunks put back in order are the output.
func TestSplitOutputRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, OutputChunkSize - 1, OutputChunkSize, OutputChunkSize + 1, 5<<20 + 3, MaxOutputSize} {
		data := bytes.Repeat([]byte("0123456789abcdef\n"), n/17+1)[:n]
		chunks := SplitOutput("pc-1", "r1", OutputStdout, data)
		if want := (n + OutputChunkSize - 1) / OutputChunkSize; len(chunks) != want {
			t.Fatalf("%d bytes: %d chunks, want %d", n, len(chunks), want)
		}
		var got []byte
		for _, c := range chunks {
			d, err := DecodeOutputChunk(subjectOf(c), c.Header(), c.Data)
			if err != nil {
				t.Fatalf("%d bytes, chunk %d: %v", n, c.Index, err)
			}
			got = append(got, d.Data...)
		}
		sum := sha256.Sum256(data)
		if !bytes.Equal(got, data) || chunks[0].SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("%d bytes: reassembly differs", n)
		}
	}
	if SplitOutput("pc", "r", OutputStdout, nil) != nil {
		t.Fatal("empty output has chunks")
	}
}

func TestDecodeOutputChunkRefuses(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte{'x'}, OutputChunkSize+10)
	good := SplitOutput("pc1", "r1", OutputStderr, data)
	if _, err := DecodeOutputChunk(subjectOf(good[1]), good[1].Header(), good[1].Data); err != nil {
		t.Fatal(err)
	}
	set := func(k, v string) map[string][]string {
		h := good[0].Header()
		if v == "" {
			delete(h, k)
		} else {
			h[k] = []string{v}
		}
		return h
	}
	for name, tc := range map[string]struct {
		subject string
		h       map[string][]string
		data    []byte
		field   string
	}{
		"subject shape":   {"output.pc1.r1", good[0].Header(), good[0].Data, "subject"},
		"subject prefix":  {"results.pc1.r1.stdout", good[0].Header(), good[0].Data, "subject"},
		"bad pc":          {"output.p\x00c.r1.stdout", good[0].Header(), good[0].Data, "pc_id"},
		"bad stream":      {"output.pc1.r1.stdin", good[0].Header(), good[0].Data, "stream"},
		"no size":         {subjectOf(good[0]), set(HeaderOutputSize, ""), good[0].Data, HeaderOutputSize},
		"size 0":          {subjectOf(good[0]), set(HeaderOutputSize, "0"), good[0].Data, HeaderOutputSize},
		"size huge":       {subjectOf(good[0]), set(HeaderOutputSize, strconv.Itoa(MaxOutputSize+1)), good[0].Data, HeaderOutputSize},
		"size signed":     {subjectOf(good[0]), set(HeaderOutputSize, "+131082"), good[0].Data, HeaderOutputSize},
		"count mismatch":  {subjectOf(good[0]), set(HeaderOutputCount, "3"), good[0].Data, HeaderOutputCount},
		"index too large": {subjectOf(good[0]), set(HeaderOutputIndex, "2"), good[0].Data, HeaderOutputIndex},
		"index negative":  {subjectOf(good[0]), set(HeaderOutputIndex, "-1"), good[0].Data, HeaderOutputIndex},
		"sha upper":       {subjectOf(good[0]), set(HeaderOutputSHA256, strings.ToUpper(good[0].SHA256)), good[0].Data, HeaderOutputSHA256},
		"sha short":       {subjectOf(good[0]), set(HeaderOutputSHA256, "abc"), good[0].Data, HeaderOutputSHA256},
		"twice":           {subjectOf(good[0]), func() map[string][]string { h := good[0].Header(); h[HeaderOutputIndex] = []string{"0", "1"}; return h }(), good[0].Data, HeaderOutputIndex},
		"short data":      {subjectOf(good[0]), good[0].Header(), good[0].Data[1:], "data"},
		"long last":       {subjectOf(good[1]), good[1].Header(), append(append([]byte{}, good[1].Data...), 'y'), "data"},
	} {
		_, err := DecodeOutputChunk(tc.subject, tc.h, tc.data)
		if err == nil || Reason(err) != tc.field {
			t.Errorf("%s: err %v (reason %q), want a refusal naming %s", name, err, Reason(err), tc.field)
		}
	}
}

// A result may name only its own output objects.
func TestExecResultRefs(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	r := ExecResult{ResultID: "r1", PCID: "pc1", StartedAt: now, StdoutRef: OutputRef("r1", OutputStdout),
		StderrRef: OutputRef("r1", OutputStderr)}
	b, _ := json.Marshal(r)
	if got, err := DecodeExecResult(b); err != nil || got.StdoutRef != "result_output/r1/stdout" {
		t.Fatalf("%+v %v", got, err)
	}
	for name, mut := range map[string]func(*ExecResult){
		"other result": func(r *ExecResult) { r.StdoutRef = OutputRef("r2", OutputStdout) },
		"swapped":      func(r *ExecResult) { r.StderrRef = OutputRef("r1", OutputStdout) },
		"path":         func(r *ExecResult) { r.StdoutRef = "result_output/r1/../x" },
	} {
		x := r
		mut(&x)
		b, _ := json.Marshal(x)
		if _, err := DecodeExecResult(b); err == nil {
			t.Errorf("%s: accepted %q %q", name, x.StdoutRef, x.StderrRef)
		}
	}
}

// FuzzDecodeOutputChunk: the chunk decoder takes subjects, headers and
// payloads from agents. It never panics, and what it accepts has the
// layout SplitOutput makes: a place inside the count the size implies,
// the exact length for that place, and headers that re-encode to the
// same chunk.
func FuzzDecodeOutputChunk(f *testing.F) {
	for _, c := range SplitOutput("pc1", "r1", OutputStdout, bytes.Repeat([]byte("ab"), OutputChunkSize/2+3)) {
		f.Add(subjectOf(c), c.Header()[HeaderOutputIndex][0], c.Header()[HeaderOutputCount][0],
			c.Header()[HeaderOutputSize][0], c.SHA256, c.Data[:min(len(c.Data), 64)])
	}
	f.Add("output.pc1.r1.stdout", "0", "1", "3", strings.Repeat("a", 64), []byte("abc"))
	f.Add("output.pc1.r1.stderr", "00", "1", "1", strings.Repeat("0", 64), []byte("x"))
	f.Add("output.p*.r1.stdout", "0", "1", "1", strings.Repeat("0", 64), []byte("x"))
	f.Add("output..r1.stdout", "18446744073709551615", "1", "1", "", []byte{})
	f.Fuzz(func(t *testing.T, subject, index, count, size, sum string, data []byte) {
		h := map[string][]string{HeaderOutputIndex: {index}, HeaderOutputCount: {count},
			HeaderOutputSize: {size}, HeaderOutputSHA256: {sum}}
		c, err := DecodeOutputChunk(subject, h, data)
		if err != nil {
			if Reason(err) == "malformed" {
				t.Fatalf("refusal names no field: %v", err)
			}
			return
		}
		if c.Size <= 0 || c.Size > MaxOutputSize || c.Count < 1 || c.Count > MaxOutputChunks || c.Index < 0 || c.Index >= c.Count {
			t.Fatalf("accepted out of range: %+v", c)
		}
		if int64(c.Index)*OutputChunkSize+int64(len(c.Data)) > c.Size || len(c.Data) > OutputChunkSize || len(c.Data) == 0 {
			t.Fatalf("accepted a chunk outside its stream: index %d, %d bytes of %d", c.Index, len(c.Data), c.Size)
		}
		if subjectOf(c) != subject || !ValidOutputStream(c.Stream) || !ValidPCID(c.PCID) || !ValidToken(c.ResultID, MaxTokenLen) {
			t.Fatalf("accepted subject %q as %+v", subject, c)
		}
		again, err := DecodeOutputChunk(subjectOf(c), c.Header(), c.Data)
		if err != nil || again.Index != c.Index || again.Count != c.Count || again.Size != c.Size || again.SHA256 != c.SHA256 {
			t.Fatalf("accepted chunk does not round-trip: %+v %v", again, err)
		}
	})
}
