"""The dispatcher dashboard in a real browser (headless Chromium + Selenium) against the `tracker demo` of
conftest.py: sign-in, live markers and list, driver detail, route playback, the visit feed, no console errors,
no request leaving localhost. Screenshots of each main view go to Tests/SystemTests/output/."""
import json
import os
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import ROOT, Demo

OUTPUT = Path(__file__).resolve().parent / "output"
DIST = ROOT / "Dashboard" / "dist"
DRIVERS = int(os.environ.get("SYSTEM_TEST_DRIVERS", "1000"))

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError:  # pragma: no cover
    webdriver = None


def _requirements_missing() -> str | None:
    if webdriver is None:
        return "selenium is not installed (pip install selenium==4.51.0)"
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            return f"{tool} is missing (apt-get install chromium chromium-driver)"
    if not (DIST / "index.html").exists():
        return "the dashboard is not built (scripts/build-dashboard)"
    return None


missing = _requirements_missing()
if missing and os.environ.get("CI"):
    raise RuntimeError(f"dashboard browser tests cannot run in CI: {missing}")
pytestmark = pytest.mark.skipif(missing is not None, reason=missing or "")


def wait_for(predicate, timeout: float, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:  # the page may still be rendering
            last = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message} (last: {last!r})")


class Page:
    """One browser session on the dashboard, shared by the tests of this module (they build on each other)."""

    def __init__(self, base: str):
        os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for drivers online
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                    "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-default-apps", "--disable-sync"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        # The smallest supported screen: a 1280×800 viewport.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
        self.base = base
        self.console: list[dict] = []
        self.network: list[str] = []
        OUTPUT.mkdir(exist_ok=True)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def state(self, expression: str):
        return self.js(f"const d = window.__dashboard; return d ? ({expression}) : null;")

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(OUTPUT / f"{name}.png"))

    def drain_logs(self) -> None:
        self.console += self.driver.get_log("browser")
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.network.append(message["params"]["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                self.network.append(message["params"]["url"])

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture(scope="module")
def dashboard_demo():
    """A demo of its own, stopped when this module ends: the shared session demo's tests time its first 30 s."""
    d = Demo(drivers=DRIVERS)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def page(dashboard_demo):
    p = Page(dashboard_demo.base)
    yield p
    p.drain_logs()
    p.shot("final")
    p.quit()


def test_sign_in(page):
    page.driver.get(page.base + "/")
    button = wait_for(lambda: page.driver.find_element(By.ID, "dev-signin"), 15, message="the sign-in page")
    page.shot("01-sign-in")
    button.click()
    wait_for(lambda: page.state("d.connection.kind") == "connected", 30, message="a live Socket.io connection")
    tenant = page.driver.find_element(By.CSS_SELECTOR, ".tenant strong").text
    assert tenant == "demo"


def test_markers_appear_for_the_simulated_drivers(page):
    positioned = wait_for(
        lambda: (lambda n: n if n >= DRIVERS else None)(
            page.state("[...d.store.rows.values()].filter(r => r.hasPosition).length")),
        60, message=f"positions of {DRIVERS} drivers")
    assert positioned == DRIVERS
    # Every driver within the demo's area is drawn on the fleet canvas (the initial view fits the area).
    drawn = wait_for(lambda: (lambda n: n if n >= DRIVERS * 0.95 else None)(page.state("d.map.drawn")), 15,
                     message="markers drawn")
    page.shot("02-live-map")
    assert drawn >= DRIVERS * 0.95


def test_list_updates_live(page):
    batches = page.state("d.metrics.batches")
    first = page.driver.find_element(By.CSS_SELECTOR, "#driver-rows [role=option]")
    driver_id = first.get_attribute("data-driver-id")
    fix = int(float(first.get_attribute("data-fix")))
    # With batchMs 1000 the gateway sends one batch a second; the row shows a newer fix within a few seconds.
    wait_for(lambda: int(float(page.driver.find_element(
        By.CSS_SELECTOR, f"[data-driver-id='{driver_id}']").get_attribute("data-fix"))) > fix, 15,
        message="a newer fix in the list")
    assert page.state("d.metrics.batches") > batches
    total = int(page.driver.find_element(By.CSS_SELECTOR, "[data-count=total]").text)
    assert total == DRIVERS


def test_search_and_keyboard_select_a_driver_showing_its_detail(page):
    page.driver.find_element(By.TAG_NAME, "body").send_keys("/")
    search = page.driver.switch_to.active_element
    assert search.get_attribute("id") == "driver-search"
    search.send_keys("drv-0001")
    wait_for(lambda: len(page.driver.find_elements(By.CSS_SELECTOR, "#driver-rows [role=option]")) == 1, 5,
             message="the search to narrow the list")
    rows = page.driver.find_element(By.ID, "driver-rows")
    rows.send_keys(Keys.ARROW_DOWN)  # keyboard selection
    wait_for(lambda: page.driver.find_element(By.ID, "detail-title").text, 5, message="the detail panel")
    # The detailed stream (subscribe-driver → driver-position-detailed) fills next stop, distance and progress.
    wait_for(lambda: page.driver.find_element(By.CSS_SELECTOR, "[data-fact=next]").text not in ("…", ""), 20,
             message="the detailed position of the selected driver")
    facts = {e.get_attribute("data-fact"): e.text for e in page.driver.find_elements(By.CSS_SELECTOR, "[data-fact]")}
    assert facts["speed"].endswith("km/h")
    assert "/" in facts["progress"] and "stops" in facts["progress"]
    stops = wait_for(lambda: page.driver.find_elements(By.CSS_SELECTOR, "#stop-list li"), 15, message="today's stops")
    assert len(stops) >= 5
    assert "Window" in stops[0].text
    assert page.state("d.map.selected") == "drv-0001"
    page.shot("03-driver-detail")


def test_playback_moves_the_marker_with_the_slider(page):
    page.driver.find_element(By.ID, "tab-playback").click()
    page.driver.find_element(By.ID, "playback-load").click()
    wait_for(lambda: "positions" in page.driver.find_element(By.ID, "playback-status").text, 30,
             message="the route history")
    start = page.state("d.map.trackMarkerPosition()")
    slider = page.driver.find_element(By.ID, "playback-slider")
    slider.send_keys(Keys.END)  # keyboard: jump to the end of the range
    end = wait_for(lambda: (lambda p: p if p != start else None)(page.state("d.map.trackMarkerPosition()")), 5,
                   message="the marker to move")
    assert end != start
    slider.send_keys(Keys.HOME)
    wait_for(lambda: page.state("d.map.trackMarkerPosition()") == start, 5, message="the marker back at the start")
    # Play at 300×: the clock on the transport advances.
    page.driver.find_element(By.XPATH, "//div[@role='radiogroup']/button[normalize-space()='300×']").click()
    before = page.driver.find_element(By.ID, "playback-time").text
    page.driver.find_element(By.ID, "playback-play").click()
    wait_for(lambda: page.driver.find_element(By.ID, "playback-time").text != before, 5, message="playback to advance")
    page.shot("04-playback")
    page.driver.find_element(By.ID, "playback-play").click()  # pause


def test_a_visit_event_appears_in_the_feed(page):
    # Simulated drivers reach their first customer within a couple of minutes; the 30 s dwell then arrives them.
    wait_for(lambda: page.state("d.feed") > 0, 240, interval=1, message="a visit event")
    page.driver.find_element(By.ID, "tab-feed").click()
    items = wait_for(lambda: page.driver.find_elements(By.CSS_SELECTOR, "#visit-feed li"), 5, message="feed items")
    assert items[0].get_attribute("data-kind") in ("arrived", "departed", "started", "completed")
    page.shot("05-visit-feed")


def test_alerts_are_dismissible_toasts(page):
    # The demo raises alerts (late for a time window, low battery) within its first minutes.
    wait_for(lambda: page.driver.find_elements(By.CSS_SELECTOR, "#toasts .toast"), 120, interval=1,
             message="an alert toast")
    page.shot("06-alert-toast")
    # New alerts keep replacing old toasts (at most three), so find and dismiss one in a single step.
    key = page.js("""
        const toast = document.querySelector('#toasts .toast');
        toast.querySelector("button[aria-label='Dismiss alert']").click();
        return toast.dataset.key;""")
    wait_for(lambda: not page.driver.find_elements(By.CSS_SELECTOR, f"#toasts .toast[data-key='{key}']"), 5,
             message="the dismissed toast to go away")


def test_reconnects_with_state_recovery_after_a_blip(page):
    batches = page.state("d.metrics.batches")
    # Drop the underlying connection as a network blip would; the client reconnects by itself.
    page.js("window.__dashboard.live.socket.io.engine.close()")
    wait_for(lambda: page.state("d.connection.kind") != "connected", 5, interval=0.05, message="the disconnect")
    state = wait_for(lambda: (lambda s: s if s and s["kind"] == "connected" else None)(page.state("d.connection")),
                     30, message="the reconnection")
    assert state["recovered"] is True, state  # the gateway's connection state recovery
    wait_for(lambda: page.state("d.metrics.batches") > batches + 1, 10, message="positions after the reconnect")
    assert "Live" in page.driver.find_element(By.ID, "connection").text


def test_no_console_errors(page):
    page.drain_logs()
    errors = [e for e in page.console if e["level"] == "SEVERE"]
    assert not errors, errors


def test_no_request_leaves_localhost(page):
    page.drain_logs()
    origin = urlparse(page.base)
    resources = page.js("return performance.getEntriesByType('resource').map(e => e.name)")
    urls = set(page.network) | set(resources)
    assert urls, "no requests recorded"
    foreign = sorted(u for u in urls
                     if not u.startswith("data:") and urlparse(u).hostname not in ("127.0.0.1", "localhost", origin.hostname))
    assert not foreign, foreign
    # The Socket.io connection is among them (polling or WebSocket on the same origin).
    assert any("/socket.io/" in u for u in urls)
