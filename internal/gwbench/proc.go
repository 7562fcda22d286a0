package gwbench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/baton-rt/baton/internal/loadgen/procstat"
	"github.com/baton-rt/baton/internal/sleep"
)

// cpuMeter measures, over one window, the cores used by each watched
// process, by this process and by everything else (noise).
type cpuMeter struct {
	pids  []int
	start []procstat.Sample
	self  procstat.Sample
	mach  procstat.Machine
	at    time.Time
}

// Cores is the average CPU use over a window, in cores.
type Cores struct {
	Procs  map[string]float64 `json:"procs"` // by process name
	Driver float64            `json:"driver"`
	Other  float64            `json:"other"` // every other process: noise
	// IRQ is time in interrupts and softirq, mostly loopback TCP of the
	// run itself, charged to no process.
	IRQ float64 `json:"irq"`
	// CPU is each watched process's CPU time over the window.
	CPU map[string]time.Duration `json:"cpu_ns"`
}

func startCPU(pids []int) *cpuMeter {
	m := &cpuMeter{pids: pids, at: time.Now()}
	for _, p := range pids {
		s, _ := procstat.Read(p)
		m.start = append(m.start, s)
	}
	m.self, _ = procstat.Read(0)
	m.mach, _ = procstat.ReadMachine()
	return m
}

// stop ends the window; names label pids in order.
func (m *cpuMeter) stop(names []string) Cores {
	wall := time.Since(m.at)
	c := Cores{Procs: map[string]float64{}, CPU: map[string]time.Duration{}}
	if wall <= 0 {
		return c
	}
	var watched time.Duration
	for i, p := range m.pids {
		s, err := procstat.Read(p)
		if err != nil {
			continue
		}
		d := s.CPU - m.start[i].CPU
		watched += d
		c.Procs[names[i]] = float64(d) / float64(wall)
		c.CPU[names[i]] = d
	}
	self, _ := procstat.Read(0)
	d := self.CPU - m.self.CPU
	c.Driver = float64(d) / float64(wall)
	if mach, err := procstat.ReadMachine(); err == nil {
		// With tick-based accounting, a tick spent in softirq counts in
		// the interrupted process's CPU but in the machine's irq time,
		// not its busy time: the processes' CPU is taken from both.
		busy := mach.Busy + mach.IRQ - m.mach.Busy - m.mach.IRQ
		c.Other = max(0, float64(busy-watched-d)/float64(wall))
		c.IRQ = float64(mach.IRQ-m.mach.IRQ) / float64(wall)
	}
	return c
}

// waitQuiet waits up to limit for every other process to use less than
// below cores, and returns the level seen last.
func waitQuiet(ctx context.Context, pids []int, limit time.Duration, below float64, logf func(string, ...any)) float64 {
	deadline := time.Now().Add(limit)
	level := -1.0
	for i := 0; i < 1000; i++ {
		m := startCPU(pids)
		if sleep.For(ctx, time.Second) != nil {
			return level
		}
		c := m.stop(make([]string, len(pids)))
		level = c.Other
		if level < below || limit < 0 || time.Now().After(deadline) {
			return level
		}
		if i%10 == 0 {
			logf("waiting for a quieter machine: other processes use %.2f cores", level)
		}
	}
	return level
}

// gc asks a Go process to collect garbage through its pprof heap handler.
func gc(ctx context.Context, url string) error {
	if url == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	defer resp.Body.Close()
	_, _ = bytes.NewBuffer(nil).ReadFrom(resp.Body)
	return nil
}
