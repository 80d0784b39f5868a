"""Interop of the tracking gateway with the official socket.io-client 4.8.1 browser bundle in headless Chromium.

Issue 4, "Interop tests": the unmodified UMD bundle (from the pinned `nicegui==3.18.0` wheel, hash-checked, as
../shared/reference/web-toolchain.md describes) in a page served by a local http.server on another port, so the
connection is cross-origin and `tracker demo` runs with `SOCKETIO_CORS_ORIGIN=*`. Default transports (polling,
then the websocket upgrade): `initial-state`, live `driver-position`s, the upgrade, and a network blip
(`socket.io.engine.close()`) after which the client reconnects by itself with `socket.recovered === true` and
gets the `visit-event` it missed. No SEVERE browser console entries.

Needs: `apt-get install -y chromium chromium-driver` and `pip install selenium==4.51.0`.
"""
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from conftest import free_port
from test_socketio_gateway import DEMO_DRIVERS, DRIVERS, GatewayDemo, skip_visit, today

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"  # gitignored: the downloaded wheel and the extracted bundle
WHEEL_PIN = ("nicegui==3.18.0 "
             "--hash=sha256:a2bd51642312d98aab6d8b641245d796ff1b89da5829777170bcc488140c3dcd\n")
WHEEL_FILE = "nicegui-3.18.0-py3-none-any.whl"
BUNDLE_PATH = "nicegui/static/socket.io.min.js"
BUNDLE_SHA256 = "b0e735814f8dcfecd6cdb8a7ce95a297a7e1e5f2727a29e6f5901801d52fa0c5"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20  # seconds for each browser-side condition; generous for slow CI

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>socket.io interop</title>
<script src="socket.io.min.js"></script></head>
<body><pre id="log"></pre>
<script>
const params = new URLSearchParams(location.search);
const r = window.results = {
  bundle: typeof io === 'function' && typeof io.Manager === 'function',
  opens: [], connects: [], disconnects: [], connectErrors: [], initialStates: [], upgrades: [],
  positions: 0, positionDrivers: {}, badPositions: [], visitEvents: [],
};
const socket = window.socket = io(params.get('server'), {auth: {token: params.get('token')}});
socket.io.on('open', () => {  // the engine is open; an upgrade has not started yet
  r.opens.push(socket.io.engine.transport.name);
  socket.io.engine.on('upgrade', (t) => r.upgrades.push(t.name));
});
socket.on('connect', () => r.connects.push({
  id: socket.id, recovered: socket.recovered, transport: socket.io.engine.transport.name, t: Date.now()}));
socket.on('disconnect', (reason) => r.disconnects.push({reason, t: Date.now()}));
socket.on('connect_error', (e) => r.connectErrors.push(String(e && e.message)));
socket.on('initial-state', (s) => r.initialStates.push(s.positions.map((p) => p.driverId)));
socket.on('driver-position', (p) => {
  r.positions++;
  r.positionDrivers[p.driverId] = true;
  for (const k of ['driverId', 'lat', 'lng', 'speed', 'heading', 'activity', 'fixTime'])
    if (!(k in p)) r.badPositions.push(p);
});
socket.on('visit-event', (e, offset) => r.visitEvents.push({visitId: e.visitId, offset, t: Date.now(),
                                                            connected: socket.connected}));
</script></body></html>
"""


def socket_io_bundle() -> Path:
    """The socket.io-client 4.8.1 UMD bundle, extracted from the hash-pinned wheel (downloaded once)."""
    CACHE.mkdir(exist_ok=True)
    bundle = CACHE / "socket.io.min.js"
    if bundle.exists() and hashlib.sha256(bundle.read_bytes()).hexdigest() == BUNDLE_SHA256:
        return bundle
    wheel = CACHE / WHEEL_FILE
    if not wheel.exists():
        pins = CACHE / "socketio-client-pins.txt"
        pins.write_text(WHEEL_PIN)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--require-hashes", "--disable-pip-version-check", "-q", "-r", str(pins), "-d", str(CACHE)],
                       check=True, timeout=300)
    data = zipfile.ZipFile(wheel).read(BUNDLE_PATH)
    digest = hashlib.sha256(data).hexdigest()
    assert digest == BUNDLE_SHA256, f"{BUNDLE_PATH} in {WHEEL_FILE} has sha256 {digest}, expected {BUNDLE_SHA256}"
    bundle.write_bytes(data)
    return bundle


@pytest.fixture(scope="module")
def browser_setup():
    try:
        from selenium import webdriver
    except ImportError:
        pytest.fail("needs `pip install selenium==4.51.0`")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("needs `apt-get install -y chromium chromium-driver`")
    bundle = socket_io_bundle()
    site = Path(tempfile.mkdtemp(prefix="socketio-page-"))
    shutil.copy(bundle, site / "socket.io.min.js")
    (site / "index.html").write_text(PAGE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()),
                                            functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    demo = GatewayDemo(DRIVERS, "socketio-browser-demo.log", {"SOCKETIO_CORS_ORIGIN": "*"})
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not reach the network
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1024,768"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    driver.set_page_load_timeout(30)
    try:
        yield demo, driver, f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        driver.quit()
        httpd.shutdown()
        demo.stop()
        shutil.rmtree(site, ignore_errors=True)


def wait_until(driver, script: str, what: str, timeout: float = WAIT):
    """Polls a JS expression until truthy; fails with the page's `results` for context."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script("return " + script)
        if value:
            return value
        time.sleep(0.1)
    state = driver.execute_script("return window.results")
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; page state: "
                         f"{json.dumps(state)[:2000]}")


