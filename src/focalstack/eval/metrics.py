"""The standard depth and all-in-focus metrics, one module, dicts out.

Depth metrics (:func:`depth_metrics`) on the pixels of a mask, for one image:

| name | definition |
| --- | --- |
| ``mae`` | mean abs(p - g) |
| ``mse`` | mean (p - g)^2 |
| ``rmse`` | sqrt(mse) |
| ``abs_rel`` | mean abs(p - g) / g |
| ``sq_rel`` | mean (p - g)^2 / g |
| ``rmse_log`` | sqrt(mean (log p - log g)^2) |
| ``delta1..3`` | fraction with max(p / g, g / p) < 1.25^i |
| ``bump`` | DDFF-12 / 4D Light Field bumpiness (see :func:`bumpiness`) |
| ``badpix_0.07`` | percentage of pixels with abs(p - g) > 0.07 (4D Light Field) |

The ratio and log metrics need positive depths; where the mask holds a non-positive value
(e.g. signed light-field disparity) they are NaN rather than silently wrong.

Dataset scores are the **mean of per-image metrics** (:func:`average_metrics`), as in the
papers' tables; one reference implementation sums AbsRel and SqRel over images instead, which
makes them grow with the dataset size.

All-in-focus metrics (:func:`aif_metrics`): PSNR (peak 1) and SSIM (scikit-image, 7 x 7
window, data range 1, channels averaged).

Confidence-weighted variants (``weights=``) give the MAE* and MSE* of the Smartphone benchmark.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

DEPTH_METRICS = ("mae", "mse", "rmse", "abs_rel", "sq_rel", "rmse_log", "delta1", "delta2", "delta3", "bump",
                 "badpix_0.07")
AIF_METRICS = ("psnr", "ssim")


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, any device
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def evaluation_mask(gt, *, valid=None, focus_range=None) -> np.ndarray:
    """Pixels to score: finite ground truth, the benchmark's ``valid`` mask, and optionally only
    ground truth inside ``focus_range`` = (lo, hi) in the depth unit (the papers' protocol of
    excluding depths outside the focal stack's range)."""
    gt = _numpy(gt)
    mask = np.isfinite(gt)
    if valid is not None:
        mask &= _numpy(valid).astype(bool)
    if focus_range is not None:
        lo, hi = sorted(float(v) for v in focus_range)
        mask &= (gt >= lo) & (gt <= hi)
    return mask


def depth_metrics(pred, gt, mask=None, *, weights=None) -> dict[str, float]:
    """Depth metrics of one prediction.

    Args:
        pred, gt: H x W arrays or tensors in the same unit.
        mask: H x W bool of pixels to score (default: finite ground truth).
        weights: optional H x W non-negative per-pixel weights (e.g. ground-truth confidence);
            the mean becomes a weighted mean (the Smartphone benchmark's MAE*, MSE*). Bump
            ignores the weights.

    Returns:
        dict over :data:`DEPTH_METRICS` (floats; NaN where undefined).

    Example:
        >>> m = depth_metrics(np.full((4, 4), 1.1), np.ones((4, 4)))
        >>> round(m["mae"], 3), round(m["abs_rel"], 3), m["delta1"]
        (0.1, 0.1, 1.0)
    """
    pred, gt = _numpy(pred), _numpy(gt)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} must be equal H x W maps")
    mask = evaluation_mask(gt) if mask is None else _numpy(mask).astype(bool) & np.isfinite(gt)
    mask &= np.isfinite(pred)
    if not mask.any():
        return dict.fromkeys(DEPTH_METRICS, math.nan)
    w = np.ones_like(gt) if weights is None else _numpy(weights)
    p, g, w = pred[mask], gt[mask], w[mask]
    if w.sum() <= 0:
        return dict.fromkeys(DEPTH_METRICS, math.nan)

    def mean(values):
        return float(np.sum(values * w) / np.sum(w))

    err = p - g
    out = {"mae": mean(np.abs(err)), "mse": mean(err**2)}
    out["rmse"] = math.sqrt(out["mse"])
    out.update(_ratio_metrics(p, g, mean))
    out["bump"] = bumpiness(pred, gt, mask)
    out["badpix_0.07"] = 100.0 * mean(np.abs(err) > 0.07)
    return out


