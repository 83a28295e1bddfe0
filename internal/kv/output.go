package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kanade-fleet/kanade/internal/bus"
)

// Outputs is object store result_output: the full stdout/stderr of runs
// whose output was longer than a result carries inline (SPEC §11), as
// object <result_id>/<stream>, written by the output assembler.
type Outputs struct{ s *Store }

// Metadata keys of an output object.
const (
	outputMetaPC     = "pc_id"
	outputMetaSHA256 = "sha256"
)

// OutputInfo describes a stored output.
type OutputInfo struct {
	// PCID is the pc token of the subject the chunks arrived on: the PC
	// whose broker identity sent them, not a claim of the payload.
	PCID     string
	SHA256   string
	Size     uint64
	Modified time.Time
}

func outputName(resultID, stream string) string { return resultID + "/" + stream }

func outputInfo(oi *jetstream.ObjectInfo) OutputInfo {
	return OutputInfo{PCID: oi.Metadata[outputMetaPC], SHA256: oi.Metadata[outputMetaSHA256], Size: oi.Size, Modified: oi.ModTime}
}

// Put stores one stream's output, recording the pc and digest. Putting
// the same name again replaces the object.
func (o *Outputs) Put(ctx context.Context, resultID, stream, pcID, sha256 string, data []byte) error {
	obj, err := o.s.objectStore(ctx, bus.ObjResultOutput)
	if err != nil {
		return err
	}
	_, err = obj.Put(ctx, jetstream.ObjectMeta{Name: outputName(resultID, stream),
		Metadata: map[string]string{outputMetaPC: pcID, outputMetaSHA256: sha256}}, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("put output %s: %w", outputName(resultID, stream), err)
	}
	return nil
}

// Info returns a stored output's description; ok false when there is none.
func (o *Outputs) Info(ctx context.Context, resultID, stream string) (OutputInfo, bool, error) {
	obj, err := o.s.objectStore(ctx, bus.ObjResultOutput)
	if err != nil {
		return OutputInfo{}, false, err
	}
	oi, err := obj.GetInfo(ctx, outputName(resultID, stream))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return OutputInfo{}, false, nil
	}
	if err != nil {
		return OutputInfo{}, false, fmt.Errorf("output %s: %w", outputName(resultID, stream), err)
	}
	return outputInfo(oi), true, nil
}

// Open streams a stored output; ok false when there is none. The caller
// closes the reader; a read error at its end means the object's digest
// did not match (the object store verifies it).
func (o *Outputs) Open(ctx context.Context, resultID, stream string) (io.ReadCloser, OutputInfo, bool, error) {
	obj, err := o.s.objectStore(ctx, bus.ObjResultOutput)
	if err != nil {
		return nil, OutputInfo{}, false, err
	}
	r, err := obj.Get(ctx, outputName(resultID, stream))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, OutputInfo{}, false, nil
	}
	if err != nil {
		return nil, OutputInfo{}, false, fmt.Errorf("output %s: %w", outputName(resultID, stream), err)
	}
	oi, err := r.Info()
	if err != nil {
		_ = r.Close()
		return nil, OutputInfo{}, false, fmt.Errorf("output %s: %w", outputName(resultID, stream), err)
	}
	return r, outputInfo(oi), true, nil
}
