"""Focal stacks from folders to result folders, one or many: what ``focalstack depth`` does.

:func:`depth_from_folder` reads one stack folder, runs :func:`focalstack.estimate_depth` and writes the
result folder atomically. :func:`depth_from_folders` does it for several stacks, writing
``OUT/<stack folder name>`` for each: a stack that fails is reported in its :class:`StackRun` and the
others go on; with ``jobs`` > 1 the stacks run in parallel processes, each within its share of the
memory budget.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from . import __version__
from .errors import InputError, error_message
from .io.atomic import check_output_dir
from .io.results import write_result
from .io.stackdir import DEFAULT_MAX_MEGAPIXELS, read_stack
from .memory import default_budget, parse_memory
from .methods import DEFAULT_METHOD, DepthMethod, estimate_depth, resolve_method

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class FolderOptions:
    """How stack folders are read and result folders written (the command line's options that are not
    the method's): focus positions and their unit for every stack, ``scale``, the size limit, the
    alignment, extra depth ``formats`` (:data:`focalstack.io.results.DEPTH_FORMATS`), the point cloud's
    ``min_confidence``, whether existing result folders may be replaced, how camera RAW slices are
    demosaiced (``raw``: ``srgb`` or ``linear``, :func:`focalstack.io.read_stack`), and whether to add the
    self-contained viewer page ``report.html`` (``html``, :mod:`focalstack.viewer`)."""

    focus_positions: tuple[float, ...] | None = None
    unit: str | None = None
    scale: float = 1.0
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
    align: str = "auto"
    formats: tuple[str, ...] = ("npy",)
    min_confidence: float = 0.0
    overwrite: bool = False
    raw: str = "srgb"
    html: bool = False


@dataclass
class StackRun:
    """What happened to one stack: ``ok`` or the ``error`` message, the read's ``warnings``, the stack's
    size, the depth range and unit, and the seconds from reading to the written folder."""

    stack_dir: Path
    out_dir: Path
    ok: bool = False
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    slices: int = 0
    size: str = ""
    unit: str = ""
    depth_range: tuple[float, float] | None = None
    seconds: float = 0.0
    summary: dict = field(default_factory=dict)


def depth_from_folder(stack_dir: str | Path, out_dir: str | Path, *,
                      method: str | DepthMethod = DEFAULT_METHOD, options: FolderOptions = FolderOptions(),
                      progress: ProgressCallback | None = None, **method_options) -> StackRun:
    """Read the stack in ``stack_dir``, estimate depth, write ``out_dir`` (atomically); raises
    :class:`InputError` on bad input. ``method_options`` are :func:`focalstack.resolve_method`'s."""
    stack_dir, out_dir = Path(stack_dir), Path(out_dir)
    run, start = StackRun(stack_dir, out_dir), time.perf_counter()
    check_output_dir(out_dir, overwrite=options.overwrite)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stack = read_stack(stack_dir, focus_positions=list(options.focus_positions) if options.focus_positions
                           else None, unit=options.unit, scale=options.scale, max_megapixels=options.max_megapixels,
                           raw=options.raw)
    run.warnings = [str(w.message) for w in caught]
    result = estimate_depth(stack, method=method, align=options.align, progress=progress, **method_options)
    write_result(result, out_dir, overwrite=options.overwrite, bit_depth=8 if stack.bit_depth == 8 else 16,
                 metadata={"version": __version__, "input": str(stack_dir), "files": stack.names},
                 formats=options.formats, min_confidence=options.min_confidence, html=options.html)
    h, w = stack.shape
    run.ok, run.slices, run.size, run.unit = True, len(stack), f"{w}x{h}", result.unit
    run.depth_range = (float(result.depth.min()), float(result.depth.max()))
    run.seconds = time.perf_counter() - start
    run.summary = {"timings": dict(result.timings), "alignment": result.metadata.get("alignment", {}),
                   "tto": result.parameters.get("tto"), "tiles": result.parameters.get("tiles"),
                   "net_scale": result.parameters.get("net_scale")}
    return run


def batch_outputs(stack_dirs: Sequence[str | Path], out: str | Path, *, overwrite: bool = False) -> list[Path]:
    """``OUT/<folder name>`` for every stack; refuses two stacks with one name, an output that would
    replace an input, and existing outputs without ``overwrite`` (before anything runs)."""
    outs = [Path(out) / Path(d).resolve().name for d in stack_dirs]
    names = [o.name for o in outs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"several stacks are named {', '.join(twice)}; their results would share OUT/{twice[0]}")
    for stack_dir, out_dir in zip(stack_dirs, outs):
        check_not_input(out_dir, Path(stack_dir))
        check_output_dir(out_dir, overwrite=overwrite)
    return outs


def check_not_input(out: Path, stack_dir: Path) -> None:
    """Refuse an output folder that is the input folder or contains it (``overwrite`` would delete it)."""
    out_abs, input_abs = Path(out).resolve(), Path(stack_dir).resolve()
    if out_abs == input_abs or out_abs in input_abs.parents:
        raise InputError(f"the output folder {out} would replace the input folder {stack_dir}; choose another -o")


def depth_from_folders(stack_dirs: Sequence[str | Path], out: str | Path, *,
                       method: str = DEFAULT_METHOD, options: FolderOptions = FolderOptions(), jobs: int = 1,
                       max_memory: int | str | None = None,
                       progress: ProgressCallback | None = None, **method_options) -> list[StackRun]:
    """Every stack of ``stack_dirs`` into ``OUT/<its folder name>``; one :class:`StackRun` per stack, in
    order. ``jobs`` stacks run at once in separate processes, each with ``max_memory`` / ``jobs``
    (default: 75 % of the available memory, shared). ``progress(done, total)`` counts finished stacks."""
    if not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    outs = batch_outputs(stack_dirs, out, overwrite=options.overwrite)
    budget = parse_memory(max_memory) if max_memory is not None else default_budget()
    share = {**method_options, "max_memory": budget // jobs}
    if jobs == 1:
        runner = resolve_method(method, **share)  # a network is loaded once for all the stacks
        runs = []
        for done, (stack_dir, out_dir) in enumerate(zip(stack_dirs, outs), 1):
            runs.append(_guarded(stack_dir, out_dir, runner, options, {}))
            if progress:
                progress(done, len(outs))
        return runs
    resolve_method(method, **share)  # refuse a bad method or option before starting the workers
    runs: dict[int, StackRun] = {}
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_share_cores,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(_guarded, d, o, method, options, share): k
                   for k, (d, o) in enumerate(zip(stack_dirs, outs))}
        for done, future in enumerate(as_completed(futures), 1):
            runs[futures[future]] = future.result()
            if progress:
                progress(done, len(outs))
    return [runs[k] for k in range(len(outs))]


def _share_cores(threads: int) -> None:
    """A batch worker's share of the cores: PyTorch (read when a network first imports it) would otherwise start
    one thread per core in every worker, and ``jobs`` workers fighting over the cores run slower than one."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))


def _guarded(stack_dir, out_dir, method, options: FolderOptions, method_options: dict) -> StackRun:
    """One stack of a batch: any failure becomes the run's error message instead of stopping the batch."""
    start = time.perf_counter()
    try:
        return depth_from_folder(stack_dir, out_dir, method=method, options=options, **method_options)
    except (InputError, OSError) as exc:
        message = error_message(exc)
    except Exception as exc:  # noqa: BLE001 - a batch reports any failure of one stack and goes on
        message = f"{type(exc).__name__}: {exc}"
    return StackRun(Path(stack_dir), Path(out_dir), error=message, seconds=time.perf_counter() - start)

