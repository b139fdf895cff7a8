// Client on node's ws (npm ws) for compress_interop_test.go:
//   node ws_client.js URL BITS SIZE
// offers permessage-deflate with server_max_window_bits=BITS, sends SIZE
// bytes of repetitive text, checks the echo and prints "ok".
'use strict';
const WebSocket = require('ws');
const [url, bits, size] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const s = 'The quick brown fox jumps over the lazy dog while the cat sleeps. ';
const text = s.repeat(Math.floor(size / s.length) + 1).slice(0, size);
const ws = new WebSocket(url, {
  maxPayload: 64 << 20,
  perMessageDeflate: { serverMaxWindowBits: bits, serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 },
});
ws.on('open', () => ws.send(text));
ws.on('message', (data) => {
  const ext = ws.extensions;
  if (data.toString() !== text) {
    console.error('echo differs');
    process.exit(1);
  }
  console.log('ok', ext);
  ws.close(1000);
});
ws.on('close', (code) => process.exit(code === 1000 || code === 1005 ? 0 : 2));
ws.on('error', (e) => { console.error('ws error:', e.message); process.exit(3); });
