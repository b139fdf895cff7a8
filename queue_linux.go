package websocket

import (
	"net"
	"syscall"
	"unsafe"
)

// haveWritev: the shared queue writers write with a non-blocking writev
// of their own here (queue.go).
const haveWritev = true

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// writevState is a queue worker's scratch space for writev.
type writevState struct {
	bufs [][]byte
	iov  []syscall.Iovec

	// The callback's arguments and results, kept here so that passing it
	// to RawConn.Write does not allocate.
	in  [][]byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

// writev writes bufs to the socket without waiting for it to become
// writable: it returns how many bytes the socket took, all of them unless
// it was full. Errors other than EAGAIN are returned.
func (w *writevState) writev(s *rawSocket, bufs [][]byte) (int, error) {
	if w.fn == nil {
		w.fn = w.write
	}
	w.in, w.n, w.err = bufs, 0, nil
	err := s.rc.Write(w.fn)
	w.in = nil
	if err == nil {
		err = w.err
	}
	if err != nil {
		if _, ok := err.(*net.OpError); !ok {
			err = opError("write", err, s.c.conn)
		}
	}
	return w.n, err
}

// write is the RawConn callback: writev in chunks of at most maxIovecs
// buffers until all is written, the socket is full or it fails. It never
// asks to wait (always returns true).
func (w *writevState) write(fd uintptr) bool {
	bufs := w.in
	for len(bufs) > 0 {
		chunk := bufs[:min(len(bufs), maxIovecs)]
		iov, want := w.iov[:0], 0
		for _, b := range chunk {
			if len(b) == 0 {
				continue
			}
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			iov = append(iov, v)
			want += len(b)
		}
		w.iov = iov
		if len(iov) == 0 {
			bufs = bufs[len(chunk):]
			continue
		}
		m, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		clear(iov) // drop the pointers into the frames
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return true
		default:
			w.err = e
			return true
		}
		w.n += int(m)
		if int(m) < want {
			return true
		}
		bufs = bufs[len(chunk):]
	}
	return true
}
