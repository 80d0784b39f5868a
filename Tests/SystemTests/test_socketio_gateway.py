"""Interop of the tracking gateway (`/socket.io/` of `tracker demo`) with python-socketio 5.x `AsyncClient`.

Issue 4, "The tracking gateway" and "Interop tests": the unmodified python client in its three transport modes
(polling only, websocket only, polling then upgrade) against a `tracker demo` with 20 simulated drivers:
JWT auth in the handshake, `initial-state`, live `driver-position`, rooms (`subscribe-driver`,
`subscribe-delivery`) with acks, tenant isolation, `batchMs` batching, the history acks, `visit-event` fan-out,
connection state recovery (`pid` + `offset`, also across tenants), python's own auto-reconnect after the server
process dies and comes back, and a prompt exit on SIGTERM with clients connected.
Protocol reference: ../shared/reference/socketio-protocol.md.
"""
import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import subprocess
import time
from pathlib import Path

import pytest
import requests
import socketio

from conftest import JWT_SECRET, WEBHOOK_SECRET, Demo, tracker_binary

DRIVERS = 20
DEMO_DRIVERS = {f"drv-{n:04d}" for n in range(1, DRIVERS + 1)}
OTHER_DRIVER = "oth-0001"  # created in tenant `other` by the fixture
OTHER_DEVICE = "oth-dev-0001"
COMPACT_KEYS = {"driverId", "lat", "lng", "speed", "heading", "activity", "fixTime"}
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}
CONNECT_TIMEOUT = 15  # python's wait_timeout; generous for slow CI
ACK_TIMEOUT = 10
PING_INTERVAL_MS = 5000
TEST_TIMEOUT = 60  # per test, asyncio.wait_for around the whole body


# --------------------------------------------------------------------------------------------- server


class GatewayDemo(Demo):
    """The shared `Demo` (restartable on the same port and data), waiting for a binary a concurrent build may be
    relinking, with a raw webhook helper."""

    def __init__(self, drivers: int, log_name: str, extra_env: dict | None = None):
        deadline = time.monotonic() + 120
        while not Path(tracker_binary()).exists() and time.monotonic() < deadline:
            time.sleep(2)
        super().__init__(drivers, log_name, extra_env)

    def post_position(self, device: str, lat: float, lng: float) -> None:
        """A Traccar webhook fix for `device`, stamped now."""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"
        body = {"position": {"deviceId": 9001, "fixTime": now, "deviceTime": now, "latitude": lat,
                             "longitude": lng, "speed": 12.0, "course": 45.0, "valid": True, "attributes": {}},
                "device": {"uniqueId": device, "name": device}}
        r = requests.post(self.base + "/api/traccar/positions", data=json.dumps(body), timeout=10,
                          headers={"Authorization": f"Bearer {WEBHOOK_SECRET}", "Content-Type": "application/json"})
        assert 200 <= r.status_code < 300, r.text


def today() -> str:
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


@pytest.fixture(scope="module")
def demo():
    # A 5 s heartbeat (default 25 s): exercised by every test, and it bounds a python-engineio quirk: a polling
    # client refused at CONNECT sends its Engine.IO close only sometimes, and then waits for the next ping.
    d = GatewayDemo(DRIVERS, "socketio-gateway-demo.log",
                    {"SOCKETIO_PING_INTERVAL_MS": str(PING_INTERVAL_MS), "SOCKETIO_PING_TIMEOUT_MS": "5000"})
    try:
        # Every simulated driver has a latest position (so initial-state is complete).
        deadline = time.monotonic() + 60
        missing = set(DEMO_DRIVERS)
        while missing and time.monotonic() < deadline:
            for driver in sorted(missing):
                if d.get(f"/api/drivers/{driver}/position").status_code == 200:
                    missing.discard(driver)
            if missing:
                time.sleep(0.5)
        assert not missing, f"no position after 60 s for {sorted(missing)}"
        # A driver of tenant `other`, with a position, for the isolation checks.
        d.other_admin = d.mint("admin", tenant="other")
        r = d.post("/api/drivers", {"id": OTHER_DRIVER, "deviceId": OTHER_DEVICE, "name": "Other Tenant Driver"},
                   token=d.other_admin)
        assert r.status_code in (200, 201), r.text
        d.post_position(OTHER_DEVICE, 52.50, 13.40)
        # Pending visits late in today's routes (the simulation will not reach them during the test), each used
        # by at most one test.
        routes = d.get("/api/routes", params={"date": today()})
        assert routes.status_code == 200, routes.text
        d.route_ids = sorted(r["id"] for r in routes.json())
        assert len(d.route_ids) == DRIVERS
        d.spare_visits = []  # (routeId, visitId)
        for route_id in d.route_ids:
            details = d.get(f"/api/routes/{route_id}").json()
            for visit in details["visits"]:
                if visit["sequenceNumber"] >= 3 and visit["status"] == "pending":
                    d.spare_visits.append((route_id, visit["id"]))
        assert len(d.spare_visits) >= 10
        yield d
    finally:
        d.stop()


