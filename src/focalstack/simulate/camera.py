"""Simulated cameras: profiles, focus sweeps and the imperfections of real focal stacks.

A :class:`CameraProfile` is a thin-lens camera (focal length, f-number, native pixel pitch and
resolution) with the focus and scene depth ranges it is used at. :func:`simulate_stack` renders
a :class:`~focalstack.simulate.scenes.Scene` through it as a focal stack, adding the effects of
Won & Jeon, "Learning Depth from Focus in the Wild" (ECCV 2022), section 3.1 and its supplement, section 4, each
switchable in :class:`CameraEffects`:

- **focal breathing**: the lens-to-sensor distance s_n = F_n f / (F_n - f) changes with the
  focus distance F_n, so each slice is magnified by s_n / s_target relative to the target slice
  (the one with the smallest field of view: the nearest focus). Eq. 1 of Won & Jeon.
- **focus-distance error**: the lens does not sit exactly where the metadata says. The lens
  position has a relative error e_n ~ Normal(0, fov_error / F_n[m]) (it shrinks as 1/focus
  distance, their supplement, Fig. 5); the true focus distance, which sets the blur, and the true
  magnification both follow from the perturbed lens position, while the stack's metadata keeps
  the nominal F_n.
- **principal-point jitter**: a per-slice translation ~ Normal(mean, std) in sensor pixels.
- shot and read noise, vignetting (cos^4-like radial fall-off) and JPEG compression.

The per-slice warps are returned exactly (2 x 3 affine, target-frame pixel -> slice pixel), so
alignment methods can be scored against them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
import torch

from ..align.warps import warp_to_reference
from ..optics.render import render_focal_stack
from ..optics.thin_lens import sensor_distance_m
from ..stack import Camera, FocalStack
from .scenes import Scene

# f-number giving the light-field PSF radius 4 |d - d_focus| px (9 views) for disparity d = 10 / Z - 5:
# radius = f^2 / (2 N pitch) |1/Z - 1/F| (s ~ f, 0.07 % off at the nearest focus) = 4 x 10 |1/Z - 1/F|
_LIGHTFIELD_F_NUMBER = (1e-3) ** 2 / (2 * 1e-6 * 40.0)


@dataclass(frozen=True)
class CameraProfile:
    """A camera as the simulator sees it.

    Attributes:
        name: profile name (``phone``, ``dslr_macro``, ``microscope``).
        focal_length_mm: focal length f in millimetres.
        f_number: aperture N.
        pixel_pitch_um: native pixel pitch in micrometres.
        resolution: native sensor size (width, height) in pixels.
        working_scale: native pixels per simulated pixel. A simulated image is a centred crop of
            the sensor read out at 1 / working_scale resolution (a phone photo downscaled 4x,
            say), which sets the blur in pixels: blur shrinks as images are downscaled.
        focus_range_m: nearest and farthest focus distance of a sweep, metres.
        depth_range_m: nearest and farthest scene depth to simulate, metres.
        fov_error: std of the relative lens-position error at 1 m focus (scales as 1 / F).
        principal_point_std_px: std of the per-slice principal-point shift, native pixels.
        principal_point_mean_px: mean (x, y) of that shift, native pixels.
        read_noise: std of additive read noise (image units, [0, 1]).
        shot_noise: shot-noise variance per unit signal (image units).
        vignetting: relative brightness loss at the image corner (0 = none).
        jpeg_quality: JPEG quality of the camera's output (None = no compression).
        breathing: whether the lens breathes at all (False for a light field's synthetic refocus).
        disparity: for a light-field camera, (K, c) such that the disparity between adjacent views of a
            point at depth Z metres is K / Z - c pixels; its stacks are reported in disparity units.
        psf: the PSF its stacks are rendered with by default (``disc``; ``lightfield`` for a light field).
    """

    name: str
    focal_length_mm: float
    f_number: float
    pixel_pitch_um: float
    resolution: tuple[int, int]
    focus_range_m: tuple[float, float]
    depth_range_m: tuple[float, float]
    working_scale: float = 1.0
    fov_error: float = 0.0
    principal_point_std_px: float = 0.0
    principal_point_mean_px: tuple[float, float] = (0.0, 0.0)
    read_noise: float = 0.0
    shot_noise: float = 0.0
    vignetting: float = 0.0
    jpeg_quality: int | None = None
    breathing: bool = True
    disparity: tuple[float, float] | None = None
    psf: str = "disc"

    def __post_init__(self) -> None:
        f_m = self.focal_length_mm * 1e-3
        if min(self.focus_range_m) <= f_m or min(self.depth_range_m) <= f_m:
            raise ValueError(f"profile {self.name}: focus and depth must lie beyond the focal length")
        if self.focus_range_m[0] >= self.focus_range_m[1] or self.depth_range_m[0] >= self.depth_range_m[1]:
            raise ValueError(f"profile {self.name}: ranges must be (near, far) with near < far")

    @property
    def simulated_pixel_pitch_um(self) -> float:
        """Pixel pitch in micrometres of a simulated image (native pitch x working scale)."""
        return self.pixel_pitch_um * self.working_scale

    def camera(self) -> Camera:
        """The :class:`~focalstack.stack.Camera` metadata of a simulated image."""
        return Camera(focal_length_mm=self.focal_length_mm, f_number=self.f_number,
                      pixel_pitch_um=self.simulated_pixel_pitch_um)


PROFILES: dict[str, CameraProfile] = {
    # 26 mm-equivalent phone main camera, 12 MP, close-up sweeps (as in Suwajanakorn et al. 2015).
    "phone": CameraProfile(
        name="phone", focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4, resolution=(4032, 3024),
        focus_range_m=(0.10, 1.0), depth_range_m=(0.08, 2.0), working_scale=4.0, fov_error=1e-4,
        principal_point_std_px=6.0,
        principal_point_mean_px=(0.0, 0.0), read_noise=0.003, shot_noise=2e-4, vignetting=0.3, jpeg_quality=92,
    ),
    # 60 mm macro lens on a 24 MP full-frame body at f/4, near 1:4 magnification.
    "dslr_macro": CameraProfile(
        name="dslr_macro", focal_length_mm=60.0, f_number=4.0, pixel_pitch_um=5.9, resolution=(6000, 4000),
        focus_range_m=(0.25, 0.30), depth_range_m=(0.24, 0.32), working_scale=8.0, fov_error=2e-5,
        principal_point_std_px=3.0,
        read_noise=0.002, shot_noise=5e-5, vignetting=0.15, jpeg_quality=95,
    ),
    # Stereo/inspection microscope camera: 2.5 mm, f/1.8 (as the EXIF of the PCB example), 3 MP.
    "microscope": CameraProfile(
        name="microscope", focal_length_mm=2.5, f_number=1.8, pixel_pitch_um=1.55, resolution=(2048, 1536),
        focus_range_m=(0.0100, 0.0120), depth_range_m=(0.0098, 0.0122), working_scale=2.0, fov_error=0.0,
        principal_point_std_px=2.0,
        read_noise=0.004, shot_noise=3e-4, vignetting=0.1, jpeg_quality=90,
    ),
    # A 9 x 9-view light field refocused by shift-and-add (the 4D Light Field benchmark's protocol): a thin
    # lens whose square synthetic aperture spans 8 view baselines. Disparity d = 10 / Z[m] - 5 px between
    # adjacent views; scenes within d in [-3, 3] px, refocused from d = +2.5 (near) to -2.5 px (far).
    "lightfield": CameraProfile(
        name="lightfield", focal_length_mm=1.0, f_number=_LIGHTFIELD_F_NUMBER, pixel_pitch_um=1.0,
        resolution=(512, 512), focus_range_m=(10 / 7.5, 10 / 2.5), depth_range_m=(10 / 8.0, 10 / 2.0),
        read_noise=0.002, breathing=False, disparity=(10.0, 5.0), psf="lightfield",
    ),
}


@dataclass(frozen=True)
class CameraEffects:
    """Which real-camera effects :func:`simulate_stack` applies (all on by default)."""

    focal_breathing: bool = True
    focus_error: bool = True
    principal_point: bool = True
    noise: bool = True
    vignetting: bool = True
    jpeg: bool = True

    @classmethod
    def none(cls) -> CameraEffects:
        """An ideal camera: perfectly aligned, noiseless, uncompressed slices."""
        return cls(**{k: False for k in asdict(cls())})


def focus_sweep(profile: CameraProfile, num_slices: int, *, spacing: str = "diopter") -> np.ndarray:
    """Focus distances in metres, near to far, over the profile's focus range.

    Args:
        spacing: ``"diopter"`` (uniform in inverse distance, as blur is) or ``"linear"`` (metres).
    """
    if num_slices < 2:
        raise ValueError(f"a sweep needs at least 2 slices, got {num_slices}")
    near, far = profile.focus_range_m
    if spacing == "diopter":
        return 1.0 / np.linspace(1.0 / near, 1.0 / far, num_slices)
    if spacing == "linear":
        return np.linspace(near, far, num_slices)
    raise ValueError(f"unknown focus spacing {spacing!r}; use 'diopter' or 'linear'")


def random_sweep(profile: CameraProfile, num_slices: int, rng: np.random.Generator, *,
                 depth_m: np.ndarray, margin: tuple[float, float] = (-0.2, 0.25), jitter: float = 0.2) -> np.ndarray:
    """A random focus sweep in metres, near to far, placed relative to a scene's depth.

    The sweep's ends lie beyond (up to ``margin[1]``) or inside (down to ``margin[0]``, negative) the
    scene's nearest and farthest inverse depth, as fractions of its span, so a sweep does not always
    cover all of the scene; they stay within the profile's depth range. Three in ten sweeps are
    evenly spaced in metres, the rest in diopters; each position then moves by up to ``jitter`` of
    the spacing.

    Args:
        profile: the camera.
        num_slices: slices (>= 2).
        rng: the only source of randomness.
        depth_m: the scene's depth (metres), any shape.
    """
    if num_slices < 2:
        raise ValueError(f"a sweep needs at least 2 slices, got {num_slices}")
    inverse = 1.0 / np.asarray(depth_m, np.float64)
    lo, hi = float(inverse.min()), float(inverse.max())
    span = max(hi - lo, 0.05 * hi)
    bound_lo, bound_hi = 1.0 / profile.depth_range_m[1], 1.0 / profile.depth_range_m[0]
    near = float(np.clip(hi + rng.uniform(*margin) * span, bound_lo, bound_hi))
    far = float(np.clip(lo - rng.uniform(*margin) * span, bound_lo, bound_hi))
    if near - far < 0.2 * span:  # a sweep too narrow to say anything: centre a fifth of the span
        middle = (near + far) / 2
        near, far = middle + 0.1 * span, middle - 0.1 * span
    t = np.linspace(0.0, 1.0, num_slices)
    t[1:-1] += rng.uniform(-jitter, jitter, num_slices - 2) / (num_slices - 1)
    if rng.random() < 0.3:  # evenly spaced in metres
        return np.sort(1.0 / near + t * (1.0 / far - 1.0 / near))
    return np.sort(1.0 / (near + t * (far - near)))


def disparity_from_depth(depth_m, profile: CameraProfile):
    """A light-field profile's disparity (pixels between adjacent views) of depth in metres: K / Z - c."""
    if profile.disparity is None:
        raise ValueError(f"profile {profile.name} is not a light field (no disparity)")
    scale, offset = profile.disparity
    return scale / np.asarray(depth_m, np.float64) - offset


@dataclass
class SimulatedStack:
    """A simulated focal stack with everything needed to score depth and alignment.

    Attributes:
        slices: N x H x W x 3 float32 in [0, 1], what the camera recorded (near to far).
        focus_distances_m: N focus distances from the metadata (what a method is told).
        true_focus_distances_m: N focus distances the lens really had (what set the blur).
        depth_m: H x W float32 ground-truth depth in metres, in the target slice's frame.
        all_in_focus: H x W x 3 float32, the scene's all-in-focus image, target frame, with the
            camera's vignetting when that effect is on (no noise, no JPEG).
        warps: N x 2 x 3 float64 affine maps from target-frame pixel (x, y, 1) to slice pixel.
        camera: metadata of the simulated image (pixel pitch at the simulated size).
        valid: H x W bool, where the depth is ground truth (False where it was filled in).
        profile: profile name; info: seed, scene name and effects, for the record.
    """

    slices: np.ndarray
    focus_distances_m: np.ndarray
    true_focus_distances_m: np.ndarray
    depth_m: np.ndarray
    all_in_focus: np.ndarray
    warps: np.ndarray
    camera: Camera
    valid: np.ndarray
    profile: str
    info: dict = field(default_factory=dict)

    def to_focal_stack(self) -> FocalStack:
        """The stack as a method sees it: slices with the metadata focus distances (metres), or, for a
        light field (``info["disparity"]`` = (K, c)), the refocus disparities K / F - c in pixels."""
        if self.info.get("disparity"):
            return FocalStack(self.slices, self.disparity(self.focus_distances_m), unit="disparity")
        return FocalStack(self.slices, self.focus_distances_m, unit="m", camera=self.camera)

    def disparity(self, depth_m):
        """Disparity in pixels of a depth in metres, for a light field's stack (``info["disparity"]``)."""
        scale, offset = self.info["disparity"]
        return (scale / np.asarray(depth_m, np.float64) - offset).astype(np.float32)


def simulate_stack(
    scene: Scene,
    profile: CameraProfile | str,
    *,
    num_slices: int = 5,
    focus_distances_m: np.ndarray | None = None,
    effects: CameraEffects | None = None,
    rng: np.random.Generator | None = None,
    renderer: str = "layered",
    psf=None,
) -> SimulatedStack:
    """Render a scene as the focal stack a camera profile would record.

    Args:
        scene: all-in-focus image and metric depth (its size is the simulated size).
        profile: a :class:`CameraProfile` or the name of one in :data:`PROFILES`.
        num_slices: slices in a sweep uniform in diopters (ignored with ``focus_distances_m``).
        focus_distances_m: nominal focus distances to use instead, metres.
        effects: which imperfections to apply; default all.
        rng: randomness for the imperfections (default: a fresh generator).
        renderer: ``"layered"`` (occlusion-aware, default) or ``"per_pixel"``.
        psf: ``"disc"``, ``"gaussian"``, ``"lightfield"`` or a 2-D kernel; default the profile's
            (``disc``; ``lightfield`` for the light-field profile).

    Returns:
        :class:`SimulatedStack`.
    """
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    effects = effects or CameraEffects()
    rng = rng or np.random.default_rng()
    psf = profile.psf if psf is None else psf
    h, w = scene.depth_m.shape
    nominal = np.sort(np.asarray(focus_distances_m if focus_distances_m is not None
                                 else focus_sweep(profile, num_slices), dtype=np.float64))
    lens_error = _lens_position_error(nominal, profile, effects, rng)
    nominal_s = sensor_distance_m(nominal, focal_length_mm=profile.focal_length_mm)
    true_s = nominal_s * (1.0 + lens_error)
    f_m = profile.focal_length_mm * 1e-3
    true_focus = true_s * f_m / (true_s - f_m)  # the thin-lens equation, solved for F
    camera = profile.camera()
    rendered = _render(scene, true_focus, camera, renderer, psf)
    warps = _warps(true_s, profile, effects, rng, (h, w))
    shading = _vignette((h, w), profile.vignetting)[..., None] if effects.vignetting and profile.vignetting > 0 \
        else None
    slices = np.stack([_record(img, warp, shading, profile, effects, rng) for img, warp in zip(rendered, warps)])
    valid = scene.valid if scene.valid is not None else np.ones((h, w), bool)
    aif = scene.image.astype(np.float32)
    if shading is not None:  # the all-in-focus photo this camera would take
        aif = aif * shading
    return SimulatedStack(slices=slices, focus_distances_m=nominal, true_focus_distances_m=true_focus,
                          depth_m=scene.depth_m.astype(np.float32), all_in_focus=aif,
                          warps=warps, camera=camera, valid=valid, profile=profile.name,
                          info={"scene": scene.name, "effects": asdict(effects), "renderer": renderer,
                                "psf": psf if isinstance(psf, str) else "custom",
                                **({"disparity": list(profile.disparity)} if profile.disparity else {})})


def _lens_position_error(nominal: np.ndarray, profile: CameraProfile, effects: CameraEffects, rng) -> np.ndarray:
    if not effects.focus_error or profile.fov_error == 0:
        return np.zeros_like(nominal)
    return rng.normal(0.0, profile.fov_error / nominal)


def _render(scene: Scene, focus_m: np.ndarray, camera: Camera, renderer: str, psf) -> np.ndarray:
    aif = torch.from_numpy(np.ascontiguousarray(scene.image.transpose(2, 0, 1)))[None].float()
    depth = torch.from_numpy(np.ascontiguousarray(scene.depth_m))[None, None].float()
    with torch.no_grad():
        out = render_focal_stack(aif, depth, torch.from_numpy(focus_m).float(), method=renderer, psf=psf,
                                 focal_length_mm=camera.focal_length_mm, f_number=camera.f_number,
                                 pixel_pitch_um=camera.pixel_pitch_um)
    return out[0].permute(0, 2, 3, 1).numpy()  # N, H, W, 3


def _warps(true_s: np.ndarray, profile: CameraProfile, effects: CameraEffects, rng, shape) -> np.ndarray:
    """Affine maps target-frame pixel -> slice pixel: magnification about the centre + shift."""
    h, w = shape
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    target_s = true_s.max()  # the nearest focus has the longest s, the smallest field of view
    scale = true_s / target_s if effects.focal_breathing and profile.breathing else np.ones_like(true_s)
    shift = np.zeros((len(true_s), 2))
    if effects.principal_point and profile.principal_point_std_px > 0:
        mean = np.asarray(profile.principal_point_mean_px) / profile.working_scale
        shift = rng.normal(mean, profile.principal_point_std_px / profile.working_scale, size=(len(true_s), 2))
    warps = np.zeros((len(true_s), 2, 3))
    warps[:, 0, 0] = warps[:, 1, 1] = scale
    warps[:, :, 2] = centre * (1 - scale[:, None]) + shift
    return warps


def _record(image: np.ndarray, warp: np.ndarray, shading: np.ndarray | None, profile: CameraProfile,
            effects: CameraEffects, rng) -> np.ndarray:
    """What the sensor and the camera's processing make of one rendered slice (``shading``: vignetting)."""
    h, w = image.shape[:2]
    if not np.allclose(warp, [[1, 0, 0], [0, 1, 0]]):
        image = cv2.warpAffine(image, warp, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    if shading is not None:
        image = image * shading
    if effects.noise and (profile.shot_noise > 0 or profile.read_noise > 0):
        std = np.sqrt(np.clip(image, 0, 1) * profile.shot_noise + profile.read_noise**2)
        image = image + rng.standard_normal(image.shape).astype(np.float32) * std
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    if effects.jpeg and profile.jpeg_quality is not None:
        image = _jpeg(image, profile.jpeg_quality)
    return image


def _vignette(shape: tuple[int, int], strength: float) -> np.ndarray:
    """Radial fall-off cos^4-like: 1 at the centre, 1 - strength at the corners."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - (w - 1) / 2) ** 2 + (yy - (h - 1) / 2) ** 2) / (((w - 1) / 2) ** 2 + ((h - 1) / 2) ** 2)
    return 1.0 - strength * r2


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    pixels = cv2.cvtColor(np.round(image * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    decoded = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return decoded.astype(np.float32) / 255.0


def unwarp(slice_image: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Map a slice back into the target frame with its (exact or estimated) 2 x 3 warp
    (:func:`focalstack.align.warp_to_reference`, the library's one resampling of the warp convention)."""
    return warp_to_reference(slice_image, warp)

