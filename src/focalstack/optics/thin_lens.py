"""Thin-lens geometry: circle of confusion, depth of field, lens-to-sensor distance.

Every function works on Python floats, NumPy arrays and torch tensors alike (plain arithmetic
and ``abs``), so the same formula serves the simulator and the differentiable losses.

Conventions: distances in metres unless the name says otherwise (``_mm``, ``_um``, ``_px``);
depth and focus distance are measured from the lens; focal length f < focus distance F.

Circle of confusion (Si et al., CVPR 2023), for an object at depth d:

    CoC = |d - F| / d * f^2 / (N (F - f))        (diameter on the sensor, metres)
    radius_px = CoC / (2 p)                       (p = pixel pitch, metres)

Lens-to-sensor distance when focused at F (Won & Jeon, ECCV 2022, Eq. 1):

    s = F f / (F - f)
"""

from __future__ import annotations

from dataclasses import dataclass

_MM = 1e-3
_UM = 1e-6


def diopters_from_metres(depth_m):
    """Inverse depth in diopters (1/m). Example: ``diopters_from_metres(0.5) == 2.0``."""
    return 1.0 / depth_m


def metres_from_diopters(diopters):
    """Depth in metres from inverse depth in diopters (1/m)."""
    return 1.0 / diopters


def sensor_distance_m(focus_distance_m, *, focal_length_mm: float):
    """Lens-to-sensor distance s = F f / (F - f) in metres for a lens focused at F metres."""
    f = focal_length_mm * _MM
    return focus_distance_m * f / (focus_distance_m - f)


def coc_diameter_m(depth_m, *, focus_distance_m, focal_length_mm: float, f_number: float):
    """Diameter of the circle of confusion on the sensor, in metres.

    Args:
        depth_m: object depth(s) d in metres, > 0.
        focus_distance_m: focus distance(s) F in metres, > f; broadcasts with ``depth_m``.
        focal_length_mm: focal length f in millimetres.
        f_number: aperture N (focal length / aperture diameter).

    Example:
        >>> round(coc_diameter_m(2.0, focus_distance_m=1.0, focal_length_mm=50, f_number=2.0) * 1e6, 1)
        657.9
    """
    f = focal_length_mm * _MM
    return abs(depth_m - focus_distance_m) / depth_m * (f * f) / (f_number * (focus_distance_m - f))


def coc_radius_px(depth_m, *, focus_distance_m, focal_length_mm: float, f_number: float, pixel_pitch_um: float):
    """Radius of the circle of confusion in pixels: CoC / (2 p)."""
    diameter = coc_diameter_m(depth_m, focus_distance_m=focus_distance_m, focal_length_mm=focal_length_mm,
                              f_number=f_number)
    return diameter / (2.0 * pixel_pitch_um * _UM)


def hyperfocal_distance_m(*, focal_length_mm: float, f_number: float, coc_limit_um: float) -> float:
    """Hyperfocal distance H = f^2 / (N c) + f in metres, for an acceptable CoC diameter c."""
    f = focal_length_mm * _MM
    return f * f / (f_number * coc_limit_um * _UM) + f


def depth_of_field_m(focus_distance_m, *, focal_length_mm: float, f_number: float, coc_limit_um: float):
    """Near and far limits (metres) of acceptable sharpness around focus distance F.

    near = F (H - f) / (H + F - 2 f), far = F (H - f) / (H - F) for F < H, else infinity,
    with H the hyperfocal distance for the acceptable CoC diameter ``coc_limit_um``.
    Both limits are exactly where :func:`coc_diameter_m` equals ``coc_limit_um``.
    """
    f = focal_length_mm * _MM
    h = hyperfocal_distance_m(focal_length_mm=focal_length_mm, f_number=f_number, coc_limit_um=coc_limit_um)
    near = focus_distance_m * (h - f) / (h + focus_distance_m - 2 * f)
    far = focus_distance_m * (h - f) / (h - focus_distance_m) if focus_distance_m < h else float("inf")
    return near, far


@dataclass(frozen=True)
class ThinLens:
    """A thin-lens camera: focal length (mm), f-number, pixel pitch (micrometres).

    Example:
        >>> lens = ThinLens(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
        >>> round(float(lens.coc_radius_px(0.5, focus_distance_m=1.0)), 2)
        3.86
    """

    focal_length_mm: float
    f_number: float
    pixel_pitch_um: float

    def __post_init__(self) -> None:
        for name in ("focal_length_mm", "f_number", "pixel_pitch_um"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    def coc_radius_px(self, depth_m, *, focus_distance_m):
        """Circle-of-confusion radius in pixels for objects at ``depth_m`` when focused at ``focus_distance_m``."""
        return coc_radius_px(depth_m, focus_distance_m=focus_distance_m, focal_length_mm=self.focal_length_mm,
                             f_number=self.f_number, pixel_pitch_um=self.pixel_pitch_um)

    def sensor_distance_m(self, focus_distance_m):
        """Lens-to-sensor distance in metres when focused at ``focus_distance_m``."""
        return sensor_distance_m(focus_distance_m, focal_length_mm=self.focal_length_mm)