def test_browser_bundle_connects_upgrades_and_recovers(browser_setup):
    demo, driver, page = browser_setup
    routes = demo.get("/api/routes", params={"date": today()}).json()
    route_id = sorted(r["id"] for r in routes)[0]
    visits = [v["id"] for v in demo.get(f"/api/routes/{route_id}").json()["visits"]
              if v["sequenceNumber"] >= 3 and v["status"] == "pending"]
    assert len(visits) >= 2, visits
    v1, v2 = visits[:2]

    driver.get(page + "?" + urllib.parse.urlencode({"server": demo.base, "token": demo.token}))
    assert driver.execute_script("return window.results.bundle"), "the UMD bundle did not define io / io.Manager"

    # Connect with the default transports: polling first, then the websocket upgrade.
    wait_until(driver, "window.results.connects.length >= 1", "connect")
    first = driver.execute_script("return window.results.connects[0]")
    opened = driver.execute_script("return window.results.opens")
    assert opened == ["polling"], f"engine opened over {opened} (the default is polling first)"
    assert first["recovered"] is False
    wait_until(driver, "window.results.initialStates.length >= 1", "initial-state")
    initial = driver.execute_script("return window.results.initialStates[0]")
    assert set(initial) == DEMO_DRIVERS, initial
    wait_until(driver, f"Object.keys(window.results.positionDrivers).length >= {DRIVERS // 2}",
               "driver-position from half the drivers")
    wait_until(driver, "socket.io.engine.transport.name === 'websocket'", "the websocket upgrade")
    assert driver.execute_script("return window.results.upgrades") == ["websocket"]
    assert driver.execute_script("return window.results.connectErrors") == []
    positions_after_upgrade = driver.execute_script("return window.results.positions")
    wait_until(driver, f"window.results.positions >= {positions_after_upgrade + DRIVERS}",
               "live driver-positions over the websocket")
    assert driver.execute_script("return window.results.badPositions") == []

    # A recoverable event gives the client an offset.
    skip_visit(demo, v1)
    wait_until(driver, f"window.results.visitEvents.some((e) => e.visitId === '{v1}')", f"visit-event {v1}")

    # Network blip: the engine closes under the socket; the client reconnects by itself (after 0.5-1.5 s).
    # Meanwhile another visit changes; the recovered session must deliver it.
    driver.execute_script("socket.io.engine.close()")
    skip_visit(demo, v2)
    missed_while_down = not driver.execute_script("return socket.connected")
    wait_until(driver, "window.results.connects.length >= 2 && socket.connected", "the reconnect")
    results = driver.execute_script("return window.results")
    assert results["disconnects"] and results["disconnects"][0]["reason"] == "forced close", results["disconnects"]
    second = results["connects"][1]
    assert second["recovered"] is True, f"socket.recovered is {second['recovered']} after the blip: {results['connects']}"
    assert second["id"] == first["id"], "a recovered socket keeps its id"
    wait_until(driver, f"window.results.visitEvents.some((e) => e.visitId === '{v2}')", f"visit-event {v2}")
    wait_until(driver, "socket.io.engine.transport.name === 'websocket'", "the websocket upgrade after reconnecting")
    count = driver.execute_script("return window.results.positions")
    wait_until(driver, f"window.results.positions >= {count + DRIVERS}", "live driver-positions after reconnecting")
    time.sleep(1)
    results = driver.execute_script("return window.results")
    for visit in (v1, v2):
        copies = [e for e in results["visitEvents"] if e["visitId"] == visit]
        assert len(copies) == 1, f"visit-event {visit} received {len(copies)} times: {copies}"
    print(f"blip: v2 changed while the socket was {'down' if missed_while_down else 'already back'}; "
          f"connects {results['connects']}; disconnects {results['disconnects']}; "
          f"connect errors {results['connectErrors']}")

    logs = driver.get_log("browser")
    print(f"{len(logs)} browser console entries:", [(e.get("level"), e.get("message", "")[:160]) for e in logs])
    severe = [entry for entry in logs if entry.get("level") == "SEVERE"]
    assert not severe, f"SEVERE browser console entries: {severe}"
