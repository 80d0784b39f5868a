"""Three `tracker serve --broker kafka --store postgres --cache redis` instances sharing one PostgreSQL 15 and one
Redis 7 (issues 11 and 12), black box, started at once (so their migrations race).

The test starts its own throw-away PostgreSQL (scripts/test-postgres), Redis (scripts/test-redis) and
Kafka-protocol cluster (`tracker kafka-mock`), then three instances on them. What one instance writes, the others
read: a route created through A is enriched from fixes posted to B and shown by both; a visit completed through A
is seen by B and C; B and C racing on one visit: exactly one wins; history written by all three is one track.
Then PostgreSQL is stopped for 30 s under load: the instances stay up,
readiness says which store is down, webhooks answer 2xx only for what is durable (or 503), and after the
database returns every acknowledged position is in history, counted with psql."""
import contextlib
import datetime
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio

from conftest import JWT_SECRET, WEBHOOK_SECRET, free_port, tracker_binary
from test_kafka import MockCluster, wait_until
from test_local_durability import body

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-output"
TENANT = "pgshared"
ENV = dict(os.environ, TRACKER_WEBHOOK_SECRET=WEBHOOK_SECRET, TRACKER_JWT_SECRET=JWT_SECRET,
           KAFKA_SESSION_TIMEOUT_MS="6000", KAFKA_HEARTBEAT_INTERVAL_MS="200")
WEBHOOK = {"Authorization": f"Bearer {WEBHOOK_SECRET}", "Content-Type": "application/json"}


