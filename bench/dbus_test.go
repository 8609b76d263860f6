package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"bits/engine"
	"bits/internal/dbusapi"
	"bits/internal/testenv"
)

// BenchmarkDBus measures the worker's D-Bus service on a private bus, among
// 1,000 jobs: the time to read a job's property (Properties.Get, a round
// trip through the bus), against a property of the bus daemon itself in the
// same run (the bus's own cost); and the time from a change of a job's
// setting by another process to its PropertiesChanged signal. Goals: reads
// under 5 ms (median), signals within 100 ms.
func BenchmarkDBus(b *testing.B) {
	bin := buildPrograms(b)
	bus := testenv.StartBus(b)
	b.Setenv("DBUS_SESSION_BUS_ADDRESS", bus.Address)
	home := b.TempDir()
	policy := filepath.Join(home, "policy.conf")
	if err := os.WriteFile(policy, []byte("MaxJobsPerUser = 2000\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Setenv("BITS_POLICY", policy)
	startWorker(b, bin, home)
	conn := bus.Connect(b)
	for i := 0; ; i++ {
		var owned bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, dbusapi.Name).Store(&owned); err != nil {
			b.Fatal(err)
		}
		if owned {
			break
		}
		if i == 500 {
			b.Fatal("the worker did not take its name on the bus in 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	m, err := engine.Open(engine.Options{Home: home, StartWorker: func(string) error { return nil }})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	var last *engine.Job
	for i := range 1000 {
		if last, err = m.Create(ctx, fmt.Sprint("job ", i), engine.Download); err != nil {
			b.Fatal(err)
		}
	}
	job := conn.Object(dbusapi.Name, dbusapi.JobPath(last.ID))

	timed := func(n int, f func()) []float64 {
		ms := make([]float64, n)
		for i := range ms {
			start := time.Now()
			f()
			ms[i] = float64(time.Since(start)) / float64(time.Millisecond)
		}
		return ms
	}
	reads := timed(500, func() {
		if _, err := job.GetProperty(dbusapi.JobIface + ".State"); err != nil {
			b.Fatal(err)
		}
	})
	peer := timed(500, func() {
		if _, err := conn.BusObject().GetProperty("org.freedesktop.DBus.Features"); err != nil {
			b.Fatal(err)
		}
	})

	if err := conn.AddMatchSignal(dbus.WithMatchObjectPath(dbusapi.JobPath(last.ID)), dbus.WithMatchMember("PropertiesChanged")); err != nil {
		b.Fatal(err)
	}
	signals := make(chan *dbus.Signal, 100)
	conn.Signal(signals)
	told := timed(50, func() {
		desc := fmt.Sprint("change ", time.Now().UnixNano())
		if err := m.Set(ctx, last.ID, engine.Props{Description: &desc}); err != nil {
			b.Fatal(err)
		}
		timeout := time.After(10 * time.Second)
		for {
			select {
			case s := <-signals:
				if len(s.Body) == 3 {
					if changed, ok := s.Body[1].(map[string]dbus.Variant); ok && changed["Description"].Value() == desc {
						return
					}
				}
			case <-timeout:
				b.Fatal("no PropertiesChanged for a new description in 10 s")
			}
		}
	})
	slices.Sort(told)
	b.ReportMetric(median(reads), "get-property-ms")
	b.ReportMetric(median(peer), "bus-property-ms")
	b.ReportMetric(median(reads)/median(peer), "get/bus")
	b.ReportMetric(median(told), "signal-ms")
	b.ReportMetric(told[len(told)-1], "signal-max-ms")
	b.ReportMetric(0, "ns/op")
}
