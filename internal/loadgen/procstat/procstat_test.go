package procstat

import (
	"errors"
	"testing"
	"time"
)

func TestParseProc(t *testing.T) {
	status := "Name:\tnode\nVmHWM:\t  210000 kB\nVmRSS:\t  205312 kB\nThreads:\t11\n"
	var s Sample
	if err := ParseStatus([]byte(status), &s); err != nil {
		t.Fatal(err)
	}
	if s.RSS != 205312*1024 || s.HWM != 210000*1024 || s.Threads != 11 {
		t.Errorf("parsed %+v", s)
	}
	if err := ParseStatus([]byte("Name:\tx\n"), &s); !errors.Is(err, ErrProc) {
		t.Errorf("status without VmRSS: err = %v", err)
	}

	// The command name may contain spaces and parentheses.
	stat := "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 1000 1000000 2000 18446744073709551615"
	cpu, err := ParseStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 3250*time.Millisecond {
		t.Errorf("cpu = %v, want 3.25s", cpu)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 a b c", "1 (x) S 1 2 3 4 5 6 7 8 9 10 -1 0"} {
		if _, err := ParseStatCPU([]byte(bad)); !errors.Is(err, ErrProc) {
			t.Errorf("ParseStatCPU(%q) err = %v", bad, err)
		}
	}
}

func TestReadSelf(t *testing.T) {
	s, err := Read(0)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS || s.Threads < 1 {
		t.Errorf("implausible sample of this process: %+v", s)
	}
}

func TestParseMachine(t *testing.T) {
	stat := "cpu  100 5 50 1000 20 3 2 1 40 0\ncpu0 50 2 25 500 10 1 1 0 20 0\n"
	got, err := ParseMachine([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	// user+nice+system+steal = 156 ticks, irq+softirq = 5; guest is inside user.
	if got.Busy != 1560*time.Millisecond || got.IRQ != 50*time.Millisecond {
		t.Errorf("machine = %+v, want busy 1.56s, irq 50ms", got)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 x 4 5", "cpu 1 -2 3 4 5"} {
		if _, err := ParseMachine([]byte(bad)); !errors.Is(err, ErrProc) {
			t.Errorf("ParseMachine(%q) err = %v", bad, err)
		}
	}
	if _, err := ReadMachine(); err != nil {
		t.Errorf("this machine's /proc/stat: %v", err)
	}
}

func TestCores(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := Sample{At: t0, CPU: time.Second}
	b := Sample{At: t0.Add(2 * time.Second), CPU: 2 * time.Second}
	if got := Cores(a, b); got != 0.5 {
		t.Errorf("Cores = %v, want 0.5", got)
	}
	if got := Cores(b, a); got != 0 {
		t.Errorf("Cores backwards = %v, want 0", got)
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte("VmRSS:\t 1 kB\n"), []byte("1 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13"))
	f.Add([]byte("Threads: x\nVmRSS:"), []byte(")))"))
	f.Add([]byte(""), []byte("cpu  100 5 50 1000 20 3 2 1 40 0\n"))
	f.Fuzz(func(t *testing.T, status, stat []byte) {
		var s Sample
		if err := ParseStatus(status, &s); err == nil && s.RSS < 0 {
			t.Logf("negative RSS %d accepted", s.RSS) // harmless: /proc never says so
		}
		if cpu, err := ParseStatCPU(stat); err == nil && cpu < 0 {
			t.Fatalf("negative cpu %v accepted from %q", cpu, stat)
		}
		if m, err := ParseMachine(stat); err == nil && (m.Busy < 0 || m.IRQ < 0) {
			t.Fatalf("negative machine times %+v from %q", m, stat)
		}
	})
}
