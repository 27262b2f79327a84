#!/usr/bin/env python3
"""tcp_proxy.py — a TCP forwarder for tests: listens on 127.0.0.1:PORT and
copies bytes both ways to HOST:TARGET_PORT, one task per connection.  Killing
it cuts every connection through it at once (a machine losing a server).
usage: tcp_proxy.py PORT HOST TARGET_PORT  (runs until killed)"""
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def handle(client_r, client_w, host, port):
    try:
        server_r, server_w = await asyncio.open_connection(host, port)
    except OSError:
        client_w.close()
        return
    await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))


async def main():
    listen, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    server = await asyncio.start_server(lambda r, w: handle(r, w, host, port), "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__ + "\n")
        sys.exit(2)
    asyncio.run(main())
