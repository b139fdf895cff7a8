'use strict';
// load.js: the client of the CPU benchmark (h2_bench_test.go).
//
//   node load.js MODE HOST:PORT SIZE COUNT      MODE is h2 or http1.1
//
// It opens one wss:// WebSocket to /echo at HOST:PORT (TLS, certificate
// not checked): over HTTP/2 as an RFC 8441 extended CONNECT, or over
// HTTP/1.1 as an RFC 6455 upgrade on a TLS connection whose ALPN is
// http/1.1. It echoes 50 binary messages of SIZE bytes to warm up, prints
// "ready", waits for a line on stdin, then sends COUNT more, one at a time
// (the next goes when the echo of the last has fully arrived), and prints
// "done". The payload and its mask are made once, so the client spends
// little per message.
const http2 = require('http2');
const tls = require('tls');
const crypto = require('crypto');

const [mode, target, sizeArg, countArg] = process.argv.slice(2);
const size = Number(sizeArg);
const count = Number(countArg);
const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];

function maskedFrame(n) {
  const len = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const f = Buffer.alloc(2 + len + 4 + n);
  f[0] = 0x82; // FIN, binary
  if (len === 0) f[1] = 0x80 | n;
  else if (len === 2) { f[1] = 0x80 | 126; f.writeUInt16BE(n, 2); }
  else { f[1] = 0x80 | 127; f.writeBigUInt64BE(BigInt(n), 2); }
  const key = crypto.randomBytes(4);
  key.copy(f, 2 + len);
  const payload = crypto.randomBytes(n);
  for (let i = 0; i < n; i++) f[2 + len + 4 + i] = payload[i] ^ key[i & 3];
  return f;
}
const frame = maskedFrame(size);
const echoLen = frame.length - 4; // the server's frame is not masked

function run(write, onData) {
  let got = 0;
  let left = 50;
  let phase = 'warm';
  const next = () => {
    if (left === 0) {
      if (phase === 'warm') {
        phase = 'run';
        left = count;
        process.stdout.write('ready\n');
        process.stdin.once('data', next);
        return;
      }
      process.stdout.write('done\n');
      process.exit(0);
    }
    left--;
    write(frame);
  };
  onData((d) => {
    got += d.length;
    while (got >= echoLen) { got -= echoLen; next(); }
  });
  next();
}

if (mode === 'h2') {
  const s = http2.connect('https://' + target, { rejectUnauthorized: false });
  s.once('remoteSettings', () => {
    const r = s.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':path': '/echo',
      ':authority': target, 'sec-websocket-version': '13' });
    r.on('response', (h) => {
      if (h[':status'] !== 200) { console.error('status', h[':status']); process.exit(1); }
      run((b) => r.write(b), (f) => r.on('data', f));
    });
  });
} else {
  const sock = tls.connect({ host, port, ALPNProtocols: ['http/1.1'], rejectUnauthorized: false }, () => {
    const key = crypto.randomBytes(16).toString('base64');
    sock.write('GET /echo HTTP/1.1\r\nHost: ' + target + '\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: ' + key + '\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let head = Buffer.alloc(0);
    const onHead = (d) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.removeListener('data', onHead);
      if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) { console.error(head.toString()); process.exit(1); }
      run((b) => sock.write(b), (f) => sock.on('data', f));
    };
    sock.on('data', onHead);
  });
}
