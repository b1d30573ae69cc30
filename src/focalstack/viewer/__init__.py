"""An interactive viewer for result folders of ``focalstack depth``, in the browser.

The page shows the all-in-focus image, depth with its colour bar in the result's unit, confidence and the input
slices; the depth and confidence under the cursor; a confidence threshold that hides pixels; a 3D view of the
depth as a coloured mesh or point cloud (three.js, vendored in ``static/three``); and a selector between two
results of the same stack. :func:`build_page` makes it, self-contained (``report.html``, ``focalstack depth
--html``) or for :class:`ViewerServer` (``focalstack view``), which serves it on 127.0.0.1.

Example:
    >>> from focalstack.viewer import build_page, serve
    >>> html = build_page("out/pcb")                    # doctest: +SKIP
    >>> serve(["out/pcb", "out/pcb_rdf"], port=8000)    # doctest: +SKIP
"""

from .page import build_page, write_report
from .result import REPORT_FILE, ResultFolder, open_result
from .server import ViewerServer, serve

__all__ = ["REPORT_FILE", "ResultFolder", "ViewerServer", "build_page", "open_result", "serve", "write_report"]
