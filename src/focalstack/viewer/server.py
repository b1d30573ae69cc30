"""The viewer's local HTTP server (``focalstack view``): 127.0.0.1 only, a fixed set of routes.

Routes (anything else is 404, so no request can reach a file outside the result folders):

- ``/``: the page (:func:`~focalstack.viewer.page.render_page` with ``embed=False``);
- ``/static/NAME``: the package's script, stylesheet and vendored three.js (:data:`~.page.STATIC_FILES`);
- ``/r/K/aif.jpg``, ``/r/K/depth.u16``, ``/r/K/confidence.u8``, ``/r/K/slices/N.jpg``: result K's page assets
  (:class:`~focalstack.viewer.assets.ResultAssets`), made on first request and kept;
- ``/r/K/files/NAME``: a file of result folder K whose name is one of
  :data:`~focalstack.viewer.result.DOWNLOADABLE_FILES` (``depth.npy``, ``points.ply``, ...).

Requests whose ``Host`` header is not this server's address are refused (403), so a web page elsewhere cannot
read the results through DNS rebinding.
"""

from __future__ import annotations

import re
import sys
import threading
import webbrowser
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import InputError
from .assets import ResultAssets
from .page import STATIC_FILES, render_page, static_text
from .result import DOWNLOADABLE_FILES, open_result

HOST = "127.0.0.1"
_ASSETS = {"aif.jpg": "image/jpeg", "depth.u16": "application/octet-stream",
           "confidence.u8": "application/octet-stream"}
_FILE_TYPES = {".json": "application/json", ".png": "image/png", ".html": "text/html; charset=utf-8"}


class ViewerServer(ThreadingHTTPServer):
    """Serves the viewer page of one or more result folders on ``127.0.0.1:port`` (0: a free port).

    Raises:
        InputError: a folder that is not a focalstack result, or a port that cannot be used.

    Example:
        >>> server = ViewerServer(["out/pcb"])       # doctest: +SKIP
        >>> server.url                                 # doctest: +SKIP
        'http://127.0.0.1:40123/'
        >>> server.serve_forever()                     # doctest: +SKIP
    """

    daemon_threads = True

    def __init__(self, result_dirs: Sequence[str | Path], *, port: int = 0) -> None:
        if not result_dirs:
            raise InputError("give at least one result folder")
        if not (isinstance(port, int) and 0 <= port <= 65535):
            raise InputError(f"--port must be a whole number in 0..65535, got {port!r}")
        self.assets = [ResultAssets(open_result(d, name=str(d))) for d in result_dirs]
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as exc:
            raise InputError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None
        self._cache: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_port}/"

    def content(self, path: str) -> tuple[bytes, str] | None:
        """(body, media type) for a request path, or None (404)."""
        with self._lock:
            if path not in self._cache:
                made = self._make(path)
                if made is None or (path.startswith("/r/") and "/files/" in path):
                    return made  # unknown paths and the folders' own files are not kept
                self._cache[path] = made
            return self._cache[path]

    def _make(self, path: str) -> tuple[bytes, str] | None:
        if path in ("/", "/index.html"):
            return render_page(self.assets, embed=False).encode("utf-8"), "text/html; charset=utf-8"
        if path.startswith("/static/") and path[len("/static/"):] in STATIC_FILES:
            name = path[len("/static/"):]
            return static_text(name).encode("utf-8"), f"{STATIC_FILES[name]}; charset=utf-8"
        match = re.fullmatch(r"/r/(\d{1,3})/(.+)", path)
        if match is None or int(match[1]) >= len(self.assets):
            return None
        return self._result_content(self.assets[int(match[1])], match[2])

    def _result_content(self, assets: ResultAssets, name: str) -> tuple[bytes, str] | None:
        if name == "aif.jpg":
            return assets.aif_jpeg(), _ASSETS[name]
        if name == "depth.u16":
            return assets.depth_bytes()[0], _ASSETS[name]
        if name == "confidence.u8":
            return assets.confidence_bytes(), _ASSETS[name]
        match = re.fullmatch(r"slices/(\d{1,6})\.jpg", name)
        if match is not None:
            try:
                return assets.slice_jpeg(int(match[1])), "image/jpeg"
            except IndexError:
                return None
        match = re.fullmatch(r"files/([A-Za-z0-9_.]+)", name)
        if match is not None and match[1] in DOWNLOADABLE_FILES:
            path = assets.result.path / match[1]
            if path.is_file():
                return path.read_bytes(), _FILE_TYPES.get(path.suffix, "application/octet-stream")
        return None


class _Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    server_version = "focalstack-view"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        allowed = {f"{HOST}:{self.server.server_port}", f"localhost:{self.server.server_port}"}
        if self.headers.get("Host", next(iter(allowed))) not in allowed:
            self._send(HTTPStatus.FORBIDDEN, b"forbidden host\n", "text/plain")
            return
        try:
            found = self.server.content(unquote(urlsplit(self.path).path))
        except Exception as exc:  # noqa: BLE001 - one failing asset must not stop the server
            print(f"error: {self.path}: {exc}", file=sys.stderr)
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, f"{exc}\n".encode(), "text/plain")
            return
        if found is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
        else:
            self._send(HTTPStatus.OK, *found)

    def _send(self, status: HTTPStatus, body: bytes, media_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet: the command prints its own lines
        pass


def serve(result_dirs: Sequence[str | Path], *, port: int = 0, open_browser: bool = True,
          announce: Callable[[ViewerServer], None] | None = None) -> None:
    """Serve the viewer until Ctrl-C (which returns normally); ``announce(server)`` runs once it listens."""
    server = ViewerServer(result_dirs, port=port)
    try:
        if announce is not None:
            announce(server)
        if open_browser:
            webbrowser.open(server.url)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
