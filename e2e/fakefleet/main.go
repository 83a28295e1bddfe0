// Command fakefleet publishes heartbeats for N synthetic PCs so the dashboard
// can be exercised (and measured) with a large fleet without N real agents.
// It only sends heartbeats (and with -inventory built-in facts): the PCs are
// listed as online but run nothing.
//
//	go run ./e2e/fakefleet -nats nats://127.0.0.1:14222 -n 10000 -every 60s
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/signal"
	"time"

	"github.com/kanade-fleet/kanade/internal/bus"
	"github.com/kanade-fleet/kanade/internal/wire"
	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("nats", "nats://127.0.0.1:4222", "NATS URL")
	token := flag.String("token", "", "NATS token")
	n := flag.Int("n", 10000, "number of PCs")
	prefix := flag.String("prefix", "fake", "pc_id prefix")
	every := flag.Duration("every", 0, "repeat heartbeats at this interval (0 = once and exit)")
	offline := flag.Float64("offline", 0.05, "fraction of PCs that report once with a stale time and then stay silent")
	updates := flag.Bool("update-states", false, "report self-update states (SPEC §13) by pc index: none (an older agent), then each of wire.UpdateStates in turn")
	inventory := flag.Bool("inventory", false, "report built-in facts (SPEC §14) once at start, then again with a new OS build and one more user (a change in history)")
	flag.Parse()

	opts := []nats.Option{nats.Name("kanade-fakefleet")}
	if *token != "" {
		opts = append(opts, nats.Token(*token))
	}
	nc, err := nats.Connect(*url, opts...)
	if err != nil {
		log.Fatalf("connect: %v", err)
	}
	defer nc.Close()

	versions := []string{"0.1.0", "0.1.0", "0.1.0", "0.0.9", "0.0.8"}
	oses := [][3]string{{"windows", "11 23H2", "amd64"}, {"windows", "10 22H2", "amd64"}, {"linux", "Debian 12", "amd64"}, {"darwin", "14.5", "arm64"}}
	boot := time.Now().Add(-72 * time.Hour).UTC()
	send := func(first bool) {
		for i := 0; i < *n; i++ {
			stale := float64(i%1000)/1000 < *offline
			if stale && !first {
				continue
			}
			o := oses[i%len(oses)]
			at := time.Now().UTC()
			if stale {
				at = at.Add(-time.Duration(10+i%600) * time.Minute)
			}
			pc := fmt.Sprintf("%s-%05d", *prefix, i)
			hb := wire.Heartbeat{PCID: pc, Hostname: fmt.Sprintf("HOST-%05d", i), OSFamily: o[0], OSVersion: o[1], Arch: o[2],
				AgentVersion: versions[i%len(versions)], At: at, BootTime: boot, AgentRSSBytes: uint64(12<<20 + rand.IntN(6<<20)),
				AgentCPUPct: rand.Float64() * 0.5}
			if *updates {
				// i%6: 0 = no state (older agent), then current, downloading,
				// restarting, failed, quarantined.
				if k := i % (len(wire.UpdateStates) + 1); k > 0 {
					hb.UpdateState = wire.UpdateStates[k-1]
				}
				switch hb.UpdateState {
				case wire.UpdateFailed:
					hb.UpdateError = "sha256 of kanade-agent/0.2.0/" + o[0] + "-" + o[2] + " does not match the release; kept " + hb.AgentVersion
				case wire.UpdateQuarantined:
					hb.QuarantinedVersion = "0.2.0"
				}
			}
			b, _ := json.Marshal(hb)
			if err := nc.Publish(bus.Heartbeat(pc), b); err != nil {
				log.Fatalf("publish: %v", err)
			}
		}
		if err := nc.Flush(); err != nil {
			log.Fatalf("flush: %v", err)
		}
	}
	send(true)
	log.Printf("sent %d heartbeats", *n)
	if *inventory {
		for round := range 2 {
			for i := 0; i < *n; i++ {
				o := oses[i%len(oses)]
				pc := fmt.Sprintf("%s-%05d", *prefix, i)
				f := wire.Facts{Hostname: fmt.Sprintf("HOST-%05d", i), OSFamily: o[0], OSVersion: o[1], OSBuild: "22631", Kernel: "10.0.22631",
					Arch: o[2], CPUModel: "Intel(R) Core(TM) i5-1245U", CPUCores: 10, MemoryBytes: 16 << 30,
					Disks:         []wire.Disk{{Mount: "C:", FS: "NTFS", SizeBytes: 476 << 30, FreeBytes: uint64(50+i%300) << 30}},
					Interfaces:    []wire.Interface{{Name: "Ethernet", MAC: fmt.Sprintf("02:00:00:00:%02x:%02x", i/256%256, i%256), IPs: []string{fmt.Sprintf("10.1.%d.%d", i/250%250, i%250+2)}}},
					LoggedInUsers: []string{"alice"}, BootTime: boot, Timezone: "Europe/Berlin", AgentVersion: versions[i%len(versions)]}
				if round == 1 {
					f.OSBuild, f.LoggedInUsers = "26100", []string{"alice", "bob"}
				}
				b, _ := json.Marshal(wire.Inventory{PCID: pc, CollectedAt: time.Now().UTC(), Facts: f})
				if err := nc.Publish(bus.Inventory(pc), b); err != nil {
					log.Fatalf("publish: %v", err)
				}
			}
			if err := nc.Flush(); err != nil {
				log.Fatalf("flush: %v", err)
			}
		}
		log.Printf("sent %d inventory reports, twice", *n)
	}
	if *every <= 0 {
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		select {
		case <-sig:
			return
		case <-t.C:
			send(false)
		}
	}
}
