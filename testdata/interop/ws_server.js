// Echo server on node's ws (npm ws) for compress_interop_test.go:
//   node ws_server.js BITS
// answers permessage-deflate with client_max_window_bits=BITS (RFC 7692
// §7.1.2.2), so a client must compress within 2^BITS bytes; prints its port.
'use strict';
const { WebSocketServer } = require('ws');
const bits = Number(process.argv[2]);
const wss = new WebSocketServer({
  host: '127.0.0.1', port: 0, maxPayload: 64 << 20,
  perMessageDeflate: { clientMaxWindowBits: bits, serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 },
});
wss.on('listening', () => console.log(wss.address().port));
wss.on('connection', (ws, req) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (e) => console.error('ws error:', e.message));
});
