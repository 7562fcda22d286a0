package gwbench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of CPU times in /proc (USER_HZ, 100 on Linux).
const userHZ = 100

// procSample is one reading of a process from /proc.
type procSample struct {
	At  time.Time
	RSS int64         // VmRSS, bytes
	HWM int64         // VmHWM, bytes
	CPU time.Duration // utime + stime
}

// readProc samples process pid; 0 is this process.
func readProc(pid int) (procSample, error) {
	dir := "/proc/self"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	s := procSample{At: time.Now()}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, fmt.Errorf("read process status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		f := strings.Fields(val)
		if !ok || len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			s.RSS = n * 1024
		case "VmHWM":
			s.HWM = n * 1024
		}
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, fmt.Errorf("read process stat: %w", err)
	}
	s.CPU, err = parseStatCPU(stat)
	return s, err
}

// parseStatCPU returns utime+stime from /proc/PID/stat; fields are counted
// from the last ')' since the command name may hold spaces.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: malformed process stat", ErrProc)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: short process stat", ErrProc)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || ut < 0 || st < 0 || ut > 1<<40 || st > 1<<40 {
		return 0, fmt.Errorf("%w: bad CPU times in process stat", ErrProc)
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// machineBusy reads, from /proc/stat, the CPU time all processes have
// spent (user, nice, system, steal) and the time in interrupts (irq,
// softirq). They are kept apart because loopback TCP is processed in
// softirq, which no process is charged for.
func machineBusy() (busy, irq time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("%w: no cpu line in /proc/stat", ErrProc)
	}
	var sum, ints int64
	for i, v := range f[1:min(len(f), 9)] { // guest time is already in user
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			return 0, 0, fmt.Errorf("%w: bad /proc/stat field %q", ErrProc, v)
		}
		switch i {
		case 0, 1, 2, 7: // user nice system steal
			sum += n
		case 5, 6: // irq softirq
			ints += n
		}
	}
	return time.Duration(sum) * time.Second / userHZ, time.Duration(ints) * time.Second / userHZ, nil
}

// cpuMeter measures, over one window, the cores used by each watched
// process, by this process and by everything else (noise).
type cpuMeter struct {
	pids  []int
	start []procSample
	self  procSample
	busy  time.Duration
	irq   time.Duration
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
		s, _ := readProc(p)
		m.start = append(m.start, s)
	}
	m.self, _ = readProc(0)
	m.busy, m.irq, _ = machineBusy()
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
		s, err := readProc(p)
		if err != nil {
			continue
		}
		d := s.CPU - m.start[i].CPU
		watched += d
		c.Procs[names[i]] = float64(d) / float64(wall)
		c.CPU[names[i]] = d
	}
	self, _ := readProc(0)
	d := self.CPU - m.self.CPU
	c.Driver = float64(d) / float64(wall)
	busy, irq, err := machineBusy()
	if err == nil {
		c.Other = max(0, float64(busy-m.busy-watched-d)/float64(wall))
		c.IRQ = float64(irq-m.irq) / float64(wall)
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
		if sleep(ctx, time.Second) != nil {
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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
