"""Screenshots of the viewer for the docs: ``docs/images/viewer_pcb.png`` and ``docs/images/viewer_3d_cones.png``.

1. The bundled example: ``focalstack depth examples/pcb --html`` (the default network, unit ``index``, so the 3D view
   is orthographic), its ``report.html`` opened in headless Chromium with the cursor on the switch.
2. A metric result with a perspective 3D view: Middlebury 2003 "cones" (``shared/data/rgbd``; Scharstein and
   Szeliski, CVPR 2003) with its disparity mapped onto 0.3-0.9 m, rendered by the simulator as a 10-slice stack
   (0.28-0.95 m, even in diopters) of the ``phone`` camera profile (with its breathing, noise and JPEG), written with
   its ``camera`` block, then ``focalstack depth --html``; the page with the confidence threshold at 0.1.

Chromium and chromedriver as for the browser tests (``apt-get install chromium chromium-driver``; WebGL through
SwiftShader). The screenshots are saved as palette PNGs.

Usage (from the repository root):
    python benchmarks/viewer_screenshots.py --data ../shared/data --out docs/images
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from focalstack.batch import FolderOptions, depth_from_folder
from focalstack.io.stackdir import write_stack
from focalstack.simulate.camera import simulate_stack
from focalstack.simulate.rgbd import load_rgbd_scene

FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--hide-scrollbars", "--force-device-scale-factor=1")


def browser(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (*FLAGS, f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))


def open_report(driver, report: Path) -> None:
    driver.get(report.as_uri())
    for _ in range(600):
        if driver.execute_script("return document.body.dataset.ready === '1'"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{report} did not finish loading")


def hover(driver, row_fraction: float, col_fraction: float) -> None:
    canvas = driver.find_element(By.ID, "depth-canvas")
    w, h = canvas.size["width"], canvas.size["height"]
    ActionChains(driver).move_to_element_with_offset(canvas, round((col_fraction - 0.5) * w),
                                                     round((row_fraction - 0.5) * h)).perform()


def turn_3d(driver, yaw_degrees: float, pitch_degrees: float) -> None:
    """Orbit the 3D view about its target (as a drag would)."""
    driver.execute_script("""
        const v = window.focalstackViewer.state.view, c = v.controls, THREE = window.THREE;
        const offset = v.camera.position.clone().sub(c.target);
        offset.applyAxisAngle(new THREE.Vector3(0, 1, 0), arguments[0] * Math.PI / 180);
        offset.applyAxisAngle(new THREE.Vector3(1, 0, 0), arguments[1] * Math.PI / 180);
        v.camera.position.copy(c.target.clone().add(offset));
        c.update(); v.render();""", yaw_degrees, pitch_degrees)


def save(driver, path: Path, *, width: int) -> None:
    """The page down to the footer, resized to ``width`` pixels and saved as a palette PNG."""
    height = driver.execute_script("return document.querySelector('footer').getBoundingClientRect().bottom + 8")
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    image = image.crop((0, 0, image.width, min(image.height, int(height))))
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=160, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB)")


def pcb_report(tmp: Path) -> Path:
    depth_from_folder("examples/pcb", tmp / "pcb", options=FolderOptions(html=True))
    return tmp / "pcb" / "report.html"


def cones_report(data: Path, tmp: Path) -> Path:
    scene = load_rgbd_scene(data / "rgbd" / "middlebury2003_cones", depth_range_m=(0.3, 0.9))
    focus_m = 1 / np.linspace(1 / 0.28, 1 / 0.95, 10)  # a sweep over the scene, even in diopters
    simulated = simulate_stack(scene, "phone", focus_distances_m=focus_m, rng=np.random.default_rng(0))
    write_stack(simulated.to_focal_stack(), tmp / "cones_stack")
    depth_from_folder(tmp / "cones_stack", tmp / "cones", options=FolderOptions(html=True))
    return tmp / "cones" / "report.html"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--width", type=int, default=1100, help="width of the saved PNGs in pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        driver = browser(1400, 1300)
        try:
            open_report(driver, pcb_report(tmp))
            hover(driver, 0.42, 0.5)
            save(driver, args.out / "viewer_pcb.png", width=args.width)
            open_report(driver, cones_report(args.data, tmp))
            driver.execute_script("""const s = document.getElementById('confidence-threshold');
                                     s.value = '0.1'; s.dispatchEvent(new Event('input'));""")
            hover(driver, 0.55, 0.3)
            save(driver, args.out / "viewer_3d_cones.png", width=args.width)
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
