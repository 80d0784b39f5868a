"""Schemathesis against the OpenAPI description a real `tracker-dev demo` serves at /openapi.yaml (issue 16).

Every check schemathesis has (server errors, status codes, content types, response schemas and headers, invalid
data accepted, valid data refused, authentication ignored, unsupported methods, ...) on every operation, with the
API token (an admin JWT of the demo tenant) and the webhook secret, in both generation modes; any finding fails
the test. The examples per operation are bounded (SCHEMATHESIS_MAX_EXAMPLES, default 100) and the seed fixed
(SCHEMATHESIS_SEED), so a run is repeatable and takes about a minute here; a new seed explores further, and
SCHEMATHESIS_EXTRA passes more options (`--continue-on-failure` to list every failing case, not the first per
operation). The log and JUnit/NDJSON reports go to test-output/.

openapi_fuzz_hooks.py makes *valid* generated cases obey what no schema can say (existing references, unique
sequence numbers, ordered ranges, a fix that is not from the future); the rules themselves are in the description
and tested in Tests/HTTPTests.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, WEBHOOK_SECRET, Demo

HOOKS = Path(__file__).with_name("openapi_fuzz_hooks.py")
CONFIG = """
[auth.openapi.bearerJWT]
bearer = "${TRACKER_FUZZ_TOKEN}"

[auth.openapi.webhookSecret]
bearer = "${TRACKER_FUZZ_SECRET}"
"""


@pytest.fixture(scope="module")
def fuzz_demo():
    # A small fleet: the demo's own simulator stays out of the way of the requests measured here.
    d = Demo(drivers=5, log_name="openapi-fuzz-demo.log")
    yield d
    d.stop()


def test_schemathesis_finds_nothing(fuzz_demo, tmp_path):
    out_dir = ROOT / "test-output"
    out_dir.mkdir(exist_ok=True)
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    env = dict(
        os.environ,
        SCHEMATHESIS_HOOKS=str(HOOKS),
        TRACKER_FUZZ_BASE=fuzz_demo.base,
        TRACKER_FUZZ_TOKEN=fuzz_demo.mint("admin"),
        TRACKER_FUZZ_SECRET=WEBHOOK_SECRET,
    )
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", fuzz_demo.base + "/openapi.yaml",
        "--checks", "all",
        "--mode", "all",
        "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "100"),
        "--seed", os.environ.get("SCHEMATHESIS_SEED", "16"),
        "--generation-database", "none",
        "--workers", "1",
        *os.environ.get("SCHEMATHESIS_EXTRA", "").split(),
        "--request-timeout", "30",
        "--report", "junit,ndjson",
        "--report-dir", str(out_dir / "schemathesis"),
    ]
    started = time.monotonic()
    result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - started
    log = out_dir / "schemathesis.log"
    log.write_text(result.stdout + result.stderr)
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-80:])
    print(f"schemathesis ran {elapsed:.0f} s (exit {result.returncode}); full output in {log}")
    assert result.returncode == 0, f"schemathesis found problems (full output: {log}):\n{tail}"
