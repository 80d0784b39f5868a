"""Three `tracker serve --broker kafka --store postgres --cache redis` instances with `TRACKER_PUSH_FANOUT=redis`
(issue 12), black box: live pushes go through one push group into Redis streams that every instance tails, and
Socket.IO connection state recovery is shared, so a dashboard whose instance dies recovers on another one.

- A python-socketio client on B receives the visit events of a visit moved through the REST API of C, once each.
- `initial-state` on every instance lists every driver with a position (the shared latest-position cache).
- A dashboard on A (a plain Socket.IO v5 client over websocket-client, which sends the recovery `pid` and
  `offset` as the JS client does) sees A killed with `kill -9`, reconnects to B, is told `recovered`-style
  with its old session id, and receives the visit events published while it was away, in order.
"""
import json
import threading
import time

import pytest
import requests
import socketio
import websocket

from test_kafka import wait_until
from test_local_durability import body
from test_postgres import WEBHOOK, mint, three_instances


@pytest.fixture(scope="module")
def trio():
    with three_instances(prefix="f", extra_env={"TRACKER_PUSH_FANOUT": "redis"}) as instances:
        yield instances


class RawSocket:
    """The Socket.IO v5 protocol over one WebSocket (EIO=4): what a browser client sends, including the
    connection state recovery fields `pid` and `offset` in the CONNECT auth."""

    def __init__(self, base: str, auth: dict):
        self.ws = websocket.create_connection(base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                              timeout=15)
        opened = self.ws.recv()
        assert opened.startswith("0"), opened
        self.ws.send("40" + json.dumps(auth))
        self.events: list[tuple[str, list]] = []
        self.connect_reply = None
        self.closed = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        wait_until(lambda: self.connect_reply is not None, 15, "the CONNECT reply")

    def _read(self):
        while True:
            try:
                frame = self.ws.recv()
            except Exception:
                self.closed = True
                return
            if not frame:
                self.closed = True
                return
            if frame == "2":
                self.ws.send("3")
            elif frame.startswith("40"):
                self.connect_reply = json.loads(frame[2:])
            elif frame.startswith("44"):
                self.connect_reply = {"error": json.loads(frame[2:])}
            elif frame.startswith("42"):
                packet = json.loads(frame[2:])
                with self.lock:
                    self.events.append((packet[0], packet[1:]))

    def named(self, event: str) -> list[list]:
        with self.lock:
            return [args for name, args in self.events if name == event]

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


