"""Local mode on SQLite: kill -9 mid-load loses nothing that was acknowledged, and restarts continue.

Black box: a real `tracker serve --data-dir`, a real HTTP client posting Traccar webhooks, SIGKILL."""
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import requests

from conftest import JWT_SECRET, WEBHOOK_SECRET, free_port, tracker_binary

ENV = dict(os.environ, TRACKER_WEBHOOK_SECRET=WEBHOOK_SECRET, TRACKER_JWT_SECRET=JWT_SECRET)


class Server:
    def __init__(self, data_dir: Path, log_name: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        out = Path(__file__).resolve().parents[2] / "test-output"
        out.mkdir(exist_ok=True)
        self.log = open(out / log_name, "w")
        self.process = subprocess.Popen(
            [tracker_binary(), "serve", "--data-dir", str(data_dir), "--port", str(self.port)],
            env=ENV, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited with {self.process.returncode}"
            try:
                if requests.get(self.base + "/health/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError("server not ready")

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.log.close()


def token(role: str = "admin", tenant: str = "durable") -> str:
    return subprocess.run([tracker_binary(), "token", "--tenant", tenant, "--role", role], env=ENV, check=True,
                          capture_output=True, text=True).stdout.strip()


def body(device: str, fix_ms: int, lat: float, lon: float) -> str:
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(fix_ms / 1000)) + f".{fix_ms % 1000:03d}+00:00"
    return json.dumps({"position": {"id": 0, "attributes": {"batteryLevel": 80.0}, "deviceId": 1,
                                    "protocol": "osmand", "fixTime": iso, "valid": True, "latitude": lat,
                                    "longitude": lon, "speed": 20.0, "course": 90.0},
                       "device": {"id": 1, "uniqueId": device, "name": device}})


def history(base: str, auth: dict, driver: str, start_ms: int, end_ms: int) -> list:
    r = requests.get(f"{base}/api/drivers/{driver}/history", headers=auth, timeout=10,
                     params={"from": start_ms, "to": end_ms, "maxPoints": 10000})
    assert r.status_code == 200, r.text
    return r.json()["points"]


def test_kill9_mid_load_loses_no_acknowledged_position(tmp_path):
    data = tmp_path / "data"
    server = Server(data, "durability-1.log")
    server.wait_ready()
    auth = {"Authorization": f"Bearer {token()}"}
    drivers = [f"dur-{i}" for i in range(4)]
    for d in drivers:
        r = requests.post(server.base + "/api/drivers", headers=auth, timeout=10,
                          json={"id": d, "deviceId": f"dev-{d}", "name": d})
        assert r.status_code in (200, 201), r.text

    start_ms = (int(time.time()) - 3600) * 1000
    acknowledged: dict[str, set[int]] = {d: set() for d in drivers}
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {WEBHOOK_SECRET}", "Content-Type": "application/json"}

    def post_loop(driver: str) -> None:
        session = requests.Session()
        n = 0
        while not stop.is_set() and n < 2000:
            fix = start_ms + n * 1000
            try:
                r = session.post(server.base + "/api/traccar/positions", data=body(f"dev-{driver}", fix, 52.5, 13.4 + n * 1e-5),
                                 headers=headers, timeout=5)
                if 200 <= r.status_code < 300:
                    acknowledged[driver].add(fix)
            except requests.RequestException:
                return  # the server is gone
            n += 1

    threads = [threading.Thread(target=post_loop, args=(d,)) for d in drivers]
    for t in threads:
        t.start()
    time.sleep(4)
    server.kill9()  # mid-load: posts are in flight
    stop.set()
    for t in threads:
        t.join()
    total = sum(len(v) for v in acknowledged.values())
    assert total > 100, f"only {total} positions acknowledged before the kill"

    restarted = Server(data, "durability-2.log")
    try:
        restarted.wait_ready()
        # Re-send a few acknowledged positions: Traccar's retries must not create duplicates.
        for d in drivers:
            for fix in sorted(acknowledged[d])[:20]:
                r = requests.post(restarted.base + "/api/traccar/positions", data=body(f"dev-{d}", fix, 52.5, 13.4),
                                  headers=headers, timeout=5)
                assert 200 <= r.status_code < 300, r.text
        deadline = time.monotonic() + 60
        missing = {}
        while time.monotonic() < deadline:
            missing = {}
            for d in drivers:
                points = history(restarted.base, auth, d, start_ms, start_ms + 3_000_000)
                times = [p["fixTime"] for p in points]
                assert len(times) == len(set(times)), f"duplicate history rows for {d}"
                stored = {int(_epoch_ms(t)) for t in times}
                lost = acknowledged[d] - stored
                if lost:
                    missing[d] = len(lost)
            if not missing:
                break
            time.sleep(1)
        print(f"acknowledged {total} positions before kill -9; lost after restart: {sum(missing.values())}")
        assert not missing, f"acknowledged positions missing after restart: {missing}"
        # The drivers survived too.
        r = requests.get(restarted.base + "/api/drivers", headers=auth, timeout=10)
        assert {d["id"] for d in r.json()} >= set(drivers)
    finally:
        restarted.stop()


def _epoch_ms(iso: str) -> int:
    from datetime import datetime
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_foreign_or_corrupt_file_is_refused_and_left_untouched(tmp_path):
    foreign = tmp_path / "other-app.sqlite"
    with sqlite3.connect(foreign) as db:  # a valid SQLite database of another application
        db.execute("PRAGMA application_id = 1234")
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)")
        db.execute("INSERT INTO invoices VALUES (1, '9.99')")
    for name, content in [("corrupt", os.urandom(8192)), ("foreign", foreign.read_bytes())]:
        data = tmp_path / name
        data.mkdir()
        target = data / "tracker.sqlite"
        target.write_bytes(content)
        before = hashlib.sha256(target.read_bytes()).hexdigest()
        port = free_port()
        result = subprocess.run([tracker_binary(), "serve", "--data-dir", str(data), "--port", str(port)],
                                env=ENV, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0, f"{name}: the server started on a {name} file"
        message = (result.stdout + result.stderr).lower()
        assert "tracker.sqlite" in message, message
        assert hashlib.sha256(target.read_bytes()).hexdigest() == before, f"{name}: the file was modified"
