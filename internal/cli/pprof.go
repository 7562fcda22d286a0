package cli

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// errPprofAddr is returned for a --pprof address that is not on loopback.
var errPprofAddr = errors.New("--pprof wants a loopback address (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)")

// pprofFlagUsage is the help text of --pprof on every command that has it.
const pprofFlagUsage = "serve net/http/pprof on this separate listener, loopback only (e.g. 127.0.0.1:6060); " +
	"benchmarks use /debug/pprof/heap?gc=1 to force a GC before memory readings. Empty: off"

// startPprof serves the net/http/pprof handlers on their own listener at
// addr and returns a function that stops it; an empty addr is a no-op. It
// refuses any address but loopback: the handlers expose the command line
// (which may carry credentials, e.g. a Redis URL) and can run long CPU
// profiles. It prints "pprof listening on http://ADDR/debug/pprof/" for
// scripts that use port 0.
func startPprof(addr string, stdout io.Writer) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen: %w", err)
	}
	srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Fprintf(stdout, "pprof listening on http://%s/debug/pprof/\n", ln.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %q: %w", errPprofAddr, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: got %q", errPprofAddr, addr)
	}
	return nil
}

// pprofMux serves the pprof handlers on their own mux, not the default one.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// The runtime's counters (memstats): benchmarks read the allocations
	// per relayed frame from them.
	mux.Handle("/debug/vars", expvar.Handler())
	return mux
}
