package health

import (
	"bytes"
	"errors"
	"os"
	"runtime/metrics"
	"strconv"
)

// errNoVmRSS: /proc/self/status had no parsable VmRSS line.
var errNoVmRSS = errors.New("health: no VmRSS in status")

// ProcessMemory returns the process's resident set size in bytes: VmRSS from
// /proc/self/status on Linux; elsewhere, or if that fails, the Go runtime's
// total mapped memory (/memory/classes/total:bytes, which over-counts
// memory that was released to the OS but never under-counts the heap).
// It does not stop the world.
func ProcessMemory() uint64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		if rss, err := parseVmRSS(b); err == nil {
			return rss
		}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}

// parseVmRSS finds the line "VmRSS:   12345 kB" in the contents of a
// /proc/<pid>/status file and returns the size in bytes.
func parseVmRSS(status []byte) (uint64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || !bytes.Equal(f[1], []byte("kB")) {
			return 0, errNoVmRSS
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil || kb > 1<<53 {
			return 0, errNoVmRSS
		}
		return kb * 1024, nil
	}
	return 0, errNoVmRSS
}
