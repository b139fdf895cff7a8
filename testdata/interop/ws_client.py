"""Client on python-websockets for compress_interop_test.go:
    python3 ws_client.py URL BITS SIZE

Offers permessage-deflate with server_max_window_bits=BITS, sends SIZE
bytes of repetitive text, checks the echo and prints "ok".
"""
import asyncio
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

S = "The quick brown fox jumps over the lazy dog while the cat sleeps. "


async def main():
    url, bits, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    text = (S * (size // len(S) + 1))[:size]
    ext = ClientPerMessageDeflateFactory(
        server_no_context_takeover=True, client_no_context_takeover=True,
        server_max_window_bits=bits)
    async with websockets.connect(url, max_size=None, compression=None,
                                  extensions=[ext]) as ws:
        await ws.send(text)
        got = await ws.recv()
        if got != text:
            sys.exit("echo differs")
        print("ok", ws.response_headers.get("Sec-WebSocket-Extensions"))


asyncio.run(main())