def take_visits(demo, count: int, same_route: bool = False) -> list[tuple[str, str]]:
    """Pending visits no other test touches; with `same_route`, all from one route."""
    if not same_route:
        taken, demo.spare_visits = demo.spare_visits[:count], demo.spare_visits[count:]
        return taken
    by_route: dict[str, list] = {}
    for route_id, visit_id in demo.spare_visits:
        by_route.setdefault(route_id, []).append((route_id, visit_id))
    route_id = next(r for r, v in by_route.items() if len(v) >= count)
    taken = by_route[route_id][:count]
    demo.spare_visits = [v for v in demo.spare_visits if v not in taken]
    return taken


def skip_visit(demo, visit_id: str) -> None:
    r = demo.post(f"/api/visits/{visit_id}/skip", {"reason": "socket.io system test"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "skipped"


def jwt(claims: dict, secret: str = JWT_SECRET) -> str:
    """An HS256 JWT like `tracker token` makes, with any claims (e.g. an expired one)."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    head = b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{signature}"


def run(coro, timeout: float = TEST_TIMEOUT):
    return asyncio.run(asyncio.wait_for(coro, timeout))


# --------------------------------------------------------------------------------------------- client


class Client:
    """An unmodified `socketio.AsyncClient` that records everything it receives.

    `_handle_connect` is wrapped only to read the CONNECT reply (`{"sid", "pid"}`); the client's behaviour is
    unchanged.
    """

    def __init__(self, reconnection: bool = False, **kwargs):
        self.sio = socketio.AsyncClient(reconnection=reconnection, **kwargs)
        self.events: list[tuple[float, str, tuple]] = []
        self.connect_replies: list[dict] = []
        self.connect_errors: list = []
        self.connects = 0
        self.disconnects: list = []
        original = self.sio._handle_connect

        async def handle_connect(namespace, data):
            self.connect_replies.append(data)
            return await original(namespace, data)

        self.sio._handle_connect = handle_connect

        async def on_any(event, *args):
            self.events.append((time.monotonic(), event, args))

        async def on_connect():
            self.connects += 1

        async def on_connect_error(data):
            self.connect_errors.append(data)

        async def on_disconnect(*reason):
            self.disconnects.append(reason)
            self.disconnected_at = time.monotonic()

        self.sio.on("*", on_any)
        self.sio.on("connect", on_connect)
        self.sio.on("connect_error", on_connect_error)
        self.sio.on("disconnect", on_disconnect)

    async def connect(self, url: str, auth, transports=None):
        await self.sio.connect(url, auth=auth, transports=transports, wait_timeout=CONNECT_TIMEOUT)

    async def call(self, event: str, data):
        return await self.sio.call(event, data, timeout=ACK_TIMEOUT)

    def named(self, name: str, since: float = 0.0) -> list[tuple]:
        return [args for t, e, args in self.events if e == name and t >= since]

    def names(self, since: float = 0.0) -> set[str]:
        return {e for t, e, _ in self.events if t >= since}

    async def wait_for(self, predicate, timeout: float, what: str):
        """Polls `predicate()` until truthy; returns its value or fails naming `what`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; received "
                             f"{sorted(self.names())}, connect errors {self.connect_errors}")

    async def wait_event(self, name: str, timeout: float = 10, since: float = 0.0, where=lambda args: True):
        return await self.wait_for(lambda: next((a for a in self.named(name, since) if where(a)), None),
                                   timeout, f"event {name!r}")

    async def close(self):
        try:
            await asyncio.wait_for(self.sio.disconnect(), 10)
        except Exception:
            pass


async def connected_client(demo, token: str | None = None, transports=None, **auth_extra) -> Client:
    client = Client()
    await client.connect(demo.base, {"token": token or demo.token, **auth_extra}, transports)
    return client


async def connect_error(demo, auth, transports) -> str:
    """Connects with `auth`; expects a CONNECT_ERROR and returns its `message`."""
    client = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(demo.base, auth, transports)
    assert not client.sio.connected
    assert client.connects == 0
    assert len(client.connect_errors) == 1, client.connect_errors
    error = client.connect_errors[0]
    assert isinstance(error, dict) and isinstance(error.get("message"), str), error
    await client.close()
    return error["message"]


def assert_compact(position: dict) -> None:
    assert isinstance(position, dict), position
    assert COMPACT_KEYS <= position.keys(), f"compact position lacks {COMPACT_KEYS - position.keys()}: {position}"
    assert position["driverId"] in DEMO_DRIVERS, position
    assert -90 <= position["lat"] <= 90 and -180 <= position["lng"] <= 180, position


# --------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("mode", list(TRANSPORTS))
def test_live_feed_and_driver_room(demo, mode):
    """Per transport mode: connect, initial-state, live driver-position, subscribe/unsubscribe-driver, ack errors."""

    async def body():
        client = await connected_client(demo, transports=TRANSPORTS[mode])
        try:
            assert client.sio.connected
            reply = client.connect_replies[0]
            assert isinstance(reply.get("sid"), str) and len(reply["sid"]) == 20, reply
            assert isinstance(reply.get("pid"), str) and reply["pid"], f"CONNECT reply without pid: {reply}"
            assert client.sio.get_sid("/") == reply["sid"]
            assert client.sio.eio.ping_interval == PING_INTERVAL_MS / 1000  # the configured heartbeat

            # initial-state: every demo driver's enriched position, nobody else's.
            (state,) = await client.wait_event("initial-state", timeout=10)
            positions = state["positions"]
            assert isinstance(positions, list)
            assert {p["driverId"] for p in positions} == DEMO_DRIVERS
            assert all(p["tenantId"] == "demo" for p in positions)
            assert client.events[0][1] == "initial-state", "initial-state must be the first event"

            # Live compact positions to the tenant room, from many drivers.
            start = time.monotonic()
            await client.wait_for(lambda: len({a[0]["driverId"] for a in client.named("driver-position", start)})
                                  >= DRIVERS // 2, 10, "driver-position from half the drivers")
            for (position,) in client.named("driver-position"):
                assert_compact(position)
            if mode == "upgrade":
                await client.wait_for(lambda: client.sio.transport() == "websocket", 10, "the websocket upgrade")
            else:
                assert client.sio.transport() == mode

            # subscribe-driver: detailed events for the subscribed drivers only.
            assert await client.call("subscribe-driver", {"driverId": "drv-0003"}) == \
                {"ok": True, "driverId": "drv-0003"}
            assert await client.call("subscribe-driver", {"driverId": "drv-0011"}) == \
                {"ok": True, "driverId": "drv-0011"}
            subscribed = time.monotonic()
            await client.wait_for(
                lambda: {a[0]["driverId"] for a in client.named("driver-position-detailed", subscribed)}
                >= {"drv-0003", "drv-0011"}, 10, "driver-position-detailed of both subscribed drivers")
            detailed = client.named("driver-position-detailed")
            assert {a[0]["driverId"] for a in detailed} <= {"drv-0003", "drv-0011"}
            for (d,) in detailed:
                assert d["tenantId"] == "demo" and "latitude" in d and "longitude" in d, d
            assert not [a for t, e, a in client.events if e == "driver-position-detailed" and t < subscribed - 1], \
                "driver-position-detailed before any subscribe-driver"

            # unsubscribe-driver: nothing more of drv-0003 after the ack, drv-0011 goes on.
            assert await client.call("unsubscribe-driver", {"driverId": "drv-0003"}) == \
                {"ok": True, "driverId": "drv-0003"}
            unsubscribed = time.monotonic()
            await client.wait_for(
                lambda: len([a for a in client.named("driver-position-detailed", unsubscribed)
                             if a[0]["driverId"] == "drv-0011"]) >= 2, 10, "two more detailed drv-0011 positions")
            after = [a[0]["driverId"] for a in client.named("driver-position-detailed", unsubscribed)]
            assert "drv-0003" not in after, f"detailed drv-0003 after unsubscribe-driver was acked: {after}"

            # Ack errors: unknown driver, another tenant's driver, missing driverId, unknown event.
            for payload in ({"driverId": "drv-9999"}, {"driverId": OTHER_DRIVER}, {}, {"driverId": 7}):
                ack = await client.call("subscribe-driver", payload)
                assert ack.get("ok") is False and isinstance(ack.get("error"), str) and ack["error"], (payload, ack)
            unknown = await client.call("no-such-event", {})
            assert unknown.get("ok") is False and "no-such-event" in unknown.get("error", ""), unknown
            assert await client.call("unsubscribe-driver", {"driverId": "drv-0011"}) == \
                {"ok": True, "driverId": "drv-0011"}
            assert client.sio.connected
        finally:
            await client.close()

    run(body())


AUTH_FAILURES = {
    "missing auth": (None, "missing"),
    "empty auth": ({}, "missing"),
    "token not a string": ({"token": 12345}, "missing"),
    "garbage token": ({"token": "garbage"}, "unauthorized"),
    "expired token": ("expired", "expired"),
    "wrong secret": ("wrong-secret", "unauthorized"),
    "driver role": ("driver", "driver"),
}


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_auth_failures_are_connect_errors_with_a_reason(demo, transport):
    now = time.time()

    def claims(**overrides):
        return {"exp": now + 3600, "iat": now, "tenant": "demo", "sub": "dispatcher", "role": "dispatcher",
                **overrides}

    def auth_for(spec):
        if spec == "expired":
            return {"token": jwt(claims(exp=now - 60, iat=now - 3600))}
        if spec == "wrong-secret":
            return {"token": jwt(claims(), secret="not-the-server-secret-0123456789abcdef")}
        if spec == "driver":
            return {"token": demo.mint("driver", subject="drv-0001")}
        return spec

    async def body():
        names = list(AUTH_FAILURES)
        messages = await asyncio.gather(*(connect_error(demo, auth_for(AUTH_FAILURES[n][0]), [transport])
                                          for n in names))
        reasons = dict(zip(names, messages))
        for name, message in reasons.items():
            expected = AUTH_FAILURES[name][1]
            assert expected in message.lower(), f"{name}: reason {message!r} does not mention {expected!r}"
        # A hand-made token of the right secret is accepted (so the failures above are about what they vary).
        ok = await connected_client(demo, token=jwt(claims()), transports=[transport])
        await ok.close()
        viewer = await connected_client(demo, token=demo.mint("viewer"), transports=[transport])
        await viewer.wait_event("initial-state")
        await viewer.close()
        print(json.dumps(reasons, indent=1))

    run(body())


def test_tenant_isolation(demo):
    """A socket of tenant `other` gets only its tenant's data and cannot reach demo's rooms; and vice versa."""

    async def body():
        other = await connected_client(demo, token=demo.mint("dispatcher", tenant="other"), transports=["websocket"])
        mine = await connected_client(demo, transports=["polling"])
        try:
            (state,) = await other.wait_event("initial-state")
            assert {p["driverId"] for p in state["positions"]} <= {OTHER_DRIVER}, state
            assert all(p["tenantId"] == "other" for p in state["positions"])

            # Demo's drivers, routes and history are out of reach.
            for event, payload in (("subscribe-driver", {"driverId": "drv-0001"}),
                                   ("subscribe-delivery", {"routeId": demo.route_ids[0]}),
                                   ("get-route-history", {"driverId": "drv-0001", "from": 0,
                                                          "to": int(time.time() * 1000), "maxPoints": 10}),
                                   ("get-driver-stats", {"driverId": "drv-0001", "from": today(), "to": today()})):
                ack = await other.call(event, payload)
                assert ack.get("ok") is False and ack.get("error"), f"tenant other: {event} {payload} -> {ack}"
            # Its own driver is fine (positive control).
            assert (await other.call("subscribe-driver", {"driverId": OTHER_DRIVER}))["ok"] is True
            assert (await mine.call("subscribe-driver", {"driverId": OTHER_DRIVER}))["ok"] is False

            # Traffic in both tenants: demo's simulation, a fix of the other tenant's driver, a demo visit event.
            start = time.monotonic()
            ((route_id, visit_id),) = take_visits(demo, 1)
            skip_visit(demo, visit_id)
            for i in range(3):
                demo.post_position(OTHER_DEVICE, 52.50 + 0.001 * i, 13.40)
                await asyncio.sleep(0.5)
            await other.wait_event("driver-position", since=start, where=lambda a: a[0]["driverId"] == OTHER_DRIVER)
            await other.wait_event("driver-position-detailed", since=start,
                                   where=lambda a: a[0]["driverId"] == OTHER_DRIVER)
            await mine.wait_event("visit-event", where=lambda a: a[0]["visitId"] == visit_id)
            await asyncio.sleep(2)

            foreign = [(e, a) for _, e, a in other.events
                       if e != "initial-state" and (a[0].get("tenantId", "other") != "other"
                                                    or a[0].get("driverId") != OTHER_DRIVER)]
            assert not foreign, f"tenant other received demo events: {foreign[:3]}"
            leaked = [(e, a) for _, e, a in mine.events
                      if e != "initial-state" and (a[0].get("driverId") == OTHER_DRIVER
                                                   or a[0].get("tenantId", "demo") != "demo")]
            assert not leaked, f"tenant demo received tenant other's events: {leaked[:3]}"
            assert len(mine.named("driver-position", start)) >= DRIVERS  # demo traffic did flow meanwhile
        finally:
            await other.close()
            await mine.close()

    run(body())


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_batch_ms_gives_driver_positions_arrays(demo, transport):
    async def body():
        client = await connected_client(demo, transports=[transport], batchMs=500)
        try:
            await client.wait_event("initial-state")
            start = time.monotonic()
            await client.wait_for(lambda: len(client.named("driver-positions", start)) >= 4, 10,
                                  "four driver-positions batches")
            await asyncio.sleep(1)
            batches = [a for a in client.named("driver-positions")]
            for args in batches:
                assert len(args) == 1 and isinstance(args[0], list) and args[0], args
                ids = [p["driverId"] for p in args[0]]
                assert len(ids) == len(set(ids)), f"a batch holds one (the latest) position per driver: {ids}"
                for p in args[0]:
                    assert_compact(p)
            seen = {p["driverId"] for (batch,) in batches for p in batch}
            assert len(seen) >= DRIVERS // 2, seen
            assert not client.named("driver-position"), "a batching client got single driver-position events"
            # Batches are paced by batchMs: about 2 per second, not 20.
            times = [t for t, e, _ in client.events if e == "driver-positions"]
            rate = (len(times) - 1) / (times[-1] - times[0])
            assert rate <= 4, f"{rate:.1f} batches/s for batchMs 500"
            # Rooms and acks work as usual for a batching client.
            assert (await client.call("subscribe-driver", {"driverId": "drv-0005"}))["ok"] is True
            await client.wait_event("driver-position-detailed", since=time.monotonic())
        finally:
            await client.close()

    run(body())


def test_invalid_batch_ms_is_refused(demo):
    async def body():
        for value in (0, 49, 10001, -100, "500", 250.5, None, [500]):
            message = await connect_error(demo, {"token": demo.token, "batchMs": value}, ["websocket"])
            assert "batchms" in message.lower(), f"batchMs={value!r}: {message!r}"
        for value in (50, 10000):
            ok = await connected_client(demo, transports=["websocket"], batchMs=value)
            await ok.close()

    run(body())


def test_history_and_stats_acks(demo):
    async def body():
        client = await connected_client(demo, transports=["websocket"])
        try:
            now = int(time.time() * 1000)
            since = now - 15 * 60 * 1000
            ack = await client.call("get-route-history",
                                    {"driverId": "drv-0002", "from": since, "to": now, "maxPoints": 5})
            assert ack.get("ok") is True, ack
            points = ack["points"]
            assert isinstance(points, list) and 1 <= len(points) <= 5, ack
            for p in points:
                assert since <= p["fixTime"] <= now, p
                assert {"latitude", "longitude"} <= p.keys(), p
            assert [p["fixTime"] for p in points] == sorted(p["fixTime"] for p in points)
            many = await client.call("get-route-history", {"driverId": "drv-0002", "from": since, "to": now,
                                                           "maxPoints": 1000})
            assert many["ok"] is True and len(many["points"]) >= len(points), many
            empty = await client.call("get-route-history", {"driverId": "drv-0002", "from": 1000, "to": 2000,
                                                            "maxPoints": 10})
            assert empty == {"ok": True, "points": []}, empty

            stats = await client.call("get-driver-stats", {"driverId": "drv-0002", "from": today(), "to": today()})
            assert stats.get("ok") is True, stats
            assert isinstance(stats["stats"], list) and stats["stats"], stats
            day = stats["stats"][0]
            assert day["driverId"] == "drv-0002" and day["date"] == today() and day["positions"] >= 1, day

            for event, payload in (
                    ("get-route-history", {"driverId": "drv-9999", "from": since, "to": now, "maxPoints": 5}),
                    ("get-route-history", {"driverId": OTHER_DRIVER, "from": since, "to": now, "maxPoints": 5}),
                    ("get-route-history", {"driverId": "drv-0002", "from": "yesterday", "to": now}),
                    ("get-route-history", {"from": since, "to": now}),
                    ("get-driver-stats", {"driverId": "drv-0002", "from": "29.11.2026", "to": today()}),
                    ("get-driver-stats", {"driverId": OTHER_DRIVER, "from": today(), "to": today()}),
                    ("get-driver-stats", {"driverId": "drv-0002"})):
                ack = await client.call(event, payload)
                assert ack.get("ok") is False and isinstance(ack.get("error"), str), (event, payload, ack)
        finally:
            await client.close()

    run(body())


def test_visit_event_once_per_socket_in_tenant_and_delivery_rooms(demo):
    async def body():
        (route_id, visit_id), = take_visits(demo, 1)
        both = await connected_client(demo, transports=["websocket"])
        tenant_only = await connected_client(demo, transports=["polling"])
        try:
            assert await both.call("subscribe-delivery", {"routeId": route_id}) == {"ok": True, "routeId": route_id}
            for payload in ({"routeId": "route-19990101-0001"}, {}):
                ack = await both.call("subscribe-delivery", payload)
                assert ack.get("ok") is False and ack.get("error"), (payload, ack)
            skip_visit(demo, visit_id)
            for client in (both, tenant_only):
                args = await client.wait_event("visit-event", where=lambda a: a[0]["visitId"] == visit_id)
                event, offset = args
                assert event["routeId"] == route_id and event["status"] == "skipped" and event["tenantId"] == "demo"
                assert isinstance(offset, str) and offset, f"visit-event without a string offset: {args}"
            await asyncio.sleep(2)  # a duplicate would have arrived by now
            for name, client in (("tenant+delivery", both), ("tenant only", tenant_only)):
                copies = [a for a in client.named("visit-event") if a[0]["visitId"] == visit_id]
                assert len(copies) == 1, f"{name} socket got {len(copies)} copies of the visit-event: {copies}"
            assert await both.call("unsubscribe-delivery", {"routeId": route_id}) == \
                {"ok": True, "routeId": route_id}
        finally:
            await both.close()
            await tenant_only.close()

    run(body())


async def drop_engine(client: Client) -> None:
    """Ends the Engine.IO connection without a Socket.IO DISCONNECT (`41`): on websocket the socket is closed
    under the client (no Engine.IO close `1` either); on polling the client POSTs only the Engine.IO close `1`
    (`abort=True` would drop the session before that POST is sent, and the server would hold the session open
    until the ping timeout, 45 s)."""
    eio = client.sio.eio
    if eio.current_transport == "websocket":
        await eio.ws.close()
    else:
        await asyncio.wait_for(eio.disconnect(abort=False), 15)
    await client.wait_for(lambda: not client.sio.connected, 10, "the client to notice the drop")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_connection_state_recovery(demo, transport):
    """Reconnecting with pid + offset within the window restores the socket id, its rooms and missed events."""

    async def body():
        (route_id, v1), (_, v2), (_, v3) = take_visits(demo, 3, same_route=True)
        first = await connected_client(demo, transports=[transport])
        try:
            reply = first.connect_replies[0]
            sid, pid = reply["sid"], reply["pid"]
            await first.wait_event("initial-state")
            assert (await first.call("subscribe-delivery", {"routeId": route_id}))["ok"] is True
            assert (await first.call("subscribe-driver", {"driverId": "drv-0007"}))["ok"] is True
            skip_visit(demo, v1)
            _, offset = await first.wait_event("visit-event", where=lambda a: a[0]["visitId"] == v1)
            # Any recoverable event after v1's (a simulated one) moves the offset on.
            await asyncio.sleep(0.5)
            offset = [a[-1] for _, e, a in first.events if e in ("visit-event", "alert", "driver-event")][-1]
            await drop_engine(first)
        finally:
            await first.close()

        # Missed while disconnected.
        skip_visit(demo, v2)
        skip_visit(demo, v3)
        await asyncio.sleep(1)

        second = Client()
        try:
            await second.connect(demo.base, {"token": demo.token, "pid": pid, "offset": offset}, [transport])
            reply = second.connect_replies[0]
            assert reply.get("sid") == sid, f"recovered socket has sid {reply.get('sid')}, expected {sid}: {reply}"
            missed = await second.wait_for(
                lambda: [a for a in second.named("visit-event") if a[0]["visitId"] in (v2, v3)]
                if {a[0]["visitId"] for a in second.named("visit-event")} >= {v2, v3} else None,
                10, f"the missed visit-events of {v2} and {v3}")
            assert [a[0]["visitId"] for a in missed] == [v2, v3], f"missed events out of order: {missed}"
            assert not [a for a in second.named("visit-event") if a[0]["visitId"] == v1], \
                "the event at the client's offset was replayed"
            # The driver room is back without a new subscribe-driver.
            await second.wait_event("driver-position-detailed", timeout=10,
                                    where=lambda a: a[0]["driverId"] == "drv-0007")
            await asyncio.sleep(1)
            copies = [a for a in second.named("visit-event") if a[0]["visitId"] == v2]
            assert len(copies) == 1, f"missed visit-event delivered {len(copies)} times"
            assert "pid" in reply, f"the recovered session has no pid for the next recovery: {reply}"
        finally:
            await second.close()

        # An unknown pid is a fresh session: new sid, no replay, but connected.
        fresh = Client()
        try:
            await fresh.connect(demo.base, {"token": demo.token, "pid": "AAAAAAAAAAAAAAAAAAAA", "offset": offset},
                                [transport])
            assert fresh.connect_replies[0]["sid"] != sid
            await fresh.wait_event("initial-state")
            await asyncio.sleep(1)
            assert not [a for a in fresh.named("visit-event") if a[0]["visitId"] in (v2, v3)]
        finally:
            await fresh.close()

    run(body())


def test_recovery_pid_is_bound_to_its_tenant(demo):
    """A pid presented with another tenant's token must not hand over the session (or its missed events)."""

    async def body():
        (_, v1), (_, v2) = take_visits(demo, 2)
        first = await connected_client(demo, transports=["websocket"])
        pid, sid = first.connect_replies[0]["pid"], first.connect_replies[0]["sid"]
        skip_visit(demo, v1)
        _, offset = await first.wait_event("visit-event", where=lambda a: a[0]["visitId"] == v1)
        await drop_engine(first)
        await first.close()
        skip_visit(demo, v2)
        await asyncio.sleep(1)
        intruder = Client()
        try:
            await intruder.connect(demo.base, {"token": demo.mint("dispatcher", tenant="other"), "pid": pid,
                                               "offset": offset}, ["websocket"])
            await asyncio.sleep(2)
            reply = intruder.connect_replies[0]
            stolen = [a for a in intruder.named("visit-event")]
            demo_feed = [a for a in intruder.named("driver-position") if a[0]["driverId"] in DEMO_DRIVERS]
            problems = []
            if reply["sid"] == sid:
                problems.append(f"tenant other's token recovered demo session {sid} (pid {pid})")
            if stolen:
                problems.append(f"received {len(stolen)} demo visit-events, e.g. {stolen[0]}")
            if demo_feed:
                problems.append(f"received {len(demo_feed)} demo driver-positions in 2 s, e.g. {demo_feed[0]}")
            assert not problems, "; ".join(problems)
        except socketio.exceptions.ConnectionError:
            pass  # refusing the connection is fine too
        finally:
            await intruder.close()

    run(body())


def test_python_auto_reconnect_after_server_crash():
    """The server process dies under connected clients (SIGKILL) and comes back on the same port and data:
    python's own reconnection brings every transport mode back to initial-state and a live feed."""
    server = GatewayDemo(DRIVERS, "socketio-gateway-restart.log")

    async def body():
        clients = {}
        for mode, transports in TRANSPORTS.items():
            c = Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=1,
                       randomization_factor=0.2)
            await c.connect(server.base, {"token": server.token}, transports)
            clients[mode] = c
        try:
            for c in clients.values():
                await c.wait_event("initial-state")
                await c.wait_event("driver-position", timeout=15)
            server.process.kill()
            await asyncio.to_thread(server.process.wait, 10)
            for mode, c in clients.items():
                await c.wait_for(lambda: c.disconnects, 15, f"{mode}: the disconnect after the server died")
            print("disconnect reasons:", {m: c.disconnects for m, c in clients.items()})
            restarted = time.monotonic()
            await asyncio.to_thread(server.start)
            for mode, c in clients.items():
                await c.wait_for(lambda: c.connects >= 2 and c.sio.connected, 30, f"{mode}: python's reconnection")
                await c.wait_event("initial-state", since=restarted, timeout=15)
                await c.wait_event("driver-position", since=restarted, timeout=15)
            print(f"all back {time.monotonic() - restarted:.1f} s after the restart")
        finally:
            for c in clients.values():
                await c.close()

    try:
        run(body(), timeout=120)
    finally:
        server.stop()


SHUTDOWN_PING_INTERVAL_MS = 15000


def test_sigterm_exits_promptly_with_clients_connected():
    """Graceful shutdown does not wait for the heartbeat: with a long-polling client (and a websocket one)
    connected, the tracker exits within 5 s of SIGTERM, and python's clients see the disconnect.

    Its own tracker with a 15 s heartbeat; SIGTERM comes a second or two after the handshakes, so a shutdown
    that answers a pending long-poll GET only at the next ping takes over 10 s.
    """
    server = GatewayDemo(DRIVERS, "socketio-gateway-shutdown.log",
                         {"SOCKETIO_PING_INTERVAL_MS": str(SHUTDOWN_PING_INTERVAL_MS)})
    outcome = {}

    async def body():
        clients = {}
        for mode in ("polling", "websocket"):
            clients[mode] = await connected_client(server, transports=[mode])
        try:
            for c in clients.values():
                await c.wait_event("driver-position", timeout=15)
            # Between two 1 Hz ticks: the polling client's next GET is pending at the server.
            tick = time.monotonic()
            await clients["polling"].wait_event("driver-position", since=tick, timeout=15)
            await asyncio.sleep(0.3)
            stopped = time.monotonic()
            server.process.terminate()
            outcome["exit"] = await asyncio.to_thread(wait_exit, server.process, 30)
            outcome["disconnects"] = {m: (c.disconnects, round(c.disconnected_at - stopped, 1)
                                          if c.disconnects else None) for m, c in clients.items()}
        finally:
            for c in clients.values():
                await c.close()

    try:
        run(body())
    finally:
        if server.process.poll() is None:
            server.process.kill()
        server.stop()
    print(outcome)
    assert outcome["exit"] is not None and outcome["exit"] <= 5, (
        f"tracker exited {outcome['exit'] if outcome['exit'] is None else round(outcome['exit'], 1)} s after "
        f"SIGTERM (heartbeat {SHUTDOWN_PING_INTERVAL_MS} ms); client disconnects (reason, s after SIGTERM): "
        f"{outcome['disconnects']}")


def wait_exit(process: subprocess.Popen, timeout: float):
    """Seconds until `process` exited, or None if it still runs after `timeout`."""
    start = time.monotonic()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return time.monotonic() - start
