"""A small asyncio TCP proxy that injects delay, run in a thread of its own.

The chaos broker advertises the proxy's port, so every Kafka client (the gateway, the
services, the checker) talks through it. With `delay_s` set, each chunk the broker sends back
waits that long before it is forwarded: produce acknowledgements, metadata and fetches all
become slow, as with a broker stuck on a slow disk or a congested link.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

from scantrace_cli.stack.ports import HOST


class DelayProxy:
    """127.0.0.1:`port` -> 127.0.0.1:`upstream_port`, with an adjustable delay on replies."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.delay_s = 0.0
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="delay-proxy", daemon=True
        )
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self.port: int = self._sock.getsockname()[1]
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._handle, sock=self._sock)

    def set_delay(self, seconds: float) -> None:
        self.delay_s = seconds

    def drop_connections(self) -> None:
        """Close every proxied connection (clients reconnect through the proxy)."""

        def close_all() -> None:
            for writer in list(self._writers):
                writer.close()

        self._loop.call_soon_threadsafe(close_all)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delayed: bool
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                if delayed and self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_r, upstream_w = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            client_w.close()  # broker down: the client sees a refused-like close
            return
        self._writers.update((client_w, upstream_w))
        try:
            await asyncio.gather(
                self._pipe(client_r, upstream_w, delayed=False),
                self._pipe(upstream_r, client_w, delayed=True),
            )
        finally:
            self._writers.difference_update((client_w, upstream_w))

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._writers):
                writer.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
        self._sock.close()
