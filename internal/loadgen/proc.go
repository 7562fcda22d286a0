package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat. Linux fixes
// USER_HZ at 100 on every architecture the benchmark runs on.
const userHZ = 100

// procSample is one reading of a process's memory and CPU use from /proc.
type procSample struct {
	At      time.Time
	RSS     int64 // resident set size, bytes (VmRSS)
	HWM     int64 // peak resident set size, bytes (VmHWM)
	Threads int
	CPU     time.Duration // user + system time since the process started
}

// readProc samples process pid; pid 0 means this process.
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
	if err := parseStatus(status, &s); err != nil {
		return s, err
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, fmt.Errorf("read process stat: %w", err)
	}
	s.CPU, err = parseStatCPU(stat)
	return s, err
}

// parseStatus reads VmRSS, VmHWM and Threads from /proc/PID/status.
func parseStatus(b []byte, s *procSample) error {
	found := 0
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
			s.RSS, found = n*1024, found+1
		case "VmHWM":
			s.HWM = n * 1024
		case "Threads":
			s.Threads = int(n)
		}
	}
	if found == 0 {
		return fmt.Errorf("%w: no VmRSS in process status", ErrProc)
	}
	return nil
}

// parseStatCPU returns utime+stime from /proc/PID/stat. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from the
// last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
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

// cpuCores is the average number of cores a process used between two samples.
func cpuCores(a, b procSample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return float64(b.CPU-a.CPU) / float64(wall)
}

// loadAvg is the 1-minute load average, or -1 when unknown.
func loadAvg() float64 {
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

// machineBusy reads the CPU time all processes have spent, from the first
// line of /proc/stat (user nice system idle iowait irq softirq steal ...).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	return parseMachineBusy(b)
}

func parseMachineBusy(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, fmt.Errorf("%w: no cpu line in /proc/stat", ErrProc)
	}
	var busy int64
	for i, v := range f[1:min(len(f), 9)] { // guest time is already in user
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<40 { // 1<<40 ticks is 348 years
			return 0, fmt.Errorf("%w: bad /proc/stat field %q", ErrProc, v)
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / userHZ, nil
}
