"""The viewer's HTTP server: 127.0.0.1 only, a fixed set of routes, nothing outside the result folders."""

from __future__ import annotations

import http.client
import socket
import threading

import numpy as np
import pytest
from conftest import H, W, make_result, write_slices

from focalstack.errors import InputError
from focalstack.viewer import ViewerServer


@pytest.fixture(scope="module")
def metric_result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    return make_result(tmp / "metric", stack_dir=write_slices(tmp / "stack"))


@pytest.fixture(scope="module")
def server(metric_result):
    other = make_result(metric_result.parent / "other", unit="index", method="rdf")
    server = ViewerServer([metric_result, other])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def get(server, path, host=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    headers = {"Host": host} if host else {}
    connection.request("GET", path, headers=headers)  # the path is sent as given, not normalised
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type"), body


def test_binds_to_the_loopback_address_only(server):
    assert server.server_address[0] == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.server_port}/"
    assert server.server_port > 0


def test_serves_the_page_scripts_and_assets(server, metric_result):
    status, kind, body = get(server, "/")
    assert status == 200 and kind.startswith("text/html") and b'id="focalstack-data"' in body
    for path in ("/static/viewer.js", "/static/viewer.css", "/static/three/three.min.js"):
        assert get(server, path)[0] == 200, path
    status, _, body = get(server, "/r/0/depth.u16")
    assert status == 200 and len(body) == 2 * H * W
    assert get(server, "/r/0/confidence.u8")[2] == server.assets[0].confidence_bytes()
    assert get(server, "/r/1/aif.jpg")[1] == "image/jpeg"
    status, kind, body = get(server, "/r/0/slices/2.jpg")
    assert status == 200 and kind == "image/jpeg" and body[:2] == b"\xff\xd8"
    status, _, body = get(server, "/r/0/files/result.json")
    assert status == 200 and body == (metric_result / "result.json").read_bytes()
    status, _, body = get(server, "/r/0/files/depth.npy")
    assert status == 200 and body == (metric_result / "depth.npy").read_bytes()


@pytest.mark.parametrize("path", [
    "/../../etc/passwd",
    "/../../../../../../etc/passwd",
    "/static/../../../../etc/passwd",
    "/static/../page.py",
    "/static/%2e%2e/page.py",
    "/r/0/files/../../../../etc/passwd",
    "/r/0/files/..%2F..%2F..%2Fetc%2Fpasswd",
    "/r/0/files/%2e%2e",
    "/r/0/../../metric/result.json",
    "/r/0/files/stack.json",  # a name the server does not hand out
    "/r/0/files/points.ply",  # allowed name, but the folder has no such file
    "/r/2/aif.jpg",  # no third result
    "/r/0/slices/3.jpg",  # no fourth slice
    "/r/1/slices/0.jpg",  # the second result names no slices
    "/etc/passwd",
    "//etc/passwd",
    "/result.json",
])
def test_nothing_outside_the_routes_is_served(server, path):
    status, _, body = get(server, path)
    assert status == 404 and b"root:" not in body


def test_other_hosts_are_refused(server):
    """A page elsewhere that rebinds its DNS name to 127.0.0.1 cannot read the results."""
    assert get(server, "/", host="evil.example")[0] == 403
    assert get(server, "/", host=f"localhost:{server.server_port}")[0] == 200


def test_a_port_in_use_and_a_non_result_are_refused(tmp_path, metric_result):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(InputError, match="cannot listen on 127.0.0.1"):
            ViewerServer([metric_result], port=busy.getsockname()[1])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no result.json"):
        ViewerServer([tmp_path / "empty"])


def test_the_page_data_matches_the_folder(server, metric_result):
    status, _, body = get(server, "/r/0/depth.u16")
    desc = server.assets[0].description()
    q = np.frombuffer(body, "<u2").reshape(H, W).astype(np.float64)
    depth = np.load(metric_result / "depth.npy")
    shown = np.where(q == 0, np.nan, desc["depth"]["offset"] + (q - 1) * desc["depth"]["scale"])
    np.testing.assert_allclose(shown, depth, atol=desc["depth"]["scale"] / 2 * (1 + 1e-6))
