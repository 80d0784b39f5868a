"""`tracker serve --broker kafka` against a Kafka-protocol cluster (`tracker kafka-mock`), black box.

Two tracker instances share the cluster. Webhooks are posted over HTTP; what reached Kafka is read back with
kcat (keys, headers, JSON, partitions); how the two instances shared the work is read from their Prometheus
metrics: the enrichment consumer group splits the partitions, each instance's push group receives every
enriched position. Finally a python-socketio client on each instance proves that both push every enriched
position, whichever instance enriched it, to their own sockets."""
import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import socketio

from conftest import JWT_SECRET, WEBHOOK_SECRET, free_port, tracker_binary

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-output"
PARTITIONS = 12
DRIVERS = 20
# Short group timings so joins and rebalances take a fraction of a second (passed through to librdkafka).
ENV = dict(os.environ, TRACKER_WEBHOOK_SECRET=WEBHOOK_SECRET, TRACKER_JWT_SECRET=JWT_SECRET,
           KAFKA_SESSION_TIMEOUT_MS="6000", KAFKA_HEARTBEAT_INTERVAL_MS="200")


def fnv1a64_partition(key: str, partitions: int) -> int:
    """The tracker's Partitioner (ADR 0002): FNV-1a 64 over the key's UTF-8 bytes, modulo the partitions."""
    h = 0xcbf29ce484222325
    for b in key.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h % partitions


