"""Stale and out-of-order fixes (issue 16), black box against the shared `tracker demo`: a late fix (Traccar
forwarding a device's buffered offline data) goes to history in its place and changes nothing live; a fix from
the future or from before the history retention (a device clock reset to 1970) is refused naming the field and
counted in `tracker_webhook_fix_time_refused_total`."""
import threading
import time

import pytest
import requests
import socketio

from conftest import WEBHOOK_SECRET, Demo
from test_local_durability import _epoch_ms, body

WEBHOOK = {"Authorization": f"Bearer {WEBHOOK_SECRET}", "Content-Type": "application/json"}


def epoch_ms(value) -> int:
    """A fix time as the live feed (epoch milliseconds) or the REST API (ISO-8601) gives it."""
    return int(value) if isinstance(value, (int, float)) else _epoch_ms(value)


def refused_metric(demo, reason: str) -> float:
    text = requests.get(demo.base + "/metrics", timeout=10).text
    prefix = f'tracker_webhook_fix_time_refused_total{{reason="{reason}"}} '
    return next((float(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix)), 0.0)


TENANT = "stale-fixes"


@pytest.fixture(scope="module")
def demo():
    """A small demo of this module's own: the shared 1,000-driver demo, after the other modules, can hold a backlog
    of a minute in a debug build, which is not what these tests measure."""
    d = Demo(drivers=5, log_name="stale-fixes-demo.log")
    yield d
    d.stop()


def test_late_fix_is_history_only(demo):
    admin = demo.mint("admin", tenant=TENANT)
    dispatcher = demo.mint("dispatcher", tenant=TENANT)
    r = demo.post("/api/drivers", {"id": "stale-1", "deviceId": "dev-stale-1", "name": "Stale"}, token=admin)
    assert r.status_code in (200, 201), r.text

    seen: list[int] = []
    lock = threading.Lock()
    client = socketio.Client(reconnection=False)

    def on_position(payload):
        with lock:
            seen.extend(epoch_ms(p["fixTime"]) for p in (payload if isinstance(payload, list) else [payload])
                        if p.get("driverId") == "stale-1")
    client.on("driver-position", on_position)
    client.connect(demo.base, auth={"token": dispatcher}, transports=["websocket"], wait_timeout=15)
    try:
        now_ms = int(time.time() * 1000) // 1000 * 1000
        fresh, late = now_ms - 2_000, now_ms - 3_600_000
        r = requests.post(demo.base + "/api/traccar/positions", data=body("dev-stale-1", fresh, 52.52, 13.40),
                          headers=WEBHOOK, timeout=10)
        assert r.status_code == 200 and r.json()["outcome"] == "accepted", r.text
        # Generous: the shared demo's 1,000 simulated drivers keep a debug build busy.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and fresh not in seen:
            time.sleep(0.05)
        assert fresh in seen, "the fresh fix was not pushed"

        # An hour-old fix, accepted (2xx: durable) ...
        r = requests.post(demo.base + "/api/traccar/positions", data=body("dev-stale-1", late, 52.40, 13.30),
                          headers=WEBHOOK, timeout=10)
        assert r.status_code == 200 and r.json()["outcome"] == "accepted", r.text
        # ... lands in history before the fresh one ...
        deadline = time.monotonic() + 60
        times: list[int] = []
        while time.monotonic() < deadline:
            r = demo.get("/api/drivers/stale-1/history", token=dispatcher,
                         params={"from": late - 1, "to": now_ms, "maxPoints": 100})
            assert r.status_code == 200, r.text
            times = [_epoch_ms(p["fixTime"]) for p in r.json()["points"]]
            if late in times:
                break
            time.sleep(0.2)
        assert times == [late, fresh], times
        # ... and was never pushed, nor replaced the latest position.
        time.sleep(1.0)
        with lock:
            assert late not in seen, "the late fix was pushed to the dashboard as the current position"
        r = demo.get("/api/drivers/stale-1/position", token=dispatcher)
        assert r.status_code == 200 and _epoch_ms(r.json()["fixTime"]) == fresh, r.text
    finally:
        client.disconnect()


def test_fix_from_the_future_or_before_retention_is_refused(demo):
    before = {reason: refused_metric(demo, reason) for reason in ("future", "before_retention")}
    now_ms = int(time.time() * 1000)
    cases = [
        ("1970 (a device clock reset)", 0, "before_retention"),
        ("400 days old", now_ms - 400 * 86_400_000, "before_retention"),
        ("a day ahead", now_ms + 86_400_000, "future"),
    ]
    for name, fix_ms, _ in cases:
        # Whether the device is mapped or not: the time is checked first.
        for device in ("dev-stale-1", "no-such-device"):
            r = requests.post(demo.base + "/api/traccar/positions", data=body(device, max(fix_ms, 0), 52.5, 13.4),
                              headers=WEBHOOK, timeout=10)
            assert r.status_code == 422, f"{name}: {r.status_code} {r.text}"
            problem = r.json()
            assert problem.get("field") == "position.fixTime", f"{name}: {problem}"
    after = {reason: refused_metric(demo, reason) for reason in ("future", "before_retention")}
    assert after["before_retention"] - before["before_retention"] == 4, after
    assert after["future"] - before["future"] == 2, after
