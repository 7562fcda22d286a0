//go:build !unix

package wsconn

import (
	"net"
	"syscall"
)

// rawOf returns nil: a parked reader reads one byte, then the rest.
func rawOf(net.Conn) syscall.RawConn { return nil }

// readAhead is not called where rawOf returns nil.
func (p *parkConn) readAhead() {}
