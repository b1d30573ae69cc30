"""The viewer's page: one HTML file for one or two result folders, self-contained or served.

``embed=True`` (``report.html``, ``focalstack depth --html``) inlines everything: the stylesheet, the vendored
three.js, the page's script and every image and map as a data: URL, so the file opens from disk without a server
or any network access. ``embed=False`` is the page ``focalstack view`` serves: the same markup and data, with the
scripts, images and maps as URLs on the viewer's server (:mod:`.server`).
"""

from __future__ import annotations

import base64
import json
import re
from importlib.resources import files
from pathlib import Path

from .. import __version__
from ..io.atomic import atomic_file
from .assets import ResultAssets
from .result import REPORT_FILE, ResultFolder, open_result

THREE_VERSION = "r187"
"""The vendored three.js (``static/three/README.md``)."""

STATIC_FILES = {"viewer.js": "text/javascript", "viewer.css": "text/css", "three/three.min.js": "text/javascript"}
"""The package's files that the page uses, by path under ``static/``, with their media types."""


def static_text(name: str) -> str:
    """A file of the package's ``static/`` folder (one of :data:`STATIC_FILES` or ``page.html``)."""
    return (files(__package__) / "static" / name).read_text(encoding="utf-8")


def build_page(result_dir: str | Path | ResultFolder, *others: str | Path | ResultFolder, embed: bool = True) -> str:
    """The viewer page for a result folder of ``focalstack depth``, and optionally others of the same stack to
    compare (a selector switches between them).

    Args:
        result_dir: the result folder (``result.json``, ``depth.npy``, ``confidence.npy``, ``aif.png``).
        others: further result folders.
        embed: everything inline (a self-contained file) or URLs on the viewer's server.

    Returns:
        The HTML text.

    Raises:
        InputError: a folder that is not a focalstack result.

    Example:
        >>> Path("report.html").write_text(build_page("out/pcb"))  # doctest: +SKIP
    """
    results = [r if isinstance(r, ResultFolder) else open_result(r) for r in (result_dir, *others)]
    return render_page([ResultAssets(r) for r in results], embed=embed)


def render_page(assets: list[ResultAssets], *, embed: bool) -> str:
    """The page for results already opened (the server keeps their :class:`ResultAssets`)."""
    data = {"version": __version__, "results": [_result_data(a, k, embed) for k, a in enumerate(assets)]}
    parts = {
        "version": __version__, "three_version": THREE_VERSION,
        "title": _escape_html(f"{assets[0].result.name} · focalstack"),
        "data": json.dumps(data, allow_nan=False).replace("<", "\\u003c"),
        "style": (f"<style>\n{static_text('viewer.css')}</style>" if embed
                  else '<link rel="stylesheet" href="static/viewer.css">'),
        "three": _script("three/three.min.js", embed),
        "app": _script("viewer.js", embed),
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], static_text("page.html"))


def write_report(result_dir: str | Path | ResultFolder, path: str | Path | None = None) -> Path:
    """Write the self-contained page of ``result_dir`` to ``path`` (default ``RESULT_DIR/report.html``)
    atomically; return the path."""
    result = result_dir if isinstance(result_dir, ResultFolder) else open_result(result_dir)
    path = Path(path) if path is not None else result.path / REPORT_FILE
    html = build_page(result)
    with atomic_file(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
        tmp.chmod(0o644)  # as the other result files, not mkstemp's 0600
    return path


def _result_data(assets: ResultAssets, k: int, embed: bool) -> dict:
    data = assets.description()
    count = len(data["slices"]["items"])
    if embed:
        depth, _, _ = assets.depth_bytes()
        data["urls"] = {"aif": _data_url("image/jpeg", assets.aif_jpeg()),
                        "depth": _data_url("application/octet-stream", depth),
                        "confidence": _data_url("application/octet-stream", assets.confidence_bytes()),
                        "slices": [_data_url("image/jpeg", assets.slice_jpeg(n)) for n in range(count)]}
    else:
        data["urls"] = {"aif": f"r/{k}/aif.jpg", "depth": f"r/{k}/depth.u16", "confidence": f"r/{k}/confidence.u8",
                        "slices": [f"r/{k}/slices/{n}.jpg" for n in range(count)]}
    return data


def _script(name: str, embed: bool) -> str:
    if not embed:
        return f'<script src="static/{name}"></script>'
    text = re.sub(r"</(script)", r"<\\/\1", static_text(name), flags=re.IGNORECASE)
    return f"<script>\n{text}\n</script>"


def _data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
