package loadgen

import (
	"errors"
	"testing"
	"time"
)

func TestParseProc(t *testing.T) {
	status := "Name:\tnode\nVmHWM:\t  210000 kB\nVmRSS:\t  205312 kB\nThreads:\t11\n"
	var s procSample
	if err := parseStatus([]byte(status), &s); err != nil {
		t.Fatal(err)
	}
	if s.RSS != 205312*1024 || s.HWM != 210000*1024 || s.Threads != 11 {
		t.Errorf("parsed %+v", s)
	}
	if err := parseStatus([]byte("Name:\tx\n"), &s); !errors.Is(err, ErrProc) {
		t.Errorf("status without VmRSS: err = %v", err)
	}

	// The command name may contain spaces and parentheses.
	stat := "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 1000 1000000 2000 18446744073709551615"
	cpu, err := parseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 3250*time.Millisecond {
		t.Errorf("cpu = %v, want 3.25s", cpu)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 a b c", "1 (x) S 1 2 3 4 5 6 7 8 9 10 -1 0"} {
		if _, err := parseStatCPU([]byte(bad)); !errors.Is(err, ErrProc) {
			t.Errorf("parseStatCPU(%q) err = %v", bad, err)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := readProc(0)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS || s.Threads < 1 {
		t.Errorf("implausible sample of this process: %+v", s)
	}
}

func TestParseMachineBusy(t *testing.T) {
	stat := "cpu  100 5 50 1000 20 3 2 1 40 0\ncpu0 50 2 25 500 10 1 1 0 20 0\n"
	got, err := parseMachineBusy([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	// user+nice+system+irq+softirq+steal = 161 ticks; guest is inside user.
	if got != 1610*time.Millisecond {
		t.Errorf("busy = %v, want 1.61s", got)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 x 4 5", "cpu 1 -2 3 4 5"} {
		if _, err := parseMachineBusy([]byte(bad)); !errors.Is(err, ErrProc) {
			t.Errorf("parseMachineBusy(%q) err = %v", bad, err)
		}
	}
	if _, err := machineBusy(); err != nil {
		t.Errorf("this machine's /proc/stat: %v", err)
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte("VmRSS:\t 1 kB\n"), []byte("1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13"))
	f.Add([]byte("Threads: x\nVmRSS:"), []byte(")))"))
	f.Fuzz(func(t *testing.T, status, stat []byte) {
		var s procSample
		if err := parseStatus(status, &s); err == nil && s.RSS < 0 {
			t.Logf("negative RSS %d accepted", s.RSS) // harmless: /proc never says so
		}
		if cpu, err := parseStatCPU(stat); err == nil && cpu < 0 {
			t.Fatalf("negative cpu %v accepted from %q", cpu, stat)
		}
		if busy, err := parseMachineBusy(stat); err == nil && busy < 0 {
			t.Fatalf("negative machine busy %v from %q", busy, stat)
		}
	})
}
