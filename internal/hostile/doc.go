// Package hostile holds the library's hostile-input tests: what a peer on
// the open internet can send a websocket.Upgrader server to make it hang,
// leak or run out of memory, and the exact outcome the server must show
// instead (a close code, an HTTP status or a returned error), with its
// memory measured and its goroutines counted.
//
// The tests live in their own package, and run one at a time, so that the
// heap figures they assert are not blurred by unrelated tests running in
// parallel in the same binary.
//
// Run: go test -race -count=1 ./internal/hostile/
package hostile
