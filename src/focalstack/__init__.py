"""focalstack: depth from focus and defocus.

Give it a focal stack (one scene photographed at several focus distances) and get back a
depth map, an all-in-focus image and a confidence map.

Example:
    >>> import focalstack
    >>> stack = focalstack.read_stack("examples/pcb")            # doctest: +SKIP
    >>> result = focalstack.estimate_depth(stack)                # doctest: +SKIP
    >>> result = focalstack.estimate_depth(stack, method="aifdepthnet_light")  # doctest: +SKIP
    >>> result.depth.shape, result.unit                          # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

from .classical import ClassicalConfig, depth_from_focus
from .errors import InputError
from .io import read_stack
from .methods import DEFAULT_METHOD, MethodSpec, estimate_depth, parse_method, resolve_method
from .stack import Camera, DepthResult, FocalStack

try:
    __version__ = version("focalstack")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "DEFAULT_METHOD", "Camera", "ClassicalConfig", "DepthResult", "FocalStack", "InputError", "MethodSpec",
    "__version__", "depth_from_focus", "estimate_depth", "parse_method", "read_stack", "resolve_method",
]
