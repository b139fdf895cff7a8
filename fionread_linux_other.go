//go:build linux && (mips || mipsle || mips64 || mips64le || ppc64 || ppc64le)

package websocket

// fionread is 0 where its number differs from the common one: rawSocket
// then does not ask (queued returns 0) and ReadMessage stages large
// messages as on other transports.
const fionread = 0
