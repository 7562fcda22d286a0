// Package procstat reads a process's memory and CPU use, and the machine's
// CPU time, from Linux /proc. The benchmark drivers (loadgen, gwbench) use
// it to measure the servers they drive and the noise around them.
package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrProc is returned when a /proc file cannot be understood.
var ErrProc = errors.New("procstat: bad /proc data")

// userHZ is the unit of the CPU times in /proc. Linux fixes USER_HZ at 100
// on every architecture the benchmarks run on.
const userHZ = 100

// Sample is one reading of a process's memory and CPU use.
type Sample struct {
	At      time.Time
	RSS     int64 // resident set size, bytes (VmRSS)
	HWM     int64 // peak resident set size, bytes (VmHWM)
	Threads int
	CPU     time.Duration // user + system time since the process started
}

// Read samples process pid; pid 0 means this process.
func Read(pid int) (Sample, error) {
	dir := "/proc/self"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	s := Sample{At: time.Now()}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, fmt.Errorf("read process status: %w", err)
	}
	if err := ParseStatus(status, &s); err != nil {
		return s, err
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, fmt.Errorf("read process stat: %w", err)
	}
	s.CPU, err = ParseStatCPU(stat)
	return s, err
}

// ParseStatus reads VmRSS, VmHWM and Threads from /proc/PID/status into s.
// It fails with ErrProc when there is no VmRSS.
func ParseStatus(b []byte, s *Sample) error {
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmRSS":
			s.RSS, found = n*1024, true
		case "VmHWM":
			s.HWM = n * 1024
		case "Threads":
			s.Threads = int(n)
		}
	}
	if !found {
		return fmt.Errorf("%w: no VmRSS in process status", ErrProc)
	}
	return nil
}

// ParseStatCPU returns utime+stime from /proc/PID/stat. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from the
// last ')'.
func ParseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: malformed process stat", ErrProc)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state is field 3, so utime (14) and stime (15) are f[11], f[12].
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

// Cores is the average number of cores a process used between two samples.
func Cores(a, b Sample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return float64(b.CPU-a.CPU) / float64(wall)
}

// LoadAvg is the 1-minute load average, or -1 when unknown.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// Machine is the CPU time all processes have spent since boot, from the
// first line of /proc/stat.
type Machine struct {
	// Busy is user, nice, system and steal time: what processes are charged.
	Busy time.Duration
	// IRQ is time in interrupts and softirq. It is kept apart because
	// loopback TCP is processed in softirq, which no process is charged for.
	IRQ time.Duration
}

// ReadMachine reads the machine's CPU times from /proc/stat.
func ReadMachine() (Machine, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, fmt.Errorf("read /proc/stat: %w", err)
	}
	return ParseMachine(b)
}

// ParseMachine parses the "cpu" line of /proc/stat (user nice system idle
// iowait irq softirq steal guest ...). Guest time is already inside user.
func ParseMachine(b []byte) (Machine, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return Machine{}, fmt.Errorf("%w: no cpu line in /proc/stat", ErrProc)
	}
	var busy, irq int64
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<40 { // 1<<40 ticks is 348 years
			return Machine{}, fmt.Errorf("%w: bad /proc/stat field %q", ErrProc, v)
		}
		switch i {
		case 0, 1, 2, 7: // user nice system steal
			busy += n
		case 5, 6: // irq softirq
			irq += n
		}
	}
	return Machine{Busy: ticks(busy), IRQ: ticks(irq)}, nil
}

func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / userHZ }