class Postgres:
    """A PostgreSQL 15 cluster of this test module's own (scripts/test-postgres)."""

    def __init__(self):
        result = subprocess.run([str(ROOT / "scripts/test-postgres"), "start"], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        self.url = result.stdout.strip()
        self.dir = result.stderr.strip().splitlines()[-1]

    def psql(self, sql: str) -> str:
        return subprocess.run(["psql", self.url, "-Atqc", sql], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    def halt(self):
        subprocess.run([str(ROOT / "scripts/test-postgres"), "halt", self.dir], check=True, timeout=60)

    def resume(self):
        subprocess.run([str(ROOT / "scripts/test-postgres"), "resume", self.dir], check=True, timeout=60)

    def stop(self):
        subprocess.run([str(ROOT / "scripts/test-postgres"), "stop", self.dir], timeout=60)


class Redis:
    """A Redis 7 of this test module's own (scripts/test-redis)."""

    def __init__(self):
        result = subprocess.run([str(ROOT / "scripts/test-redis"), "start"], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        self.url = result.stdout.strip()
        self.dir = result.stderr.strip().splitlines()[-1]

    def cli(self, *args: str) -> str:
        return subprocess.run(["redis-cli", "-u", self.url, *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()

    def halt(self):
        subprocess.run([str(ROOT / "scripts/test-redis"), "halt", self.dir], check=True, timeout=60)

    def resume(self):
        subprocess.run([str(ROOT / "scripts/test-redis"), "resume", self.dir], check=True, timeout=60)

    def stop(self):
        subprocess.run([str(ROOT / "scripts/test-redis"), "stop", self.dir], timeout=60)


class Instance:
    def __init__(self, name: str, bootstrap: str, postgres_url: str, redis_url: str, extra_env: dict | None = None):
        self.name = name
        self.bootstrap = bootstrap
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix=f"tracker-pg-{name}-")
        OUT.mkdir(exist_ok=True)
        self.log = open(OUT / f"postgres-serve-{name}.log", "w")
        self.process = subprocess.Popen(
            [tracker_binary(), "serve", "--broker", "kafka", "--kafka-brokers", bootstrap, "--store", "postgres",
             "--cache", "redis", "--port", str(self.port), "--data-dir", self.data_dir],
            env=dict(ENV, TRACKER_INSTANCE_ID=name, TRACKER_POSTGRES_URL=postgres_url,
                     TRACKER_POSTGRES_POOL_SIZE="4", TRACKER_REDIS_URL=redis_url, **(extra_env or {})),
            stdout=self.log, stderr=subprocess.STDOUT)
        self.session = requests.Session()

    def wait_ready(self, timeout: float = 90) -> None:
        def ready():
            assert self.process.poll() is None, f"instance {self.name} exited with {self.process.returncode}"
            try:
                return requests.get(self.base + "/health/ready", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        wait_until(ready, timeout, f"instance {self.name} to be ready")

    def api(self, method: str, path: str, token: str, **kwargs):
        return self.session.request(method, self.base + path, headers={"Authorization": f"Bearer {token}"},
                                    timeout=15, **kwargs)

    def kill(self):
        """`kill -9`: no graceful stop, nothing flushed."""
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def mint(role: str) -> str:
    return subprocess.run([tracker_binary(), "token", "--tenant", TENANT, "--role", role], env=ENV, check=True,
                          capture_output=True, text=True, timeout=30).stdout.strip()


@contextlib.contextmanager
def three_instances(prefix: str = "", extra_env: dict | None = None):
    """A PostgreSQL, a Redis and a Kafka mock cluster of their own, and three instances on them, started at
    once; yields (postgres, redis, a, b, c) once all are ready, and stops everything after."""
    postgres = Postgres()
    redis = Redis()
    cluster = MockCluster()
    instances = [Instance(f"{prefix}{name}", cluster.bootstrap, postgres.url, redis.url, extra_env)
                 for name in ("a", "b", "c")]
    try:
        for instance in instances:
            instance.wait_ready()
        yield (postgres, redis, *instances)
    finally:
        for instance in instances:
            instance.stop()
        cluster.stop()
        redis.stop()
        postgres.stop()


@pytest.fixture(scope="module")
def shared():
    with three_instances() as trio:
        yield trio


def test_state_written_through_one_instance_is_seen_by_the_other(shared):
    postgres, redis, a, b, c = shared
    admin = mint("admin")
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    for n, lon in ((1, 13.4050), (2, 13.4150)):
        r = a.api("PUT", f"/api/customers/pg-c{n}", admin,
                  json={"name": f"Customer {n}", "latitude": 52.5200, "longitude": lon, "geofenceRadiusMeters": 50})
        assert r.status_code in (200, 201), r.text
    # Customers reach the shared read model through the change events (one CDC group for both instances).
    wait_until(lambda: {c["id"] for c in b.api("GET", "/api/customers", admin).json()} >= {"pg-c1", "pg-c2"}, 30,
               "customers written through A to be listed by B")
    r = a.api("POST", "/api/drivers", admin, json={"id": "pg-d1", "deviceId": "pg-dev-1", "name": "Ann"})
    assert r.status_code in (200, 201), r.text
    r = a.api("POST", "/api/routes", admin, json={
        "id": "pg-r1", "driverId": "pg-d1", "scheduledDate": today,
        "visits": [{"id": "pg-v1", "customerId": "pg-c1"}, {"id": "pg-v2", "customerId": "pg-c2"}]})
    assert r.status_code in (200, 201), r.text
    route = b.api("GET", "/api/routes/pg-r1", admin)
    assert route.status_code == 200, route.text
    assert [v["id"] for v in route.json()["visits"]] == ["pg-v1", "pg-v2"]

    # Fixes posted to B, 1 km south of the first customer: enriched (by whichever instance owns the partition)
    # and readable from both.
    now_ms = int(time.time() * 1000)
    for i in range(3):
        r = requests.post(b.base + "/api/traccar/positions", data=body("pg-dev-1", now_ms - 3000 + i * 1000,
                                                                       52.5110, 13.4050), headers=WEBHOOK, timeout=15)
        assert r.status_code == 200, r.text

    def enriched(instance):
        r = instance.api("GET", "/api/drivers/pg-d1/position", admin)
        if r.status_code != 200:
            return None
        p = r.json()
        return p if p.get("nextVisitId") == "pg-v1" and (p.get("distanceToNextMeters") or 0) > 900 else None
    # The three fixes are enriched one after another; the shared Redis cache (hash per driver, tenant index)
    # ends on the newest, whichever instance enriched which.
    key = f"tracker:lp:{len(TENANT)}:{TENANT}:pg-d1"
    wait_until(lambda: redis.cli("HGET", key, "t") == str(now_ms - 1000), 30,
               "the shared cache to hold the newest of the three fixes")

    def both_show_newest():
        pa, pb = enriched(a), enriched(b)
        return (pa, pb) if pa and pb and pa["fixTime"] == pb["fixTime"] and pa["etaToNext"] == pb["etaToNext"] else None
    wait_until(both_show_newest, 30, "A and B to show the same enriched position")
    assert redis.cli("ZRANGE", f"tracker:lpi:{len(TENANT)}:{TENANT}", "0", "-1") == "pg-d1"

    # A customer renamed (through A, whose local source of truth created it: each instance's `--source local` is
    # its own): one instance applies the change event (one CDC group), every instance drops its level-1 copy
    # (Redis pub/sub), so the next fix is enriched with the new name well within the 60 s that level 1 would
    # otherwise keep the old one, whichever instance enriches it.
    r = a.api("PUT", "/api/customers/pg-c1", admin, json={"name": "Customer 1 (renamed)", "latitude": 52.5200,
                                                           "longitude": 13.4050, "geofenceRadiusMeters": 50})
    assert r.status_code in (200, 201), r.text
    renamed_at = time.monotonic()

    def renamed_everywhere():
        fix = int(time.time() * 1000)
        r = requests.post(b.base + "/api/traccar/positions", data=body("pg-dev-1", fix, 52.5110, 13.4050),
                          headers=WEBHOOK, timeout=15)
        assert r.status_code == 200, r.text
        time.sleep(0.5)
        names = {i.name: (enriched(i) or {}).get("nextCustomerName") for i in (a, b, c)}
        return names if set(names.values()) == {"Customer 1 (renamed)"} else None
    wait_until(renamed_everywhere, 20, "every instance to enrich with the renamed customer")
    print(f"customer rename reached every instance's enrichment in {time.monotonic() - renamed_at:.1f} s")

    # A visit completed through A is seen by B.
    for action in ("arrive", "start", "complete"):
        r = a.api("POST", f"/api/visits/pg-v1/{action}", admin, json={})
        assert r.status_code == 200, r.text
    for other in (b, c):
        seen = {v["id"]: v["status"] for v in other.api("GET", "/api/routes/pg-r1", admin).json()["visits"]}
        assert seen == {"pg-v1": "completed", "pg-v2": "pending"}, (other.name, seen)

    # B and C racing on the same visit transition: exactly one wins, the other gets the conflict.
    results: dict[str, int] = {}
    barrier = threading.Barrier(2)

    def arrive(instance):
        barrier.wait()
        results[instance.name] = instance.api("POST", "/api/visits/pg-v2/arrive", admin, json={}).status_code
    racers = [threading.Thread(target=arrive, args=(i,)) for i in (b, c)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert sorted(results.values()) == [200, 409], results
    seen = {v["id"]: v["status"] for v in a.api("GET", "/api/routes/pg-r1", admin).json()["visits"]}
    assert seen == {"pg-v1": "completed", "pg-v2": "arrived"}, seen

    # History written by all three instances is one track, in order, read the same from each.
    start_ms = (int(time.time()) - 600) * 1000
    for i in range(21):
        target = (a, b, c)[i % 3]
        r = requests.post(target.base + "/api/traccar/positions",
                          data=body("pg-dev-1", start_ms + i * 1000, 52.5110 + i * 1e-4, 13.4050),
                          headers=WEBHOOK, timeout=15)
        assert r.status_code == 200, r.text
    expected = [start_ms + i * 1000 for i in range(21)]

    def track(instance):
        r = instance.api("GET", "/api/drivers/pg-d1/history", admin,
                         params={"from": start_ms, "to": start_ms + 60_000, "maxPoints": 1000})
        assert r.status_code == 200, r.text
        times = [datetime.datetime.fromisoformat(p["fixTime"].replace("Z", "+00:00")).timestamp() * 1000
                 for p in r.json()["points"]]
        return [int(round(t)) for t in times]
    wait_until(lambda: track(a) == expected, 30, "the 21 fixes posted to A, B and C to form one track")
    assert track(b) == expected and track(c) == expected
    rows = postgres.psql(f"SELECT count(*) FROM enriched_positions WHERE tenant_id = '{TENANT}' AND driver_id = "
                         f"'pg-d1' AND time BETWEEN to_timestamp({start_ms} / 1000.0) AND to_timestamp({start_ms + 60_000} / 1000.0)")
    assert rows == "21", rows


def test_postgres_outage_under_load_loses_no_acknowledged_position(shared):
    postgres, _, a, b, c = shared
    admin = mint("admin")
    drivers = [f"pgf-{i:02d}" for i in range(20)]
    for d in drivers:
        r = a.api("POST", "/api/drivers", admin, json={"id": d, "deviceId": f"dev-{d}", "name": d})
        assert r.status_code in (200, 201), r.text
    start_ms = (int(time.time()) - 1800) * 1000
    acknowledged: set[tuple[str, int]] = set()
    answers: dict[int, int] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def post_loop(targets, chunk):
        session = requests.Session()
        n = 0
        while not stop.is_set():
            fix = start_ms + n * 1000
            for d in chunk:
                target = targets[n % 2]
                try:
                    r = session.post(target.base + "/api/traccar/positions", data=body(f"dev-{d}", fix, 52.5, 13.4),
                                     headers=WEBHOOK, timeout=15)
                    status = r.status_code
                except requests.RequestException:
                    status = 0
                with lock:
                    answers[status] = answers.get(status, 0) + 1
                    if 200 <= status < 300:
                        acknowledged.add((d, fix))
            n += 1
            time.sleep(0.2)

    threads = [threading.Thread(target=post_loop, args=((a, b) if i % 2 else (b, a), drivers[i::4]))
               for i in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(4)
        before = len(acknowledged)
        postgres.halt()
        outage_started = time.monotonic()
        # Readiness says which store is down; both processes stay up.
        def readiness_text():
            r = requests.get(a.base + "/health/ready", timeout=5)
            return r.text if r.status_code == 503 else None  # a Response is falsy for 503: return its text
        not_ready = wait_until(readiness_text, 20, "A to report not ready")
        assert "database" in not_ready, not_ready
        while time.monotonic() - outage_started < 30:
            assert all(i.process.poll() is None for i in (a, b, c)), "an instance died during the outage"
            time.sleep(1)
        during = dict(answers)
        postgres.resume()
        wait_until(lambda: requests.get(a.base + "/health/ready", timeout=5).status_code == 200, 30,
                   "A to be ready again")
        for other in (b, c):
            wait_until(lambda: requests.get(other.base + "/health/ready", timeout=5).status_code == 200, 30,
                       f"{other.name.upper()} to be ready again")
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert before > 0, "nothing was acknowledged before the outage"
    assert set(answers) <= {200, 503}, f"answers other than 200 and 503: {answers}"

    def stored():
        rows = postgres.psql(f"SELECT driver_id, (extract(epoch from time) * 1000)::int8 FROM enriched_positions "
                             f"WHERE tenant_id = '{TENANT}' AND driver_id LIKE 'pgf-%'")
        return {(line.split("|")[0], int(line.split("|")[1])) for line in rows.splitlines() if line}
    wait_until(lambda: not (acknowledged - stored()), 90, "every acknowledged position to reach history")
    count = postgres.psql(f"SELECT count(*) FROM enriched_positions WHERE tenant_id = '{TENANT}' "
                          f"AND driver_id LIKE 'pgf-%'")
    print(f"postgres outage 30 s: {len(acknowledged)} positions acknowledged ({before} before the outage), "
          f"answers {answers} (during the outage: {during}); {count} rows in enriched_positions, 0 missing")
    assert all(i.process.poll() is None for i in (a, b, c))


def test_webhook_retry_on_other_instances_is_stored_and_enriched_once(shared):
    """Traccar resends a fix whose answer it lost; the load balancer may give each copy to another instance.
    Every copy is acknowledged, the fix is one history row and one enriched event (read back with kcat):
    the copies share the driver's partition, and enrichment skips the fix its snapshot already holds."""
    postgres, _, a, b, c = shared
    admin = mint("admin")
    r = a.api("POST", "/api/drivers", admin, json={"id": "rt-d1", "deviceId": "rt-dev-1", "name": "Retry"})
    assert r.status_code in (200, 201), r.text
    fix = int(time.time() * 1000)
    for instance in (a, b, c, b):
        r = requests.post(instance.base + "/api/traccar/positions", data=body("rt-dev-1", fix, 52.5, 13.4),
                          headers=WEBHOOK, timeout=15)
        assert r.status_code == 200, r.text

    def enriched_copies():
        result = subprocess.run(["kcat", "-b", a.bootstrap, "-C", "-t", "gps.positions.enriched", "-o", "beginning",
                                 "-e", "-q", "-f", "%k\\n"], capture_output=True, text=True, timeout=60, check=True)
        return [line for line in result.stdout.splitlines() if line == "rt-d1"]
    wait_until(lambda: enriched_copies(), 30, "the fix to be enriched")
    time.sleep(3)  # the later copies, had they been enriched, would be on the topic by now
    assert len(enriched_copies()) == 1, enriched_copies()
    rows = postgres.psql(f"SELECT count(*) FROM enriched_positions WHERE tenant_id = '{TENANT}' AND driver_id = 'rt-d1'")
    assert rows == "1", rows


def test_redis_outage_degrades_and_recovers(shared):
    """Redis stopped for 30 s under load: every instance stays ready (`degraded: ["cache"]`), webhooks keep
    being acknowledged, live pushes keep flowing (per-instance push groups), position reads fall back to the
    fleet store; after Redis returns the degradation clears and the shared cache fills again, no restart."""
    _, redis, a, b, c = shared
    admin = mint("admin")
    drivers = [f"rf-{i:02d}" for i in range(8)]
    for d in drivers:
        r = a.api("POST", "/api/drivers", admin, json={"id": d, "deviceId": f"dev-{d}", "name": d})
        assert r.status_code in (200, 201), r.text
    answers: dict[int, int] = {}
    pushes: list[float] = []
    stop = threading.Event()

    def post_loop():
        session = requests.Session()
        n = 0
        while not stop.is_set():
            fix = int(time.time() * 1000)
            for i, d in enumerate(drivers):
                target = (a, b)[(n + i) % 2]
                try:
                    status = session.post(target.base + "/api/traccar/positions",
                                          data=body(f"dev-{d}", fix, 52.5 + n * 1e-4, 13.4), headers=WEBHOOK,
                                          timeout=15).status_code
                except requests.RequestException:
                    status = 0
                answers[status] = answers.get(status, 0) + 1
            n += 1
            time.sleep(0.5)

    dashboard = socketio.Client(reconnection=False)
    dashboard.on("driver-position", lambda data: pushes.append(time.monotonic()))
    dashboard.connect(c.base, auth={"token": mint("dispatcher")}, transports=["websocket"], wait_timeout=15)
    poster = threading.Thread(target=post_loop)
    poster.start()
    try:
        wait_until(lambda: len(pushes) > 10, 30, "live pushes before the outage")
        redis.halt()
        halted = time.monotonic()

        def degraded(instance):
            r = requests.get(instance.base + "/health/ready", timeout=5)
            return r.status_code == 200 and "cache" in (r.json().get("degraded") or [])
        for instance in (a, b, c):
            wait_until(lambda: degraded(instance), 20, f"{instance.name} to report the cache degraded")
        # Position reads fall back to the fleet store's snapshot.
        r = b.api("GET", f"/api/drivers/{drivers[0]}/position", admin)
        assert r.status_code == 200, r.text
        while time.monotonic() - halted < 30:
            assert all(i.process.poll() is None for i in (a, b, c)), "an instance died during the outage"
            time.sleep(1)
        during = [t for t in pushes if halted + 5 < t < halted + 30]
        assert len(during) > 50, f"live pushes stopped during the Redis outage ({len(during)} in 25 s)"
        redis.resume()
        for instance in (a, b, c):
            wait_until(lambda: requests.get(instance.base + "/health/ready", timeout=5).json().get("degraded") is None,
                       30, f"{instance.name} to clear the degradation")
        wait_until(lambda: redis.cli("EXISTS", f"tracker:lp:{len(TENANT)}:{TENANT}:{drivers[0]}") == "1", 30,
                   "the shared latest-position cache to fill again")
    finally:
        stop.set()
        poster.join()
        dashboard.disconnect()
    assert set(answers) == {200}, f"webhook answers other than 200 during the Redis outage: {answers}"
    print(f"redis outage 30 s: {answers.get(200, 0)} webhooks acknowledged, {len(during)} live pushes to one "
          f"dashboard during the outage, degraded and recovered without a restart")


def test_migrate_command_on_postgres(shared):
    """`tracker migrate --store postgres` applies the fleet and history schemas (here: a fresh schema) and exits;
    run again it changes nothing."""
    postgres = shared[0]
    postgres.psql("CREATE SCHEMA migrate_check")
    env = dict(ENV, TRACKER_POSTGRES_URL=postgres.url, TRACKER_POSTGRES_SCHEMA="migrate_check")
    for _ in range(2):
        result = subprocess.run([tracker_binary(), "migrate", "--store", "postgres"], env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "the PostgreSQL fleet and history schemas are migrated and ready" in result.stdout, result.stdout
        assert postgres.url not in result.stdout + result.stderr, "the URL must never be logged"
    versions = postgres.psql("SELECT component || ' ' || version FROM migrate_check.schema_migrations ORDER BY 1")
    assert versions.splitlines() == ["fleet 1", "fleet 2", "fleet 3", "history 1", "history 2"], versions
