//go:build linux && !mips && !mipsle && !mips64 && !mips64le && !ppc64 && !ppc64le

package websocket

// fionread is the ioctl that returns the bytes waiting in a socket's
// receive queue (FIONREAD, also known as SIOCINQ).
const fionread = 0x541b
