package health

import (
	"os"
	"testing"
)

const statusSample = "Name:\tbaton\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1262340 kB\nVmSize:\t 1262340 kB\nVmHWM:\t   21516 kB\nVmRSS:\t   21516 kB\nRssAnon:\t    9984 kB\nThreads:\t8\n"

func TestParseVmRSS(t *testing.T) {
	if got, err := parseVmRSS([]byte(statusSample)); err != nil || got != 21516*1024 {
		t.Fatalf("got %d, %v", got, err)
	}
	for _, bad := range []string{"", "VmRSS:\n", "VmRSS: x kB\n", "VmRSS: 12 MB\n", "VmSize: 3 kB\n", "VmRSS: 99999999999999999999 kB"} {
		if _, err := parseVmRSS([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		if rss, err := parseVmRSS(b); err != nil || rss == 0 {
			t.Fatalf("own status: %d %v", rss, err)
		}
	}
}

func FuzzParseVmRSS(f *testing.F) {
	f.Add([]byte(statusSample))
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("VmRSS:\t18446744073709551615 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if rss, err := parseVmRSS(b); err == nil && rss%1024 != 0 {
			t.Fatalf("rss %d not whole kB", rss)
		}
	})
}

func FuzzParseProbe(f *testing.F) {
	f.Add([]byte(`{"baton_probe":"me","n":42}`))
	f.Add([]byte(`{"baton_probe":"other","n":1}`))
	f.Add([]byte(`{"n":-1}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := parseProbe(b, "me")
		if ok && n == 0 {
			t.Fatal("probe 0 accepted")
		}
	})
}
