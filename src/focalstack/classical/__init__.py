"""Classical depth from focus: focus measures, focus-curve peak fit, fusion, refinement."""

from .dff import ClassicalConfig, depth_from_focus
from .focus_curve import PEAK_FITS, FocusCurve
from .focus_measures import FOCUS_MEASURES, focus_measure
from .fusion import FUSIONS, PyramidFusion, SoftBlend
from .refine import REFINEMENTS, refine_depth

__all__ = [
    "ClassicalConfig", "FOCUS_MEASURES", "FUSIONS", "FocusCurve", "PEAK_FITS", "PyramidFusion",
    "REFINEMENTS", "SoftBlend", "depth_from_focus", "focus_measure", "refine_depth",
]
