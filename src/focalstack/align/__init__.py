"""Stack alignment: undo focus breathing and slice-to-slice misregistration before depth estimation.

- :mod:`.warps`: the warp convention (3 x 3, reference frame -> slice), resampling, composition, error.
- :mod:`.metadata`: field-of-view warps from focus distances and focal length (Won & Jeon, ECCV 2022, Eq. 1).
- :mod:`.ecc`: image-based refinement (OpenCV ECC), translation, affine or homography.
- :func:`align`: one entry, ``align(stack, method="auto")``.
"""

from .ecc import refine_warps
from .metadata import breathing_scales, breathing_warps
from .stack_alignment import METHODS, Alignment, align, has_breathing_metadata
from .warps import (
    apply,
    compose,
    homogeneous,
    identity_warps,
    invert,
    is_affine,
    point_shifts_px,
    relative_to,
    warp_error_px,
    warp_to_reference,
)

__all__ = [
    "METHODS", "Alignment", "align", "apply", "breathing_scales", "breathing_warps", "compose",
    "has_breathing_metadata", "homogeneous", "identity_warps", "invert", "is_affine", "point_shifts_px",
    "refine_warps", "relative_to", "warp_error_px", "warp_to_reference",
]