class MockCluster:
    def __init__(self):
        OUT.mkdir(exist_ok=True)
        self.log = open(OUT / "kafka-mock.log", "w")
        self.process = subprocess.Popen(
            [tracker_binary(), "kafka-mock", "--brokers", "3", "--partitions", str(PARTITIONS)],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.bootstrap = self.process.stdout.readline().strip()
        assert re.fullmatch(r"(127\.0\.0\.1:\d+,){2}127\.0\.0\.1:\d+", self.bootstrap), self.bootstrap

    def consume(self, topic: str) -> list[dict]:
        """Every message of `topic` as kcat's JSON envelope (key, headers, payload, partition, offset)."""
        result = subprocess.run(
            ["kcat", "-b", self.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-J", "-q"],
            capture_output=True, text=True, timeout=60, check=True)
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


class Instance:
    def __init__(self, name: str, bootstrap: str):
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix=f"tracker-kafka-{name}-")
        self.log = open(OUT / f"kafka-serve-{name}.log", "w")
        self.process = subprocess.Popen(
            [tracker_binary(), "serve", "--broker", "kafka", "--kafka-brokers", bootstrap, "--port", str(self.port),
             "--data-dir", self.data_dir],
            env=dict(ENV, TRACKER_INSTANCE_ID=name), stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"instance {self.name} exited with {self.process.returncode}"
            try:
                if requests.get(self.base + "/health/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"instance {self.name} not ready")

    def metric(self, name: str, **labels: str) -> float:
        """The value of one Prometheus sample (0 when absent)."""
        text = requests.get(self.base + "/metrics", timeout=5).text
        for line in text.splitlines():
            if not line.startswith(name + "{"):
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name):line.rindex("}") + 1]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def simulate(self, *args: str) -> str:
        seed = []
        if "--no-seed" not in args:
            admin = subprocess.run([tracker_binary(), "token", "--tenant", "demo", "--role", "admin"], env=ENV,
                                   check=True, capture_output=True, text=True).stdout.strip()
            seed = ["--token", admin]
        result = subprocess.run(
            [tracker_binary(), "simulate", "--url", self.base, *seed, "--secret", WEBHOOK_SECRET,
             "--drivers", str(DRIVERS), *args], env=ENV, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stderr + result.stdout

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def kafka_pair():
    cluster = MockCluster()
    a = Instance("a", cluster.bootstrap)
    b = Instance("b", cluster.bootstrap)
    try:
        a.wait_ready()
        b.wait_ready()

        # Both instances joined: enrichment partitions split between them, each push group owns all partitions.
        def settled():
            enrich = [i.metric("tracker_kafka_assigned_partitions", group="tracker-enrichment",
                               topic="gps.positions") for i in (a, b)]
            push = [i.metric("tracker_kafka_assigned_partitions", group=f"tracker-push-{i.name}",
                             topic="gps.positions.enriched") for i in (a, b)]
            return sum(enrich) == PARTITIONS and min(enrich) > 0 and push == [PARTITIONS, PARTITIONS]
        wait_until(settled, 60, "consumer groups to settle")
        # The same deterministic tenant (customers, drivers, routes) in both instances' stores.
        a.simulate("--duration", "1s")
        b.simulate("--duration", "1s")
        started_ms = int(time.time() * 1000)
        posted = a.simulate("--no-seed", "--duration", "6s")
        yield cluster, a, b, started_ms, posted
    finally:
        for instance in (a, b):
            instance.stop()
        cluster.stop()


def headers_of(message: dict) -> dict:
    h = message.get("headers") or []
    return dict(zip(h[0::2], h[1::2]))


def test_raw_positions_on_kafka(kafka_pair):
    cluster, _, _, started_ms, posted = kafka_pair
    ok = int(re.search(r"(\d+) ok", posted).group(1))
    assert ok >= DRIVERS * 5, posted
    messages = cluster.consume("gps.positions")
    recent = [m for m in messages if json.loads(m["payload"])["fixTime"] >= started_ms]
    assert len(recent) >= ok, f"{len(recent)} raw positions on Kafka for {ok} accepted webhooks"
    for m in messages:
        assert re.fullmatch(r"drv-\d{4}", m["key"]), m
        assert m["partition"] == fnv1a64_partition(m["key"], PARTITIONS), m
        assert headers_of(m) == {"tenant-id": "demo", "event-type": "position", "schema-version": "1",
                                 "content-type": "application/json"}, m
        body = json.loads(m["payload"])
        assert body["driverId"] == m["key"] and body["tenantId"] == "demo"
        assert isinstance(body["latitude"], float) and isinstance(body["longitude"], float)
    print(f"gps.positions: {len(messages)} messages, {len(recent)} from the measured run ({ok} webhooks 2xx)")


def test_enriched_positions_on_kafka(kafka_pair):
    cluster, a, b, started_ms, _ = kafka_pair
    raw = {(m["key"], json.loads(m["payload"])["fixTime"]) for m in cluster.consume("gps.positions")}
    measured = {r for r in raw if r[1] >= started_ms}

    def enriched_all():
        enriched = cluster.consume("gps.positions.enriched")
        keys = {(m["key"], json.loads(m["payload"])["fixTime"]) for m in enriched}
        return enriched if measured <= keys else None
    enriched = wait_until(enriched_all, 30, "every measured raw position to be enriched")
    for m in enriched:
        assert re.fullmatch(r"drv-\d{4}", m["key"]), m
        assert m["partition"] == fnv1a64_partition(m["key"], PARTITIONS), m
        assert headers_of(m) == {"tenant-id": "demo", "event-type": "enriched-position", "schema-version": "1",
                                 "content-type": "application/json"}, m
        body = json.loads(m["payload"])
        assert body["driverId"] == m["key"] and body["tenantId"] == "demo"
        assert body["routeId"] and body["nextVisitId"] and body["distanceToNextMeters"] >= 0, body
        assert (m["key"], body["fixTime"]) in raw, "an enriched position without its raw position"
    print(f"gps.positions.enriched: {len(enriched)} messages cover all {len(measured)} measured raw positions")


def test_two_instances_split_enrichment_and_both_push_everything(kafka_pair):
    cluster, a, b, _, _ = kafka_pair
    total_raw = len(cluster.consume("gps.positions"))
    # Enrichment: one shared group; each instance owns some partitions and handled some positions.
    wait_until(lambda: sum(i.metric("tracker_kafka_delivered_messages_total", group="tracker-enrichment",
                                    topic="gps.positions") for i in (a, b)) >= total_raw, 30,
               "enrichment to consume every raw position")
    assigned = {i.name: i.metric("tracker_kafka_assigned_partitions", group="tracker-enrichment",
                                 topic="gps.positions") for i in (a, b)}
    consumed = {i.name: i.metric("tracker_kafka_delivered_messages_total", group="tracker-enrichment",
                                 topic="gps.positions") for i in (a, b)}
    print(f"enrichment partitions {assigned}, raw positions consumed {consumed} of {total_raw}")
    assert sum(assigned.values()) == PARTITIONS and min(assigned.values()) >= 1
    assert min(consumed.values()) > 0, "both instances enrich"

    # Push: each instance's own group (startAtEnd, joined before the first webhook) sees every enriched position.
    def pushed_everything():
        total = len(cluster.consume("gps.positions.enriched"))
        pushed = {i.name: i.metric("tracker_kafka_delivered_messages_total", group=f"tracker-push-{i.name}",
                                   topic="gps.positions.enriched") for i in (a, b)}
        return (total, pushed) if all(v == total for v in pushed.values()) else None
    total, pushed = wait_until(pushed_everything, 30, "both push groups to receive every enriched position")
    print(f"enriched positions {total}; received by push groups {pushed}")
    assert total > 0


# --------------------------------------------------------------------------------------------- Socket.IO

CONNECT_TIMEOUT = 15  # python-socketio's wait_timeout; generous for slow CI


class FeedClient:
    """An unmodified python-socketio `AsyncClient` that records the events it receives."""

    def __init__(self, name: str):
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, tuple]] = []
        self.disconnects: list = []

        async def on_any(event, *args):
            self.events.append((event, args))

        async def on_disconnect(*reason):
            self.disconnects.append(reason)

        self.sio.on("*", on_any)
        self.sio.on("disconnect", on_disconnect)

    def named(self, name: str) -> list[tuple]:
        return [args for e, args in self.events if e == name]

    async def wait_for(self, condition, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            assert not self.disconnects, f"socket on instance {self.name} disconnected: {self.disconnects}"
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out after {timeout} s waiting for {what} on instance {self.name}")


def test_both_instances_push_every_enriched_position_to_their_sockets(kafka_pair):
    """Issue 6: "both push every enriched position to their own sockets", with real sockets.

    A dispatcher socket (no `batchMs`: one `driver-position` per fix) is connected to each instance before the
    positions are posted to instance b only; enrichment is split between a and b (shared group), and each
    socket must receive a `driver-position` for every position either instance enriched."""
    cluster, a, b, _, _ = kafka_pair
    token = subprocess.run([tracker_binary(), "token", "--tenant", "demo", "--role", "dispatcher"], env=ENV,
                           check=True, capture_output=True, text=True, timeout=30).stdout.strip()

    def enriched_by(instance) -> float:
        return instance.metric("tracker_kafka_delivered_messages_total", group="tracker-enrichment",
                               topic="gps.positions")

    async def scenario():
        # Different transports on purpose: websocket only on a, python's default (polling, then upgrade) on b.
        clients = {"a": FeedClient("a"), "b": FeedClient("b")}
        try:
            await clients["a"].sio.connect(a.base, auth={"token": token}, transports=["websocket"],
                                           wait_timeout=CONNECT_TIMEOUT)
            await clients["b"].sio.connect(b.base, auth={"token": token}, wait_timeout=CONNECT_TIMEOUT)
            # initial-state is the gateway's last step of a connect: the socket is in the tenant's live room.
            for c in clients.values():
                await c.wait_for(lambda c=c: c.named("initial-state"), 15, "initial-state")

            enriched_before = {i.name: enriched_by(i) for i in (a, b)}
            started_ms = int(time.time() * 1000)
            posted = await asyncio.to_thread(b.simulate, "--no-seed", "--duration", "5s")
            ok = int(re.search(r"(\d+) ok", posted).group(1))
            assert ok >= DRIVERS * 4, posted

            # Every position of this run is on gps.positions and has been enriched (kcat, as the tests above).
            raw = {(m["key"], json.loads(m["payload"])["fixTime"])
                   for m in await asyncio.to_thread(cluster.consume, "gps.positions")}
            measured = {r for r in raw if r[1] >= started_ms}
            assert len(measured) >= ok, f"{len(measured)} raw positions on Kafka for {ok} accepted webhooks"
            expected: set = set()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                enriched = await asyncio.to_thread(cluster.consume, "gps.positions.enriched")
                expected = {(m["key"], json.loads(m["payload"])["fixTime"]) for m in enriched}
                expected = {e for e in expected if e[1] >= started_ms}
                if measured <= expected:
                    break
                await asyncio.sleep(0.5)
            assert measured <= expected, f"{len(measured - expected)} raw positions of this run never enriched"
            enriched_delta = {i.name: enriched_by(i) - enriched_before[i.name] for i in (a, b)}
            assert min(enriched_delta.values()) > 0, f"enrichment not split in this run: {enriched_delta}"

            def received(c: FeedClient) -> set:
                return {(p["driverId"], p["fixTime"]) for (p, *_) in c.named("driver-position")
                        if p["fixTime"] >= started_ms}
            for c in clients.values():
                await c.wait_for(lambda c=c: received(c) >= expected, 30,
                                 f"a driver-position for each of the {len(expected)} enriched positions")
            await asyncio.sleep(1)  # anything still in flight: a socket must not get positions Kafka never had
            for name, c in clients.items():
                got = received(c)
                assert got == expected, (f"instance {name}: {len(expected - got)} enriched positions not pushed, "
                                         f"{len(got - expected)} pushed that were never enriched; e.g. "
                                         f"{sorted(expected - got)[:3]} {sorted(got - expected)[:3]}")
                assert not c.named("driver-positions"), "a client without batchMs got driver-positions batches"
                assert not c.disconnects, c.disconnects
            counts = {n: len([p for (p, *_) in c.named("driver-position") if p["fixTime"] >= started_ms])
                      for n, c in clients.items()}
            print(f"{ok} webhooks to b, {len(expected)} enriched positions (enriched by a/b: {enriched_delta}); "
                  f"driver-position events per socket {counts}, each covering all {len(expected)}")
        finally:
            for c in clients.values():
                if c.sio.connected:
                    await c.sio.disconnect()

    asyncio.run(asyncio.wait_for(scenario(), 120))
