"""A tiny HTTP server on 127.0.0.1 for tests that need something to answer (a page, /metrics).

`serve(answer)` runs a threaded server whose every GET is answered by `answer(path)`, which
returns (status, content type, body); it yields the server's base URL and stops afterwards.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Callable, Iterator

Answer = Callable[[str], tuple[int, str, bytes]]


@contextlib.contextmanager
def serve(answer: Answer) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
