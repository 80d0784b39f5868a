"""CDC health, black box: `tracker demo` in local mode (its SQLite core emits Debezium-format change events)
with a 2 s lag threshold. A stalled stream turns `/health/cdc` to lagging within the threshold and the
readiness line `cdc` names it; a resumed stream turns both back; `/metrics` carries the
gauges and the customer cache counters."""
import time

import requests

from conftest import Demo


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def customers_line(demo):
    report = requests.get(demo.base + "/health/cdc", timeout=5)
    assert report.status_code == 200, report.text
    body = report.json()
    assert {t["table"] for t in body["tables"]} >= {"Customers", "Accounts", "Products", "Orders"}
    return body, next(t for t in body["tables"] if t["table"] == "Customers")


def put_customer(demo, admin, n, name):
    r = requests.put(f"{demo.base}/api/customers/cdc-h{n}", timeout=10,
                     headers={"Authorization": f"Bearer {admin}"},
                     json={"name": name, "latitude": 52.52, "longitude": 13.405})
    assert r.status_code == 200, r.text


def test_stalled_stream_turns_lagging_and_back():
    demo = Demo(drivers=3, log_name="system-cdc-health.log",
                extra_env={"TRACKER_CDC_LAG_THRESHOLD_SECONDS": "2"})
    try:
        admin = demo.mint("admin")
        put_customer(demo, admin, 1, "first")
        body, line = wait_until(lambda: (lambda r: r if r[1]["status"] == "healthy" else None)(customers_line(demo)),
                                10, "Customers healthy after a change")
        assert body["lagThresholdSeconds"] == 2
        assert line["eventsApplied"] >= 1 and line["eventsFailed"] == 0
        assert line["lagSeconds"] < 2 and line["lastVersion"] and line["lastSourceAt"] and line["lastSyncedAt"]

        # No change for longer than the threshold: lagging in /health/cdc; readiness names it without degrading
        # (a quiet source looks the same as a stalled stream).
        started = time.monotonic()
        wait_until(lambda: customers_line(demo)[1]["status"] == "lagging", 10, "Customers lagging")
        assert time.monotonic() - started < 2 + 5 + 1, "lagging within the threshold plus the 5 s monitor tick"
        ready = requests.get(demo.base + "/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        ready = ready.json()
        assert "cdc" not in (ready.get("degraded") or []), ready
        assert ready["dependencies"]["cdc"]["status"] == "up", ready
        assert "Customers lagging" in ready["dependencies"]["cdc"]["reason"], ready
        assert ready["dependencies"]["database"]["status"] == "up", ready
        assert {"bus", "cache", "cdc", "database", "socketio"} <= set(ready["dependencies"]), ready

        # A new change: healthy again, readiness no longer degraded by CDC.
        applied = customers_line(demo)[1]["eventsApplied"]
        put_customer(demo, admin, 2, "second")
        line = wait_until(lambda: (lambda l: l if l["status"] == "healthy" else None)(customers_line(demo)[1]),
                          10, "Customers healthy again")
        assert line["eventsApplied"] == applied + 1
        ready = requests.get(demo.base + "/health/ready", timeout=5).json()
        assert ready["dependencies"]["cdc"]["reason"].startswith("healthy"), ready

        metrics = wait_until(lambda: (lambda t: t if 'tracker_cdc_lag_seconds{table="Customers"}' in t else None)(
            requests.get(demo.base + "/metrics", timeout=5).text), 10, "CDC gauges on /metrics")
        assert 'tracker_cdc_events_applied{table="Customers"}' in metrics
        assert 'tracker_cdc_status{status="healthy",table="Customers"}' in metrics \
            or 'tracker_cdc_status{table="Customers",status="healthy"}' in metrics, metrics
        assert "tracker_customer_cache_lookups_total" in metrics
    finally:
        demo.stop()