def test_pushes_and_recovery_are_shared_across_instances(trio):
    _, redis, a, b, c = trio
    admin = mint("admin")
    dispatcher = mint("dispatcher")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    for n, lon in ((1, 13.4050), (2, 13.4150), (3, 13.4250)):
        r = a.api("PUT", f"/api/customers/fo-c{n}", admin,
                  json={"name": f"Customer {n}", "latitude": 52.5200, "longitude": lon, "geofenceRadiusMeters": 50})
        assert r.status_code in (200, 201), r.text
    wait_until(lambda: {x["id"] for x in c.api("GET", "/api/customers", admin).json()} >= {"fo-c1", "fo-c2", "fo-c3"},
               30, "customers in the shared read model")
    drivers = [f"fo-d{i}" for i in range(3)]
    for i, d in enumerate(drivers):
        r = a.api("POST", "/api/drivers", admin, json={"id": d, "deviceId": f"fo-dev-{i}", "name": d})
        assert r.status_code in (200, 201), r.text
    r = a.api("POST", "/api/routes", admin, json={
        "id": "fo-r1", "driverId": "fo-d0", "scheduledDate": today,
        "visits": [{"id": f"fo-v{n}", "customerId": f"fo-c{n}"} for n in (1, 2, 3)]})
    assert r.status_code in (200, 201), r.text
    # One fix per driver, posted to different instances.
    now_ms = int(time.time() * 1000)
    for i, d in enumerate(drivers):
        target = (a, b, c)[i]
        r = requests.post(target.base + "/api/traccar/positions", data=body(f"fo-dev-{i}", now_ms, 52.51, 13.40),
                          headers=WEBHOOK, timeout=15)
        assert r.status_code == 200, r.text

    # initial-state on every instance lists every driver (the shared latest-position cache).
    def initial_state(instance):
        client = socketio.Client(reconnection=False)
        states = []
        client.on("initial-state", lambda data: states.append(data))
        client.connect(instance.base, auth={"token": dispatcher}, transports=["websocket"], wait_timeout=15)
        try:
            wait_until(lambda: states, 15, f"initial-state from {instance.name}")
        finally:
            client.disconnect()
        return {p["driverId"] for p in states[0]["positions"]} if isinstance(states[0], dict) else \
            {p["driverId"] for p in states[0]}
    for instance in (a, b, c):
        wait_until(lambda: initial_state(instance) >= set(drivers), 30,
                   f"initial-state on {instance.name} to list every driver")

    # A python-socketio client on B receives the visit events of a visit moved through C, once each.
    on_b = socketio.Client(reconnection=False)
    seen_b: list[dict] = []
    on_b.on("visit-event", lambda *args: seen_b.append(args[0]))
    on_b.connect(b.base, auth={"token": dispatcher}, transports=["websocket"], wait_timeout=15)
    # A raw dashboard on A, to be recovered on B after A dies.
    dashboard = RawSocket(a.base, {"token": dispatcher})
    assert "pid" in dashboard.connect_reply, dashboard.connect_reply
    sid, pid = dashboard.connect_reply["sid"], dashboard.connect_reply["pid"]
    try:
        sent_at = time.monotonic()
        r = c.api("POST", "/api/visits/fo-v1/arrive", admin, json={})
        assert r.status_code == 200, r.text
        wait_until(lambda: [e for e in seen_b if e["visitId"] == "fo-v1"], 30, "B's client to get C's visit event")
        cross_ms = (time.monotonic() - sent_at) * 1000
        wait_until(lambda: dashboard.named("visit-event"), 30, "the dashboard on A to get the visit event")
        first = dashboard.named("visit-event")[0]
        offset = first[-1]
        assert isinstance(offset, str) and "-" in offset, first  # the shared stream id

        # Sessions reach Redis within a second of a change; a dashboard connected for less may not be recovered.
        wait_until(lambda: redis.cli("EXISTS", f"tracker:sio:s:{pid}") == "1", 10, "the session saved in Redis")
        a.kill()
        wait_until(lambda: dashboard.closed, 15, "the dashboard to see A gone")
        # While the dashboard is away: two more events, through C and B.
        for action, instance in (("start", c), ("complete", b)):
            r = instance.api("POST", f"/api/visits/fo-v1/{action}", admin, json={})
            assert r.status_code == 200, r.text
        # A's push partitions move to B and C once A's Kafka session expires (6 s here) and the group rebalances.
        wait_until(lambda: len([e for e in seen_b if e["visitId"] == "fo-v1"]) == 3, 45,
                   "B's client to get all three events")
        time.sleep(1)
        assert [e["status"] for e in seen_b if e["visitId"] == "fo-v1"] == ["arrived", "in_progress", "completed"], \
            seen_b

        # The dashboard reconnects through the load balancer, which now sends it to B.
        reconnect_at = time.monotonic()
        again = RawSocket(b.base, {"token": dispatcher, "pid": pid, "offset": offset})
        try:
            assert again.connect_reply.get("sid") == sid and again.connect_reply.get("pid") == pid, \
                (again.connect_reply, sid, pid)
            wait_until(lambda: len(again.named("visit-event")) >= 2, 30, "the missed events replayed on B")
            recovery_ms = (time.monotonic() - reconnect_at) * 1000
            replayed = again.named("visit-event")
            assert [args[0]["status"] for args in replayed[:2]] == ["in_progress", "completed"], replayed
            assert all(args[-1] > offset for args in replayed[:2]), replayed  # newer offsets, in order
            print(f"shared fan-out: visit event through C reached B's client in {cross_ms:.0f} ms; dashboard "
                  f"recovered on B after kill -9 of A with 2 missed events in {recovery_ms:.0f} ms")
        finally:
            again.close()
    finally:
        dashboard.close()
        on_b.disconnect()
