"""The viewer in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium.

The page is loaded served (``focalstack view``'s server) and as the self-contained ``report.html`` from
``file://``; the tests read what it shows and compare it with the result folder's arrays. Selenium Manager never
runs: the browser and the driver are given by path (``FOCALSTACK_CHROMIUM``, ``FOCALSTACK_CHROMEDRIVER``, else
``chromium`` and ``chromedriver`` on the PATH). WebGL comes from SwiftShader (``--use-angle=swiftshader
--enable-unsafe-swiftshader``), so no GPU is needed.
"""

from __future__ import annotations

import os
import re
import shutil
import threading

import cv2
import numpy as np
import pytest
from conftest import NO_DEPTH, H, W, make_result, write_slices

from focalstack.io.point_cloud import depth_to_point_cloud
from focalstack.viewer import ViewerServer, write_report

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = os.environ.get("FOCALSTACK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = os.environ.get("FOCALSTACK_CHROMEDRIVER") or shutil.which("chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--window-size=1280,1100", "--no-first-run", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
PIXELS = [(30, 40), (0, 0), (H - 1, W - 1), (17, 3), NO_DEPTH]


@pytest.fixture(scope="module")
def driver():
    if not (CHROMIUM and os.path.isfile(CHROMIUM)):
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver, or set FOCALSTACK_CHROMIUM)")
    if not (CHROMEDRIVER and os.path.isfile(CHROMEDRIVER)):
        pytest.skip("chromedriver is not installed (apt-get install chromium-driver, or set FOCALSTACK_CHROMEDRIVER)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A metric result with its slices, an index result of the same stack, and the metric one's report.html."""
    tmp = tmp_path_factory.mktemp("browser")
    stack = write_slices(tmp / "stack")
    metric = make_result(tmp / "metric", stack_dir=stack)
    index = make_result(tmp / "index", unit="index", method="rdf", stack_dir=stack)
    write_report(metric)
    return metric, index


@pytest.fixture(scope="module")
def server(results):
    server = ViewerServer(list(results))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(params=["served", "report"])
def page(request, driver, results, server):
    """The metric result's page, loaded and drawn; afterwards, the browser's log must hold no error."""
    url = server.url if request.param == "served" else (results[0] / "report.html").as_uri()
    load(driver, url)
    yield driver
    assert_no_errors(driver)


def load(driver, url):
    driver.get(url)
    WebDriverWait(driver, 120).until(lambda d: d.execute_script(
        "return document.body.dataset.ready === '1' && window.focalstackViewer.ready"))


def assert_no_errors(driver):
    severe = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []


def hover(driver, canvas_id, row, col):
    """A real pointer move to the centre of page pixel (row, col) of a map."""
    canvas = driver.find_element(By.ID, canvas_id)
    width, height = canvas.size["width"], canvas.size["height"]
    grid_w, grid_h = driver.execute_script("return [arguments[0].width, arguments[0].height]", canvas)
    dx = round((col + 0.5) / grid_w * width - width / 2)
    dy = round((row + 0.5) / grid_h * height - height / 2)
    ActionChains(driver).move_to_element_with_offset(canvas, dx, dy).perform()


def readout(driver):
    return {name: driver.find_element(By.ID, f"readout-{name}").text for name in ("pixel", "depth", "confidence")}


def check_readout(driver, folder, unit, row, col):
    depth, confidence = np.load(folder / "depth.npy"), np.load(folder / "confidence.npy")
    desc = driver.execute_script("return window.focalstackViewer.state.current.desc")
    shown = readout(driver)
    assert shown["pixel"] == f"x {col}, y {row}"
    if not np.isfinite(depth[row, col]):
        assert shown["depth"] == "no depth"
    else:
        match = re.fullmatch(r"(-?[0-9.]+) (\S+)", shown["depth"])
        assert match and match[2] == unit
        tolerance = desc["depth"]["scale"] / 2 + 0.5 * 10.0 ** -desc["depth"]["decimals"]
        assert abs(float(match[1]) - float(depth[row, col])) <= tolerance * (1 + 1e-6)
    assert abs(float(shown["confidence"]) - float(confidence[row, col])) <= 0.5 / 255 + 0.0005


def canvas_pixels(driver, canvas_id):
    """The RGBA pixels of a 2D canvas (H x W x 4)."""
    data = driver.execute_script("""
        const c = document.getElementById(arguments[0]);
        return [c.width, c.height, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)];
    """, canvas_id)
    return np.array(data[2], np.uint8).reshape(data[1], data[0], 4)


def screenshot(element) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(element.screenshot_as_png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.size > 0
    return image


# --- tests ----------------------------------------------------------------------------------------------------------


def test_the_depth_under_the_cursor_is_depth_npy(page, results):
    for row, col in PIXELS:
        hover(page, "depth-canvas", row, col)
        check_readout(page, results[0], "m", row, col)
    hover(page, "aif-canvas", 12, 50)  # every map reads the same pixel
    check_readout(page, results[0], "m", 12, 50)
    hover(page, "confidence-canvas", 44, 9)
    check_readout(page, results[0], "m", 44, 9)


def test_nothing_is_loaded_from_the_network(page):
    names = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(n.startswith(("http://127.0.0.1:", "data:")) for n in names), names


def test_depth_colours_follow_the_colour_bar(page, results):
    """Near is warm: the left column (0.4 m) is red-ish, the right (1.4 m) blue-ish; no depth is transparent."""
    pixels = canvas_pixels(page, "depth-canvas")
    assert pixels.shape == (H, W, 4)
    assert pixels[NO_DEPTH][3] == 0 and pixels[30, 40, 3] == 255
    left, right = pixels[20, 1, :3].astype(int), pixels[20, W - 2, :3].astype(int)
    assert left[0] > left[2] and right[2] > right[0]
    ticks = page.find_elements(By.CSS_SELECTOR, "#colorbar-ticks span")
    assert len(ticks) >= 3 and all(re.fullmatch(r"– [0-9.]+", t.text) for t in ticks)


def test_the_3d_view_is_drawn_from_the_point_cloud(page, results):
    image = screenshot(page.find_element(By.ID, "view3d"))
    assert image.var() > 0  # not blank
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # the coloured surface, not one flat colour
    stats = page.execute_script("return window.focalstackViewer.stats()")
    assert stats["webgl"] and stats["camera"] == "perspective" and stats["vertices"] == H * W
    depth = np.load(results[0] / "depth.npy")
    cloud = depth_to_point_cloud(depth, None, unit="m", camera={"focal_length_mm": 4.0, "pixel_pitch_um": 50.0})
    order = np.cumsum(np.isfinite(depth).ravel()) - 1  # pixel -> its point in the cloud
    for k in (0, 1, 100, 1234, H * W - 1):
        vertex = page.execute_script("return window.focalstackViewer.cloudPoint(arguments[0])", k)
        expected = cloud.points[order[vertex["row"] * W + vertex["col"]]]
        assert (vertex["row"], vertex["col"]) == divmod(k, W)
        np.testing.assert_allclose(vertex["point"], expected, rtol=1e-4, atol=1e-5)
    assert page.execute_script("return window.focalstackViewer.cloudPoint(arguments[0])",
                               NO_DEPTH[0] * W + NO_DEPTH[1]) is None


def test_the_confidence_slider_masks_pixels(driver, server, results):
    load(driver, server.url)
    hover(driver, "depth-canvas", 5, 30)
    driver.execute_script("""
        const s = document.getElementById('confidence-threshold');
        s.value = '0.5'; s.dispatchEvent(new Event('input'));""")
    confidence = np.round(np.load(results[0] / "confidence.npy") * 255) / 255
    hidden = confidence < 0.5
    stats = driver.execute_script("return window.focalstackViewer.stats()")
    assert stats["masked"] == hidden.sum() > 0
    for canvas_id in ("depth-canvas", "confidence-canvas"):
        alpha = canvas_pixels(driver, canvas_id)[..., 3]
        expected = ~hidden & (np.isfinite(np.load(results[0] / "depth.npy")) if canvas_id == "depth-canvas" else True)
        np.testing.assert_array_equal(alpha == 255, expected)
    assert "masked" in driver.find_element(By.ID, "readout-depth").get_attribute("class")
    assert "hidden" in driver.find_element(By.ID, "masked-fraction").text
    Select(driver.find_element(By.ID, "view3d-mode")).select_by_value("points")
    finite = np.isfinite(np.load(results[0] / "depth.npy"))
    assert driver.execute_script("return window.focalstackViewer.stats()")["drawn"] == (finite & ~hidden).sum()
    assert screenshot(driver.find_element(By.ID, "view3d")).var() > 0
    assert_no_errors(driver)


def test_the_second_result_can_be_selected(driver, server, results):
    load(driver, server.url)
    chooser = Select(driver.find_element(By.ID, "result-select"))
    assert [o.text for o in chooser.options] == [f"{results[0]} (sml)", f"{results[1]} (rdf)"]
    chooser.select_by_index(1)
    WebDriverWait(driver, 120).until(lambda d: d.execute_script(
        "return document.body.dataset.result === '1' && document.body.dataset.ready === '1'"))
    for row, col in PIXELS[:3]:
        hover(driver, "depth-canvas", row, col)
        check_readout(driver, results[1], "index", row, col)
    stats = driver.execute_script("return window.focalstackViewer.stats()")
    assert stats["result"] == 1 and stats["camera"] == "orthographic"
    assert screenshot(driver.find_element(By.ID, "view3d")).var() > 0
    chooser.select_by_index(0)
    WebDriverWait(driver, 120).until(lambda d: d.execute_script("return document.body.dataset.result === '0'"))
    check_readout(driver, results[0], "m", *PIXELS[2])  # the cursor stays where it was
    assert_no_errors(driver)


def test_the_slices_are_shown(driver, server):
    load(driver, server.url)
    slider = driver.find_element(By.ID, "slice-index")
    assert slider.get_attribute("max") == "2"
    driver.execute_script("arguments[0].value = '2'; arguments[0].dispatchEvent(new Event('input'))", slider)
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "const i = document.getElementById('slice-image'); return i.complete && i.naturalWidth > 0"))
    assert "slice_2.png" in driver.find_element(By.ID, "slice-label").text
    image = screenshot(driver.find_element(By.ID, "slice-image"))
    assert abs(float(image.mean()) - 160) < 3  # slice 2 is uniformly 160
    assert_no_errors(driver)


def test_slices_of_a_moved_input_are_reported_unavailable(driver, tmp_path):
    folder = make_result(tmp_path / "alone", unit="disparity", stack_dir=write_slices(tmp_path / "gone"))
    write_report(folder)
    shutil.rmtree(tmp_path / "gone")
    write_report(folder)
    load(driver, (folder / "report.html").as_uri())
    note = driver.find_element(By.ID, "slices-note")
    assert note.is_displayed() and "Slices not available" in note.text and "no longer exists" in note.text
    assert not driver.find_element(By.ID, "result-choice").is_displayed()  # one result: no selector
    assert driver.execute_script("return window.focalstackViewer.stats()")["camera"] == "orthographic"
    assert_no_errors(driver)
