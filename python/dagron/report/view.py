"""``dagron-trace view``'s server: hand one Perfetto trace to the Perfetto UI, the
way Perfetto's own ``open_trace_in_ui`` does.

The UI (https://ui.perfetto.dev) fetches ``http://127.0.0.1:9001/NAME`` itself (its
content security policy allows that port): the server answers that one path with
the bytes, allowing the UI's origin only (CORS), and stops once they were sent.
"""

from __future__ import annotations

import http.server
import threading
from typing import Callable, Optional
from urllib.parse import quote

UI = "https://ui.perfetto.dev"
HOST = "127.0.0.1"
PORT = 9001


def ui_url(name: str, port: int = PORT) -> str:
    """The address that opens ``name``, served here, in the Perfetto UI."""
    return f"{UI}/#!/?url=http://{HOST}:{port}/{quote(name)}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _OneShotServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: the command prints what the user needs

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", UI)
        self.send_header("Vary", "Origin")

    def _foreign(self) -> bool:
        """A browser request from a page other than the UI: refused."""
        origin = self.headers.get("Origin")
        if origin is not None and origin != UI:
            self.send_error(403, "origin not allowed")
            return True
        return False

    def do_OPTIONS(self) -> None:  # noqa: N802 (the name http.server calls)
        if self._foreign():
            return
        self.send_response(204)
        self._cors()
        self.send_header("Access-Control-Allow-Methods", "GET, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        # Chrome asks before a public page reads from the loopback address.
        self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        if self._foreign():
            return
        if self.path != self.server.path:
            self.send_error(404, "not found")
            return
        body = self.server.body
        self.send_response(200)
        self._cors()
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.server.served.set()


class _OneShotServer(http.server.HTTPServer):
    def __init__(self, port: int, name: str, body: bytes) -> None:
        self.path = "/" + quote(name)
        self.body = body
        self.served = threading.Event()
        super().__init__((HOST, port), _Handler)


def serve_once(
    body: bytes,
    name: str,
    *,
    port: int = PORT,
    ready: Optional[Callable[[str], None]] = None,
) -> None:
    """Serve ``body`` as ``/NAME`` on 127.0.0.1:``port`` until it has been fetched
    once (Ctrl-C stops it sooner). ``ready(url)`` runs once the server listens,
    with the Perfetto UI's address for it.

    ``OSError`` names the address when the port cannot be had."""
    try:
        server = _OneShotServer(port, name, body)
    except OSError as error:
        raise OSError(f"{HOST}:{port}: {error.strerror or error}") from None
    with server:
        if ready is not None:
            ready(ui_url(name, server.server_address[1]))
        while not server.served.is_set():
            server.handle_request()
