"""Starts a real `tracker demo` for the black-box system tests."""
import os
import socket
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "system-test-webhook-secret"
JWT_SECRET = "system-test-jwt-secret-0123456789abcdef"


def _binary(variable: str, name: str) -> str:
    configured = os.environ.get(variable)
    if configured:
        return configured
    for config in ("release", "debug"):
        candidate = ROOT / ".build" / config / name
        if candidate.exists():
            return str(candidate)
    raise RuntimeError(f"build it first: swift build --product {name}")


def tracker_binary() -> str:
    """`tracker-dev`: the production commands plus demo, simulate, kafka-mock, socketio-conformance."""
    return _binary("TRACKER_BIN", "tracker-dev")


def production_binary() -> str:
    """`tracker`: the production binary (serve, migrate, token)."""
    return _binary("TRACKER_PROD_BIN", "tracker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    """`tracker demo --drivers N` on a free port with fresh SQLite files; restartable on the same port and data
    directory (`terminate()` then `start()`)."""

    def __init__(self, drivers: int, log_name: str = "system-demo.log", extra_env: dict | None = None,
                 extra_args: list[str] | None = None):
        self.drivers = drivers
        self.extra_args = extra_args or []
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, TRACKER_WEBHOOK_SECRET=WEBHOOK_SECRET, TRACKER_JWT_SECRET=JWT_SECRET,
                        **(extra_env or {}))
        # The dashboard served at / (built by scripts/build-dashboard; test_dashboard.py drives it).
        self.env.setdefault("DASHBOARD_DIR", str(ROOT / "Dashboard" / "dist"))
        out_dir = ROOT / "test-output"
        out_dir.mkdir(exist_ok=True)
        self.log_path = out_dir / log_name
        self.log = open(self.log_path, "w")
        self.started = time.monotonic()
        # Local mode's default: SQLite files in a fresh data directory.
        self.data_dir = tempfile.mkdtemp(prefix="tracker-demo-")
        self.binary = tracker_binary()
        self.process = None
        self.start()
        self.token = self.mint("dispatcher")

    def start(self) -> None:
        self.log.write(f"\n===== starting tracker demo at {time.strftime('%H:%M:%S')}\n")
        self.log.flush()
        self.process = subprocess.Popen(
            [self.binary, "demo", "--drivers", str(self.drivers), "--port", str(self.port),
             "--data-dir", self.data_dir, *self.extra_args],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tracker demo exited with {self.process.returncode}; see {self.log_path}")
            try:
                if requests.get(self.base + "/health/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"tracker demo not ready after {timeout} s; see {self.log_path}")

    def mint(self, role: str, tenant: str = "demo", subject: str | None = None) -> str:
        args = [self.binary, "token", "--tenant", tenant, "--role", role]
        if subject:
            args += ["--subject", subject]
        return subprocess.run(args, env=self.env, check=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()

    def get(self, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.get(self.base + path, headers=headers, timeout=10, **kwargs)

    def post(self, path: str, body=None, token: str | None = None):
        return requests.post(self.base + path, json=body if body is not None else {}, timeout=10,
                             headers={"Authorization": f"Bearer {token or self.token}"})

    def terminate(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.terminate()
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def demo():
    # 50 positions per webhook request: the in-process load generator (an HTTP client in a debug build) would
    # otherwise take about half of the 2 cores that the tracker's own pipeline is measured on here.
    d = Demo(drivers=int(os.environ.get("SYSTEM_TEST_DRIVERS", "1000")), extra_args=["--batch", "50"])
    yield d
    d.stop()
