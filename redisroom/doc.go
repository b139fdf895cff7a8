// Package redisroom connects rooms of WebSocket clients across processes
// through Redis Streams, so that a chat (or any feed of lines) can be
// served by several nodes behind a load balancer.
//
// # Model
//
// Each room is one Redis stream, key "room:NAME". A line a client posts is
// appended with XADD ... MAXLEN ~ N (the bound is approximate: Redis
// trims whole radix-tree nodes, never below N, so at least the last N
// lines stay). The entry id Redis gives it is the line's identity and its
// place in the room's order, the same on every node.
//
// Every node reads the streams of the rooms that have clients on it, from
// the last id it delivered in each, with one XREAD BLOCK on a connection
// of its own (the feed), and hands each new line to those clients through
// the library's non-blocking send queue ([websocket.Conn.QueuePreparedMessage]):
// the line is framed once per node as a [websocket.PreparedMessage] and
// shared by all of them. A client that lets more than Config.QueueLimit
// messages or Config.QueueBytes bytes wait is closed with 1008; the feed
// never waits for one.
//
// The poster is not answered directly: its line comes back to it through
// the same feed, with its id, and that echo is the acknowledgement. A
// line Redis does not take is answered {"error":"unavailable","text":...}
// and forgotten.
//
// # Joining and resuming
//
// [Hub.Join] asks Redis where the room's stream ends, before the
// WebSocket upgrade. A member then catches up from its starting id (the
// end, or the id given as since) with XRANGE, one page at a time as fast
// as the client reads, and goes live when it has reached what the feed
// delivered; from then on the feed sends it every line with a greater id.
// Ids are compared per member, so the hand-over has no gap and no
// duplicate. When lines after since were trimmed away, the first message
// is {"gap":true,"oldest":ID}.
//
// # Messages
//
// Server to client, one JSON object per text message:
//
//	{"id":"1700000000000-0","room":"lobby","text":"hi","node":"a"}
//	{"gap":true,"oldest":"1700000000000-0"}
//	{"error":"unavailable","text":"hi"}
//
// Client to server: each text message is a line.
//
// # Failures
//
// While Redis does not answer, posts and joins fail with [ErrUnavailable]
// within Config.Timeout (at once once the hub knows); the feed reconnects
// every quarter of a second and resumes each room from the last id it
// delivered, so when Redis comes back with its data nothing is missed.
// A line Redis runs too late (it was cut off, not stopped, and found the
// command in its socket buffer when it came back) is not appended: the
// XADD runs in a script that checks a deadline against Redis's clock.
// A node that dies loses nothing acknowledged: acknowledged lines are in
// Redis (make it durable: appendonly yes, appendfsync always or everysec).
//
// Without Redis (Config.Redis nil) the hub keeps its rooms in memory: one
// node, no persistence, the same behaviour otherwise.
package redisroom
