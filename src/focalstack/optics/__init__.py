"""Optics: thin-lens geometry, PSFs and differentiable defocus renderers."""

from .psf import PSFS, custom_psf, disc_psf, gaussian_psf, lightfield_psf, psf_kernel
from .render import (
    RENDERERS,
    DefocusRenderer,
    LayeredDefocusRenderer,
    render_defocus,
    render_defocus_layered,
    render_focal_stack,
)
from .thin_lens import (
    ThinLens,
    coc_diameter_m,
    coc_radius_px,
    depth_of_field_m,
    diopters_from_metres,
    hyperfocal_distance_m,
    metres_from_diopters,
    sensor_distance_m,
)

__all__ = [
    "DefocusRenderer", "LayeredDefocusRenderer", "PSFS", "RENDERERS", "ThinLens", "coc_diameter_m",
    "coc_radius_px", "custom_psf", "depth_of_field_m", "diopters_from_metres", "disc_psf", "gaussian_psf",
    "hyperfocal_distance_m", "lightfield_psf", "metres_from_diopters", "psf_kernel", "render_defocus",
    "render_defocus_layered", "render_focal_stack", "sensor_distance_m",
]
