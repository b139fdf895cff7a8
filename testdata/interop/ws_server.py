"""Echo server on python-websockets (Debian python3-websockets) for
compress_interop_test.go:  python3 ws_server.py BITS

Answers permessage-deflate with client_max_window_bits=BITS (RFC 7692
7.1.2.2), so a client must compress within 2^BITS bytes; prints its port.
"""
import asyncio
import sys

import websockets
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory


async def echo(ws, *args):
    async for m in ws:
        await ws.send(m)


async def main():
    bits = int(sys.argv[1])
    ext = ServerPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True,
        client_max_window_bits=bits)
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None,
                                compression=None, extensions=[ext]) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


asyncio.run(main())
