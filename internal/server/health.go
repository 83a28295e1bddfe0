package server

import (
	"context"

	"github.com/kanade-fleet/kanade/internal/health"
)

// healthSources connects the health monitor to the parts it watches.
func (b *Server) healthSources(holder string) health.Sources {
	src := health.Sources{
		Projectors: func() []health.Projector {
			st := b.Projectors.Statuses()
			out := make([]health.Projector, 0, len(st))
			for _, s := range st {
				out = append(out, health.Projector{Consumer: s.Consumer, LastSuccess: s.LastSuccess,
					FailingSince: s.FailingSince, LastError: s.LastError, DBCorrupt: s.DBCorrupt})
			}
			return out
		},
		WriteProbe: func(ctx context.Context) error { return b.KV.ProbeWrite(ctx, holder) },
		DBProbe:    b.DB.Probe,
		Leader:     b.Elector,
	}
	if b.Signer != nil {
		id := b.Signer.KeyID()
		src.SigningKeyProbe = func(ctx context.Context) error { return b.KV.SigningKeys.CheckTrusted(ctx, id) }
	}
	if br := b.Broker; br != nil {
		src.Heal = func(_ context.Context, err error, failures int) {
			if restarted, herr := br.Heal(err, failures); herr != nil {
				b.Log.Error("JetStream recovery failed; retrying later", "error", herr)
			} else if restarted {
				b.Log.Info("JetStream recovered in-process after failed writes")
			}
		}
		src.Detail = br.DiskDetail
		b.Metrics.GaugeFunc("kanade_broker_disk_free_bytes", "Free space on the embedded broker's disk.", func() float64 { return float64(br.Disk().Free) })
		b.Metrics.GaugeFunc("kanade_broker_file_store_limit_bytes", "JetStream's file storage limit in force (0 = nats-server's own).", func() float64 { return float64(br.Disk().Limit) })
		b.Metrics.GaugeFunc("kanade_broker_jetstream_restarts", "In-process JetStream restarts after failed writes.", func() float64 { return float64(br.Disk().Heals) })
	}
	return src
}
