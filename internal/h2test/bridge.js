'use strict';
// bridge.js: an RFC 6455 <-> RFC 8441 gateway for the Go tests, on Node's
// built-in http2 module (no npm package).
//
//   node bridge.js HOST:PORT
//
// It opens ONE HTTP/2 connection (TLS, certificate not checked) to the Go
// server at HOST:PORT, waits for the server's SETTINGS, then listens on a
// free loopback TCP port. Every TCP connection accepted there sends an
// HTTP/1.1 WebSocket opening handshake (RFC 6455 §4.1), which becomes an
// extended CONNECT stream on that shared connection (RFC 8441 §4):
// :method CONNECT, :protocol websocket, :path from the request line,
// :authority HOST:PORT, and the request's headers minus the HTTP/1.1-only
// ones (Host, Connection, Upgrade, Sec-WebSocket-Key, ...). A 2xx answer
// goes back as "101 Switching Protocols" with the Sec-WebSocket-Accept the
// key asks for, and from then on bytes are copied both ways untouched:
// the Go test speaks raw frames through it with internal/wstest. Stream
// ends map as RFC 8441 §5 says: the server's END_STREAM becomes a TCP FIN
// and its RST_STREAM a TCP reset; the test client's FIN becomes
// END_STREAM and its reset or close RST_STREAM(CANCEL). Any other answer
// is relayed with its status and body, then the TCP connection is closed.
//
// It reports on stdout, one JSON object a line:
//   {"ready":true,"port":N,"enableConnectProtocol":bool}  once listening
//   {"stream":ID,"event":"response","status":S}
//   {"stream":ID,"event":"end"}                 the server sent END_STREAM
//   {"stream":ID,"event":"close","rstCode":C}   the stream is closed (C is
//                                               the RST_STREAM code, 0 if none)
// The 101 (or other) answer carries X-H2-Stream: ID and X-H2-Status: the
// HTTP/2 status. It exits when its
// stdin ends.
const http2 = require('http2');
const net = require('net');
const crypto = require('crypto');

const target = process.argv[2];
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const hopByHop = new Set(['host', 'connection', 'upgrade', 'sec-websocket-key', 'keep-alive',
  'proxy-connection', 'transfer-encoding', 'te', 'content-length']);

function emit(o) { process.stdout.write(JSON.stringify(o) + '\n'); }

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

const session = http2.connect('https://' + target, { rejectUnauthorized: false });
session.on('error', (e) => { emit({ event: 'session-error', message: String(e) }); process.exit(1); });
session.once('remoteSettings', (settings) => {
  const server = net.createServer(accept);
  server.listen(0, '127.0.0.1', () => {
    emit({ ready: true, port: server.address().port, enableConnectProtocol: !!settings.enableConnectProtocol });
  });
});

function accept(sock) {
  let buf = Buffer.alloc(0);
  sock.on('error', () => {});
  const onData = (d) => {
    buf = Buffer.concat([buf, d]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    sock.removeListener('data', onData);
    sock.pause();
    open(sock, buf.subarray(0, end).toString('latin1'), buf.subarray(end + 4));
  };
  sock.on('data', onData);
}

function open(sock, head, rest) {
  const lines = head.split('\r\n');
  const path = lines[0].split(' ')[1];
  const headers = { ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':path': path, ':authority': target };
  let key = '';
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    if (name === 'sec-websocket-key') key = value;
    if (hopByHop.has(name)) continue;
    headers[name] = name in headers ? [].concat(headers[name], value) : value;
  }
  let stream;
  try {
    stream = session.request(headers, { endStream: false });
  } catch (e) {
    sock.end('HTTP/1.1 502 Bridge\r\nConnection: close\r\n\r\n' + e.message);
    return;
  }
  stream.on('error', () => {});
  stream.on('response', (h) => {
    const status = h[':status'];
    emit({ stream: stream.id, event: 'response', status });
    const ok = status >= 200 && status < 300;
    let out = ok
      ? 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' +
        crypto.createHash('sha1').update(key + GUID).digest('base64') + '\r\n'
      : 'HTTP/1.1 ' + status + ' H2\r\nConnection: close\r\n';
    for (const [k, v] of Object.entries(h)) {
      if (k.startsWith(':') || k === 'content-length') continue;
      for (const x of [].concat(v)) out += k + ': ' + x + '\r\n';
    }
    out += 'X-H2-Stream: ' + stream.id + '\r\nX-H2-Status: ' + status + '\r\n\r\n';
    sock.write(out, 'latin1');
    stream.pipe(sock); // the server's END_STREAM ends the TCP connection
    if (!ok) return;
    if (rest.length > 0) stream.write(rest);
    sock.pipe(stream); // the client's FIN becomes END_STREAM
    sock.resume();
  });
  stream.on('end', () => emit({ stream: stream.id, event: 'end' }));
  stream.on('close', () => {
    emit({ stream: stream.id, event: 'close', rstCode: stream.rstCode });
    if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) sock.resetAndDestroy();
  });
  sock.on('close', () => {
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
  });
}