def _ratio_metrics(p, g, mean) -> dict[str, float]:
    if (p <= 0).any() or (g <= 0).any():
        return dict.fromkeys(("abs_rel", "sq_rel", "rmse_log", "delta1", "delta2", "delta3"), math.nan)
    ratio = np.maximum(p / g, g / p)
    return {
        "abs_rel": mean(np.abs(p - g) / g),
        "sq_rel": mean((p - g) ** 2 / g),
        "rmse_log": math.sqrt(mean((np.log(p) - np.log(g)) ** 2)),
        **{f"delta{i}": mean(ratio < 1.25**i) for i in (1, 2, 3)},
    }


def bumpiness(pred, gt, mask=None, *, clip: float = 0.05, factor: float = 100.0) -> float:
    """DDFF-12 / 4D Light Field bumpiness of the error surface p - g.

    Frobenius norm of its Hessian, each second derivative a Scharr filter (scikit-image's
    ``scharr`` along one axis) applied twice, clipped at ``clip``, mean over the mask x ``factor``.
    """
    from skimage.filters import scharr

    diff = _numpy(pred) - _numpy(gt)
    diff = np.where(np.isfinite(diff), diff, 0.0)
    dx, dy = scharr(diff, axis=1), scharr(diff, axis=0)
    hessian = np.sqrt(scharr(dx, axis=1) ** 2 + scharr(dx, axis=0) ** 2 + scharr(dy, axis=0) ** 2
                      + scharr(dy, axis=1) ** 2)
    bump = np.clip(hessian, 0, clip)
    mask = np.ones(diff.shape, bool) if mask is None else _numpy(mask).astype(bool)
    return float(bump[mask].mean() * factor) if mask.any() else math.nan


def aif_metrics(pred, gt, mask=None) -> dict[str, float]:
    """PSNR (dB, peak 1) and SSIM of an all-in-focus image (H x W or H x W x 3, values in [0, 1]).

    ``mask`` restricts PSNR to those pixels; SSIM is averaged over them too.
    """
    from skimage.metrics import structural_similarity

    pred, gt = np.clip(_numpy(pred), 0, 1), np.clip(_numpy(gt), 0, 1)
    if pred.shape != gt.shape:
        raise ValueError(f"all-in-focus prediction {pred.shape} and truth {gt.shape} differ")
    mask = np.ones(gt.shape[:2], bool) if mask is None else _numpy(mask).astype(bool)
    mse = float(np.mean((pred - gt)[mask] ** 2))
    psnr = math.inf if mse == 0 else 10 * math.log10(1.0 / mse)
    _, ssim_map = structural_similarity(gt, pred, data_range=1.0, full=True,
                                        channel_axis=-1 if gt.ndim == 3 else None)
    if ssim_map.ndim == 3:
        ssim_map = ssim_map.mean(axis=2)
    return {"psnr": psnr, "ssim": float(ssim_map[mask].mean())}


def average_metrics(per_image: Iterable[dict[str, float]]) -> dict[str, float]:
    """Mean over images of each metric (NaNs ignored; NaN if no image has it)."""
    rows = list(per_image)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    out = {}
    for key in keys:
        values = np.array([row.get(key, math.nan) for row in rows], dtype=np.float64)
        finite = values[np.isfinite(values)]
        out[key] = float(finite.mean()) if finite.size else math.nan
    return out


def ratio_interval(splits: Sequence[tuple[Sequence[float], Sequence[float]]], *, level: float = 0.95,
                   reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """A model's error relative to a reference's over several splits, with a bootstrap interval.

    Each split gives the model's and the reference's per-image errors on the same images (paired).
    The statistic is the geometric mean over splits of mean(model) / mean(reference), the suite's
    "MSE ratio". The interval resamples the images of every split independently, with replacement,
    keeping the pairs (a stratified paired percentile bootstrap). Returns (ratio, low, high).
    """
    if not splits:
        raise ValueError("ratio_interval needs at least one split")
    rng = np.random.default_rng(seed)
    point, draws = 0.0, np.zeros(reps)
    for model, reference in splits:
        model, reference = np.asarray(model, np.float64), np.asarray(reference, np.float64)
        if model.shape != reference.shape or model.ndim != 1 or model.size == 0:
            raise ValueError("each split needs two equally long, non-empty lists of per-image errors")
        point += math.log(model.mean() / reference.mean())
        index = rng.integers(0, model.size, size=(reps, model.size))
        draws += np.log(model[index].mean(axis=1) / reference[index].mean(axis=1))
    draws /= len(splits)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return math.exp(point / len(splits)), math.exp(low), math.exp(high)
