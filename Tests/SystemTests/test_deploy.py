"""Deployment files of the SQL Server change data capture (deploy/, issue 13).

- The Debezium connector registration: parsed and checked against what the tracking service's change event
  decoder reads (Sources/Application/Support/ChangeEventCodec.swift), the reference's error handling
  (../shared/reference/debezium-cdc.md section 4) and the RegexRouter's topic mapping with Java `matches()`
  semantics (Python's `re.fullmatch`).
- deploy/debezium/register-connector: run for real (sh + curl) against a fake Kafka Connect REST API on
  127.0.0.1 that records every request.
- The T-SQL scripts: lint-level structural checks only. No SQL Server runs on this machine, so nothing here
  proves the scripts execute; they check that the safeguards the DBA relies on are written in (guards before
  every CDC enable, the Agent check raising, retention, no literal password, batch separators).
- The compose stack and the image (issue 14): docker-compose.yml resolved by `docker-compose config` with a distinct
  value per required secret and checked against spec §7.1, the keys the tracker reads (Sources/Composition), the
  Traccar XML and the nginx configuration; deploy/nginx/compose.conf through `nginx -t` and through a real nginx
  in front of stand-in instances on 127.0.0.1; the Dockerfile parsed and checked against Package.swift's
  system-library targets, the shared libraries the locally built `tracker` needs (readelf, ldd, dpkg) and
  Debian 12's package lists. No Docker engine runs here: nothing builds the image or starts the stack.
"""
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONNECTOR_FILE = DEPLOY / "debezium" / "sqlserver-connector.json"
REGISTER = DEPLOY / "debezium" / "register-connector"
ENABLE_CDC = DEPLOY / "sqlserver" / "enable-cdc.sql"
INCREMENTAL = DEPLOY / "sqlserver" / "incremental-snapshot.sql"
CODEC = ROOT / "Sources" / "Application" / "Support" / "ChangeEventCodec.swift"

TABLES = ["Customers", "Accounts", "Products", "Orders"]
NAME = "tracking-sqlserver-cdc"


def registration() -> dict:
    return json.loads(CONNECTOR_FILE.read_text())


def config() -> dict:
    return registration()["config"]


# ---------------------------------------------------------------------------------------------------------------
# The connector registration
# ---------------------------------------------------------------------------------------------------------------

def test_registration_is_a_name_and_a_flat_string_config():
    document = registration()
    assert set(document) == {"name", "config"}
    assert document["name"] == NAME
    # Kafka Connect takes a map of strings: no numbers, booleans or nested objects.
    assert document["config"] and all(isinstance(v, str) for v in document["config"].values()), document["config"]


def test_produces_the_format_the_service_decodes():
    c = config()
    expected = {
        "connector.class": "io.debezium.connector.sqlserver.SqlServerConnector",
        "database.names": "TrackingDb",
        "topic.prefix": "mssql",
        "snapshot.mode": "initial",
        "snapshot.isolation.mode": "snapshot",
        "tombstones.on.delete": "true",
        "decimal.handling.mode": "string",
        "time.precision.mode": "connect",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "transforms": "unwrap,route",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.delete.tombstone.handling.mode": "rewrite-with-tombstone",
        "transforms.unwrap.add.fields": "op,table,source.ts_ms,commit_lsn,change_lsn,event_serial_no,snapshot",
        "transforms.unwrap.add.headers": "op",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": r"mssql\.TrackingDb\.dbo\.(Customers|Accounts|Products|Orders)",
        "transforms.route.replacement": "cdc.$1",
        "signal.enabled.channels": "source",
        "signal.data.collection": "TrackingDb.dbo.debezium_signal",
    }
    assert {k: c.get(k) for k in expected} == expected
    # The legacy pair would be ignored next to the new option, or conflict with it: neither may be set.
    assert "transforms.unwrap.drop.tombstones" not in c and "transforms.unwrap.delete.handling.mode" not in c
    assert int(c["incremental.snapshot.chunk.size"]) > 0
    assert int(c["heartbeat.interval.ms"]) > 0


def added_field_names(add_fields: str) -> set[str]:
    """ExtractNewRecordState's `add.fields` naming: `x` -> `__x`, `struct.x` -> `__struct_x`, `x:NEW` -> `NEW`."""
    names = set()
    for entry in add_fields.split(","):
        assert entry == entry.strip() and entry, f"add.fields entries take no spaces: {add_fields!r}"
        field, _, rename = entry.partition(":")
        names.add(rename or "__" + field.replace(".", "_"))
    return names


def test_every_metadata_field_the_decoder_reads_is_produced():
    """The `__*` fields ChangeEventCodec.swift reads or writes in code (doc comments aside) must come out of the
    connector: `__deleted` from the rewrite delete mode, the others from `add.fields`."""
    code = "\n".join(line for line in CODEC.read_text().splitlines() if not line.lstrip().startswith("//"))
    used = set(re.findall(r'"(__[a-z_]+)"', code))
    assert {"__op", "__deleted", "__commit_lsn", "__change_lsn", "__event_serial_no", "__source_ts_ms"} <= used, used
    c = config()
    produced = added_field_names(c["transforms.unwrap.add.fields"])
    if c["transforms.unwrap.delete.tombstone.handling.mode"].startswith("rewrite"):
        produced.add("__deleted")
    assert used <= produced, f"the decoder reads {sorted(used - produced)}, which the connector does not produce"
    assert "__op" in added_field_names(c["transforms.unwrap.add.headers"])  # the tombstones' operation header


def test_error_handling_fails_the_task_and_logs_with_no_dead_letter_queue_keys():
    c = config()
    assert c["errors.tolerance"] == "none"
    assert c["errors.log.enable"] == "true" and c["errors.log.include.messages"] == "true"
    dead_letter = [k for k in c if k.startswith("errors.deadletterqueue")]
    assert dead_letter == [], f"sink-only keys, ignored by a source connector: {dead_letter}"


def test_no_literal_credentials():
    c = config()
    assert re.fullmatch(r"\$\{file:/run/secrets/[^:}]+:password\}", c["database.password"]), c["database.password"]
    assert c["database.user"] == "debezium_user"
    for key, value in c.items():
        if re.search(r"password|secret|credential", key, re.I):
            assert value.startswith("${file:"), f"{key} must come from the config provider"


def java_replace_first(replacement: str, match: re.Match) -> str:
    """Java's Matcher.replaceFirst replacement syntax ($n groups) applied to a full match."""
    return re.sub(r"\$(\d)", lambda g: match.group(int(g.group(1))), replacement)


def route(topic: str) -> str:
    """Kafka's RegexRouter: `matcher.matches()` (the whole name), then `replaceFirst`; else the name unchanged."""
    c = config()
    match = re.fullmatch(c["transforms.route.regex"], topic)
    return java_replace_first(c["transforms.route.replacement"], match) if match else topic


@pytest.mark.parametrize("table", TABLES)
def test_router_maps_each_table_topic_to_its_cdc_topic(table):
    assert route(f"mssql.TrackingDb.dbo.{table}") == f"cdc.{table}"


@pytest.mark.parametrize("topic", [
    "mssql.TrackingDb.dbo.debezium_signal",    # the signal table's watermarks stay off the cdc.* topics
    "mssql.trackingdb.dbo.Customers",          # RegexRouter is case-sensitive
    "mssql.TrackingDb.dbo.customers",
    "mssql.TrackingDb.dbo.CustomersArchive",   # whole-name match, no prefix match
    "xmssql.TrackingDb.dbo.Customers",
    "mssql.TrackingDbXdboXCustomers",          # dots are escaped
    "__debezium-heartbeat.mssql",
    "schemahistory.mssql",
])
def test_router_leaves_other_topics_alone(topic):
    assert route(topic) == topic


def test_table_include_list_has_the_four_tables_and_the_signal_table():
    c = config()
    included = c["table.include.list"].split(",")
    assert included == [f"dbo.{t}" for t in TABLES] + ["dbo.debezium_signal"]
    # The signal data collection names the same table as the include list (database.schema.table).
    assert c["signal.data.collection"] == f"{c['database.names']}.dbo.debezium_signal"


def test_topic_creation_fits_the_one_broker_compose():
    c = config()
    assert c["topic.creation.default.replication.factor"] == "1"
    assert int(c["topic.creation.default.partitions"]) >= 1


# ---------------------------------------------------------------------------------------------------------------
# register-connector against a fake Kafka Connect REST API
# ---------------------------------------------------------------------------------------------------------------

class FakeConnect(http.server.ThreadingHTTPServer):
    """Answers like Kafka Connect: `GET /connectors` 404 while "starting" (the first `not_ready` requests),
    `PUT /connectors/<name>/config` 201 then 200 (or a configured error), the status 404 once then 200."""

    daemon_threads = True

    def __init__(self, not_ready=3, put_error=None, task_state="RUNNING"):
        super().__init__(("127.0.0.1", 0), FakeConnectHandler)
        self.not_ready = not_ready
        self.put_error = put_error
        self.task_state = task_state
        self.requests = []
        self.connectors = {}
        self.status_misses = {}
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self):
        self.shutdown()
        self.server_close()


class FakeConnectHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.requests.append({"method": self.command, "path": self.path, "body": body,
                                         "user_agent": self.headers.get("User-Agent", ""),
                                         "content_type": self.headers.get("Content-Type", "")})

    def do_GET(self):
        self.record()
        server = self.server
        if self.path == "/connectors":
            if server.not_ready > 0:
                server.not_ready -= 1
                return self.answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
            return self.answer(200, sorted(server.connectors))
        m = re.fullmatch(r"/connectors/([^/]+)/status", self.path)
        if m and m.group(1) in server.connectors:
            if server.status_misses.get(m.group(1), 0) < 1:
                server.status_misses[m.group(1)] = 1
                return self.answer(404, {"error_code": 404, "message": f"No status found for connector {m.group(1)}"})
            return self.answer(200, {"name": m.group(1),
                                     "connector": {"state": "RUNNING", "worker_id": "10.0.0.7:8083"},
                                     "tasks": [{"id": 0, "state": server.task_state, "worker_id": "10.0.0.7:8083",
                                                **({"trace": "org.apache.kafka.connect.errors.ConnectException: "
                                                             "Login failed for user 'debezium_user'"}
                                                   if server.task_state == "FAILED" else {})}],
                                     "type": "source"})
        return self.answer(404, {"error_code": 404, "message": f"Connector {self.path} not found"})

    def do_PUT(self):
        self.record()
        server = self.server
        m = re.fullmatch(r"/connectors/([^/]+)/config", self.path)
        if not m:
            return self.answer(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
        if server.put_error:
            return self.answer(*server.put_error)
        body = json.loads(server.requests[-1]["body"])
        created = m.group(1) not in server.connectors
        server.connectors[m.group(1)] = body
        self.answer(201 if created else 200, {"name": m.group(1), "config": body, "tasks": [], "type": "source"})


@pytest.fixture
def fake_connect():
    servers = []

    def make(**kwargs):
        server = FakeConnect(**kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def register(url, *args, attempts=20, env=None):
    environment = dict(os.environ, CONNECT_URL=url, CONNECT_WAIT_ATTEMPTS=str(attempts), CONNECT_WAIT_SECONDS="0.05",
                       **(env or {}))
    return subprocess.run(["sh", str(REGISTER), *args], env=environment, capture_output=True, text=True, timeout=30)


def test_register_script_is_executable_posix_sh():
    assert os.access(REGISTER, os.X_OK)
    assert REGISTER.read_text().startswith("#!/bin/sh\n")
    assert shutil.which("curl"), "curl is what the script uses (.ci/run installs it)"


def test_register_waits_for_connect_then_puts_the_config_idempotently(fake_connect):
    server = fake_connect(not_ready=3)
    first = register(server.url)
    assert first.returncode == 0, first.stdout + first.stderr
    second = register(server.url)
    assert second.returncode == 0, second.stdout + second.stderr

    waits = [r for r in server.requests if r["method"] == "GET" and r["path"] == "/connectors"]
    assert len(waits) == 3 + 1 + 1, "3 not-ready answers, then ready, then ready at once on the second run"
    assert first.stdout.count("not ready yet") == 3

    puts = [r for r in server.requests if r["method"] == "PUT"]
    assert [r["path"] for r in puts] == [f"/connectors/{NAME}/config"] * 2
    for put in puts:
        assert json.loads(put["body"]) == config(), "the body is the file's inner config object"
        assert put["content_type"] == "application/json"
        assert put["user_agent"].startswith("curl/"), put["user_agent"]
    assert not [r for r in server.requests if r["method"] not in ("GET", "PUT")], "no POST/DELETE: PUT only"

    assert f"connector {NAME} created" in first.stdout
    assert f"connector {NAME} updated" in second.stdout
    # The status is printed (after one 404 while the connector starts).
    for run in (first, second):
        assert '"state": "RUNNING"' in run.stdout and f"status of {NAME}" in run.stdout
    assert server.connectors == {NAME: config()}


def test_register_reports_connects_error_message_and_fails(fake_connect):
    server = fake_connect(not_ready=0,
                          put_error=(400, {"error_code": 400, "message": "Connector configuration is invalid"}))
    result = register(server.url)
    assert result.returncode != 0
    assert "Connector configuration is invalid" in result.stderr
    assert "HTTP 400" in result.stderr
    assert "status of" not in result.stdout
    assert len([r for r in server.requests if r["method"] == "PUT"]) == 1, "a 400 is final, not retried"


def test_register_warns_when_a_task_failed(fake_connect):
    # Registered (the configuration is stored and the PUT is not the problem), but the status says FAILED:
    # exit 0 (re-registering would not help) with a warning and the trace in the printed status.
    server = fake_connect(not_ready=0, task_state="FAILED")
    result = register(server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Login failed for user 'debezium_user'" in result.stdout
    assert "WARNING: the connector or one of its tasks is FAILED" in result.stderr


def test_register_gives_up_after_the_bounded_wait(fake_connect):
    server = fake_connect(not_ready=1000)
    result = register(server.url, attempts=4)
    assert result.returncode != 0
    assert "did not become ready after 4 tries" in result.stderr and "HTTP 404" in result.stderr
    assert len(server.requests) == 4 and all(r["method"] == "GET" for r in server.requests)


def test_register_waits_while_nothing_listens_yet(fake_connect):
    # A port with no server behind it (connection refused) for the whole bounded wait.
    server = fake_connect(not_ready=0)
    url = server.url
    server.close()
    result = register(url, attempts=3)
    assert result.returncode != 0
    assert result.stdout.count("not ready yet") == 2 and "did not become ready after 3 tries" in result.stderr


def test_register_reads_any_json_layout(fake_connect, tmp_path):
    """The config is cut out of the file by a JSON scanner, not by line: key order, one-line layout, braces and
    escaped quotes inside strings do not matter."""
    tricky = {"config": {"connector.class": "x", "note": "a } b { \"quoted\" , c: d", "path": "C:\\dir\\"},
              "name": "other-name"}
    path = tmp_path / "connector.json"
    path.write_text(json.dumps(tricky, separators=(",", ":")))
    server = fake_connect(not_ready=0)
    result = register(server.url, str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    put = [r for r in server.requests if r["method"] == "PUT"]
    assert [r["path"] for r in put] == ["/connectors/other-name/config"]
    assert json.loads(put[0]["body"]) == tricky["config"]


def test_register_refuses_a_file_without_a_config_object(fake_connect, tmp_path):
    path = tmp_path / "connector.json"
    path.write_text(json.dumps({"name": NAME, "configuration": {"connector.class": "x"}}))
    server = fake_connect(not_ready=0)
    result = register(server.url, str(path))
    assert result.returncode == 2 and 'no top-level "config" object' in result.stderr, result.stderr
    assert server.requests == [], "nothing is sent before the file is understood"


def test_register_runs_on_busybox_like_the_curl_image(fake_connect, tmp_path):
    """curlimages/curl is Alpine: busybox sh, awk, sed, head, tr, mktemp. Run the script with only those
    (plus curl) on the PATH."""
    assert shutil.which("busybox"), "busybox is not installed (apt busybox; .ci/run installs it)"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "awk", "sed", "head", "tr", "mktemp", "cat", "grep", "rm", "sleep", "dirname", "printf"):
        (bin_dir / tool).symlink_to(shutil.which("busybox"))
    (bin_dir / "curl").symlink_to(shutil.which("curl"))
    server = fake_connect(not_ready=2)
    environment = dict(CONNECT_URL=server.url, CONNECT_WAIT_ATTEMPTS="20", CONNECT_WAIT_SECONDS="0.05",
                       PATH=str(bin_dir))
    result = subprocess.run([str(bin_dir / "sh"), str(REGISTER)], env=environment, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    put = [r for r in server.requests if r["method"] == "PUT"]
    assert len(put) == 1 and json.loads(put[0]["body"]) == config()


# ---------------------------------------------------------------------------------------------------------------
# T-SQL scripts (lint level: no SQL Server here)
# ---------------------------------------------------------------------------------------------------------------

def batches(path: Path) -> list[str]:
    """The script's batches, split on sqlcmd's `GO` lines, with comments removed."""
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    text = "\n".join(re.sub(r"--.*$", "", line) for line in text.splitlines())
    return [b for b in re.split(r"^[ \t]*GO[ \t]*$", text, flags=re.M | re.I)]


def test_enable_cdc_guards_every_table_enable_with_is_tracked_by_cdc():
    enabled = []
    for batch in batches(ENABLE_CDC):
        calls = re.findall(r"sp_cdc_enable_table\b(.*?)(?:;|$)", batch, flags=re.S | re.I)
        if not calls:
            continue
        assert len(calls) == 1, f"one table per batch, each with its own guard:\n{batch}"
        name = re.search(r"@source_name\s*=\s*N'(\w+)'", calls[0]).group(1)
        guard = re.search(r"IF\s+NOT\s+EXISTS\s*\(\s*SELECT\s+1\s+FROM\s+sys\.tables\s+WHERE\s+object_id\s*=\s*"
                          r"OBJECT_ID\(N'dbo\.(\w+)'\)\s+AND\s+is_tracked_by_cdc\s*=\s*1\s*\)", batch, re.I)
        assert guard and guard.group(1) == name and guard.start() < batch.index("sp_cdc_enable_table"), batch
        assert re.search(r"@source_schema\s*=\s*N'dbo'", calls[0]) and re.search(r"@role_name\s*=\s*N'cdc_reader'",
                                                                                 calls[0])
        enabled.append(name)
    assert sorted(enabled) == sorted(TABLES + ["debezium_signal"])


def test_enable_cdc_database_and_objects_are_idempotent():
    text = "\n".join(batches(ENABLE_CDC))
    assert re.search(r"IF NOT EXISTS \(SELECT 1 FROM sys\.databases WHERE name = N'TrackingDb' AND is_cdc_enabled = 1\)"
                     r"\s*BEGIN\s*EXEC sys\.sp_cdc_enable_db;", text)
    assert re.search(r"IF DATABASE_PRINCIPAL_ID\(N'cdc_reader'\) IS NULL\s*BEGIN\s*CREATE ROLE cdc_reader;", text)
    assert re.search(r"IF OBJECT_ID\(N'dbo\.debezium_signal', N'U'\) IS NULL\s*BEGIN\s*CREATE TABLE dbo\.debezium_signal",
                     text)
    assert re.search(r"IF NOT EXISTS \(SELECT 1 FROM sys\.server_principals WHERE name = N'debezium_user'\)\s*BEGIN\s*"
                     r"CREATE LOGIN debezium_user", text)
    assert re.search(r"IF DATABASE_PRINCIPAL_ID\(N'debezium_user'\) IS NULL\s*BEGIN\s*CREATE USER debezium_user", text)
    assert "ALLOW_SNAPSHOT_ISOLATION ON" in text  # the connector's snapshot.isolation.mode=snapshot


def test_enable_cdc_checks_the_agent_and_raises():
    agent = [b for b in batches(ENABLE_CDC) if "SQL Server Agent" in b and "dm_server_services" in b]
    assert len(agent) == 1
    assert re.search(r"IF NOT EXISTS.*?BEGIN\s*RAISERROR\(N'SQL Server Agent is not running[^']*',\s*16,", agent[0],
                     re.S), agent[0]
    # The check comes before anything is changed, and an error stops sqlcmd.
    code = "\n".join(batches(ENABLE_CDC))
    assert code.index("dm_server_services") < code.index("CREATE LOGIN") < code.index("EXEC sys.sp_cdc_enable_db")
    assert re.search(r"^:on error exit$", code, re.M)


def test_enable_cdc_retention_is_five_days():
    text = "\n".join(batches(ENABLE_CDC))
    assert re.search(r"sp_cdc_change_job\s+@job_type\s*=\s*N'cleanup',\s*@retention\s*=\s*7200\s*;", text)
    assert re.search(r"job_type = N'cleanup' AND retention = 7200", text), "and verified"


def test_enable_cdc_password_is_a_sqlcmd_variable_only():
    text = ENABLE_CDC.read_text()
    passwords = re.findall(r"PASSWORD\s*=\s*N?'([^']*)'", "\n".join(batches(ENABLE_CDC)), re.I)
    assert passwords == ["$(DEBEZIUM_PASSWORD)"]
    assert "-v DEBEZIUM_PASSWORD=" in text  # the header says how to run it


def test_enable_cdc_user_is_read_only_with_cdc_permissions():
    text = "\n".join(batches(ENABLE_CDC))
    grants = re.findall(r"^\s*(?:GRANT|ALTER ROLE)[^;]*debezium_user", text, re.M)
    assert any("db_datareader" in g for g in grants) and any("cdc_reader" in g for g in grants)
    assert any("SCHEMA::cdc" in g for g in grants)
    writes = [g for g in grants if re.search(r"\b(INSERT|UPDATE|DELETE|db_datawriter|db_owner|CONTROL)\b", g)]
    assert writes == ["GRANT INSERT, DELETE ON dbo.debezium_signal TO debezium_user"], writes


def test_sql_scripts_have_batch_separators():
    for path in (ENABLE_CDC, INCREMENTAL):
        assert len(batches(path)) >= 3, path
        assert path.read_text().rstrip().endswith("GO"), path
        for batch in batches(path):
            code = re.sub(r"N?'(?:[^']|'')*'", "''", batch)  # string literals out
            assert code.count("(") == code.count(")"), f"unbalanced parentheses in {path.name}:\n{batch}"
            # Every END closes a BEGIN or a CASE.
            openers = len(re.findall(r"\b(?:BEGIN|CASE)\b", code, re.I))
            assert openers == len(re.findall(r"\bEND\b", code, re.I)), f"BEGIN/CASE without END:\n{batch}"
    # USE must end its batch before the statements that depend on it.
    assert re.search(r"^USE TrackingDb;\nGO$", ENABLE_CDC.read_text(), re.M)


def test_incremental_snapshot_signal():
    text = INCREMENTAL.read_text()
    code = "\n".join(batches(INCREMENTAL))
    assert "N'$(TABLES)'" in code
    assert re.search(r"INSERT INTO dbo\.debezium_signal \(id, type, data\) VALUES \(@id, 'execute-snapshot', @data\)",
                     code)
    assert '"type": "incremental"' in code and '"TrackingDb.dbo.' in code
    assert "stop-snapshot" in text  # documented in the header
    # Bad input is refused before the INSERT, which RETURN skips.
    assert code.index("RAISERROR") < code.index("INSERT INTO") and "RETURN;" in code


def test_incremental_snapshot_data_is_the_json_debezium_expects():
    """The T-SQL builds the signal's data by concatenation; rebuild it here the same way for Customers,Orders."""
    collections = ", ".join(f'"TrackingDb.dbo.{t}"' for t in ["Customers", "Orders"])
    data = '{"data-collections": [' + collections + '], "type": "incremental"}'
    assert json.loads(data) == {"data-collections": ["TrackingDb.dbo.Customers", "TrackingDb.dbo.Orders"],
                                "type": "incremental"}
    code = "\n".join(batches(INCREMENTAL))
    assert """'{"data-collections": [' + CONVERT(varchar(1000), @collections)""" in code
    assert """+ '], "type": "incremental"}'""" in code
    assert """N'"TrackingDb.dbo.' + @table + N'"'""" in code and "N', '" in code


# ---------------------------------------------------------------------------------------------------------------
# The compose stack: docker-compose.yml, deploy/traccar/traccar.xml, deploy/nginx/compose.conf (issue 14)
# ---------------------------------------------------------------------------------------------------------------

COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_DIR = DEPLOY / "nginx"
COMPOSE_NGINX = NGINX_DIR / "compose.conf"
TRACCAR_XML = DEPLOY / "traccar" / "traccar.xml"
TRACKER_API = ROOT / "Sources" / "Adapters" / "HTTP" / "TrackerAPI.swift"
COMPOSITION = ROOT / "Sources" / "Composition"

# What the stack refuses to start without (`${VAR:?message}`), each with a value of its own, so that a test can
# follow every secret to where it must arrive.
REQUIRED_VARIABLES = {
    "TRACKER_WEBHOOK_SECRET": "webhook-secret-0001",
    "TRACKER_JWT_SECRET": "jwt-secret-0002",
    "TRACCAR_DB_PASSWORD": "traccar-db-password-0003",
    "CACHE_DB_PASSWORD": "cache-db-password-0004",
    "TIMESCALE_PASSWORD": "timescale-password-0005",
    "REDIS_PASSWORD": "redis-password-0006",
    "TRACKER_SQLSERVER_ODBC": "Driver={FreeTDS};Server=sql.test;Port=1433;Database=TrackingDb;UID=u;PWD=p-0007",
}
INSTANCES = ["tracking-service-1", "tracking-service-2", "tracking-service-3"]
# Spec §7.1: service and image (kafka-ui's image has no tag in the spec: any tag of it). `tracking-service`
# (3 replicas) is INSTANCES here: one service per instance, each with its own TRACKER_INSTANCE_ID.
SPEC_SERVICES = {
    "traccar": "traccar/traccar:5.12",
    "traccar-db": "postgres:16",
    "kafka": "bitnami/kafka:3.6",
    "kafka-connect": "debezium/connect:2.5",
    "kafka-ui": "provectuslabs/kafka-ui",
    "cache-db": "postgres:16",
    "timescale": "timescale/timescaledb:latest-pg16",
    "redis": "redis:7-alpine",
    "frontend": "nginx:1.27-alpine",
}
# Where each stateful image keeps its data.
DATA_PATHS = {
    "traccar-db": "/var/lib/postgresql/data",
    "cache-db": "/var/lib/postgresql/data",
    "timescale": "/var/lib/postgresql/data",
    "kafka": "/bitnami/kafka",
    "redis": "/data",
}
# The host the limits are sized for (docker-compose.yml's header): 16 vCPU, 64 GB.
HOST_CPUS, HOST_MEMORY_GB = 16, 64


def compose(*args, env_overrides=None, drop=()):
    """`docker-compose -f docker-compose.yml ARGS` with the required variables set (minus `drop`) and nothing else
    of the caller's environment that compose would interpolate."""
    assert shutil.which("docker-compose"), "docker-compose is missing (apt docker-compose; .ci/run installs it)"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
    env.update({k: v for k, v in REQUIRED_VARIABLES.items() if k not in drop})
    env.update(env_overrides or {})
    return subprocess.run(["docker-compose", "-f", str(COMPOSE_FILE), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def load_yaml(text: str):
    # ruamel.yaml comes with check-jsonschema (.ci/run); PyYAML is not guaranteed on a fresh machine.
    from ruamel.yaml import YAML
    return YAML(typ="safe", pure=True).load(text)


@pytest.fixture(scope="module")
def stack() -> dict:
    """docker-compose.yml as compose resolves it: anchors merged, variables interpolated, paths absolute."""
    result = compose("config")
    assert result.returncode == 0, result.stderr
    return load_yaml(result.stdout)


def services(stack) -> dict:
    return stack["services"]


def environment(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def volume_mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of every mount: a named volume's name, or a bind mount's host path."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append((volume.get("source", ""), volume["target"]))
        else:
            parts = volume.split(":")
            mounts.append((parts[0], parts[1]) if len(parts) > 1 else ("", parts[0]))
    return mounts


def published_ports(service: dict) -> list[tuple[str | None, int, int]]:
    """(host address or None, published port, container port) of every published port."""
    ports = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            ports.append((port.get("host_ip"), int(port["published"]), int(port["target"])))
        else:
            spec = str(port).split("/")[0].split(":")
            host_ip = spec[0] if len(spec) == 3 else None
            ports.append((host_ip, int(spec[-2]), int(spec[-1])))
    return ports


def healthcheck_command(service: dict) -> str:
    test = (service.get("healthcheck") or {}).get("test") or []
    return " ".join(test) if isinstance(test, list) else str(test)


def api_paths() -> set[str]:
    return set(re.findall(r'APIRoute\("[A-Z]+", "([^"]+)"', TRACKER_API.read_text()))


def tracker_environment_names() -> set[str]:
    """Every environment variable the tracker reads through swift-configuration: the literal keys of Sources/Composition
    (`forKey:`, and the adapter plan's `choice(...)`) under every scope a reader is given there, `a.b.c` read as
    `A_B_C` (EnvironmentVariablesProvider). An over-approximation (any key under any scope), but a name outside it
    is certainly read by nobody."""
    keys, scopes = set(), {""}
    for path in COMPOSITION.rglob("*.swift"):
        text = path.read_text()
        keys |= set(re.findall(r'forKey: (?:ConfigKey\()?"([a-z0-9.]+)"', text))
        keys |= set(re.findall(r'\bchoice\("([a-z0-9.]+)"', text))
        scopes |= set(re.findall(r'scoped\(to: "([a-z0-9.]+)"\)', text))
    names = {".".join(p for p in (scope, key) if p).upper().replace(".", "_") for scope in scopes for key in keys}
    # The extraction itself is checked on names the README documents.
    assert {"HTTP_HOST", "TRACKER_POSTGRES_URL", "TRACKER_KAFKA_BROKERS", "TRACKER_SQLSERVER_ODBC", "TRACKER_BROKER",
            "TRACKER_PUSH_FANOUT", "TRACKER_INSTANCE_ID", "DASHBOARD_DIR", "LOG_LEVEL"} <= names, sorted(names)
    return names


def reads_kafka_passthrough() -> bool:
    """KafkaSettings hands every `KAFKA_<NAME>` variable to librdkafka as `<name>`."""
    return 'hasPrefix("KAFKA_")' in (COMPOSITION / "Configuration" / "KafkaSettings.swift").read_text()


def test_compose_services_are_the_specs(stack):
    svc = services(stack)
    assert set(svc) == set(SPEC_SERVICES) | {"connector-init"} | set(INSTANCES)
    for name, image in SPEC_SERVICES.items():
        if ":" in image:
            assert svc[name]["image"] == image, name
        else:
            assert svc[name]["image"].split(":")[0] == image, name
    for name in INSTANCES:
        assert svc[name]["image"] == "distribution-tracker:latest"
        assert Path(svc[name]["build"]["context"]).resolve() == ROOT, "the image is this repository's Dockerfile"


@pytest.mark.parametrize("variable", sorted(REQUIRED_VARIABLES))
def test_every_secret_is_required(variable):
    """Without the variable, compose stops before anything starts, naming it; no default hides it."""
    result = compose("config", "-q", drop=(variable,))
    assert result.returncode != 0 and variable in result.stdout + result.stderr, result.stdout + result.stderr
    text = COMPOSE_FILE.read_text()
    uses = re.findall(r"\$\{" + variable + r"(:?[?-]?)", text)
    assert uses and set(uses) == {":?"}, f"every use of {variable} must be ${{{variable}:?...}}: {uses}"


def test_tracking_services_are_one_definition_with_their_own_instance_id(stack):
    svc = services(stack)
    envs = [environment(svc[name]) for name in INSTANCES]
    for name, env in zip(INSTANCES, envs):
        assert env["TRACKER_INSTANCE_ID"] == name
    without_id = [{k: v for k, v in env.items() if k != "TRACKER_INSTANCE_ID"} for env in envs]
    assert without_id[0] == without_id[1] == without_id[2]
    rest = [{k: v for k, v in svc[name].items() if k != "environment"} for name in INSTANCES]
    assert rest[0] == rest[1] == rest[2]
    assert len(re.findall(r"<<: \*tracking-service\b", COMPOSE_FILE.read_text())) == 3, "one YAML anchor"


def test_tracking_services_set_only_keys_the_tracker_reads(stack):
    names = tracker_environment_names()
    for name in INSTANCES:
        unknown = [k for k in environment(services(stack)[name])
                   if k not in names and not (k.startswith("KAFKA_") and reads_kafka_passthrough())]
        assert unknown == [], f"{name} sets variables the tracker never reads: {unknown}"


def plan_cases(kind: str) -> set[str]:
    text = (COMPOSITION / "Configuration" / "AdapterPlan.swift").read_text()
    return set(re.search(r"enum " + kind + r": String[^{]*\{ case ([a-z, ]+) \}", text).group(1).split(", "))


def test_tracking_services_adapter_plan_is_one_the_tracker_accepts(stack):
    """The values against AdapterPlan's enums and its refusals, and each adapter's required setting present."""
    env = environment(services(stack)[INSTANCES[0]])
    plan = {"Broker": env["TRACKER_BROKER"], "Store": env["TRACKER_STORE"], "Cache": env["TRACKER_CACHE"],
            "Source": env["TRACKER_SOURCE"], "Fanout": env["TRACKER_PUSH_FANOUT"]}
    for kind, value in plan.items():
        assert value in plan_cases(kind), (kind, value)
    assert plan == {"Broker": "kafka", "Store": "postgres", "Cache": "redis", "Source": "sqlserver",
                    "Fanout": "redis"}, "the production topology: Kafka, PostgreSQL, Redis, SQL Server"
    # AdapterPlan.refusal: sqlserver needs kafka, redis fan-out needs the redis cache; each adapter its URL.
    assert env["TRACKER_POSTGRES_URL"] and env["TRACKER_REDIS_URL"] and env["TRACKER_KAFKA_BROKERS"]
    assert env["TRACKER_SQLSERVER_ODBC"] == REQUIRED_VARIABLES["TRACKER_SQLSERVER_ODBC"]
    assert env["TRACKER_WEBHOOK_SECRET"] == REQUIRED_VARIABLES["TRACKER_WEBHOOK_SECRET"]
    assert env["TRACKER_JWT_SECRET"] == REQUIRED_VARIABLES["TRACKER_JWT_SECRET"]
    # One broker in the stack: the tracker's topics cannot have more replicas than that.
    assert int(env["TRACKER_KAFKA_REPLICATION"]) == 1
    assert env["HTTP_HOST"] == "0.0.0.0" and env["HTTP_PORT"] == "8080"


def test_tracking_services_reach_the_stacks_services_with_their_passwords(stack):
    svc = services(stack)
    env = environment(svc[INSTANCES[0]])

    def database(variable, service):
        url = urllib.parse.urlsplit(env[variable])
        db = environment(svc[service])
        assert url.scheme in ("postgres", "postgresql") and url.hostname == service and (url.port or 5432) == 5432
        assert (url.username, url.password, url.path.lstrip("/")) == (
            db["POSTGRES_USER"], db["POSTGRES_PASSWORD"], db["POSTGRES_DB"]), variable

    database("TRACKER_POSTGRES_URL", "cache-db")
    database("TRACKER_HISTORY_URL", "timescale")
    assert environment(svc["cache-db"])["POSTGRES_PASSWORD"] == REQUIRED_VARIABLES["CACHE_DB_PASSWORD"]
    assert environment(svc["timescale"])["POSTGRES_PASSWORD"] == REQUIRED_VARIABLES["TIMESCALE_PASSWORD"]

    redis = urllib.parse.urlsplit(env["TRACKER_REDIS_URL"])
    assert redis.scheme == "redis" and redis.hostname == "redis" and redis.port == 6379
    assert redis.password == REQUIRED_VARIABLES["REDIS_PASSWORD"] == environment(svc["redis"])["REDIS_PASSWORD"]
    # The server takes its password from that variable, and the healthcheck's redis-cli too.
    command = " ".join(svc["redis"]["command"])
    assert re.search(r"requirepass %s\\n' \"\$\$?REDIS_PASSWORD\"", command), command
    assert "--appendonly yes" in command
    assert environment(svc["redis"])["REDISCLI_AUTH"] == REQUIRED_VARIABLES["REDIS_PASSWORD"]

    kafka = environment(svc["kafka"])
    assert env["TRACKER_KAFKA_BROKERS"] == kafka["KAFKA_CFG_ADVERTISED_LISTENERS"].split("PLAINTEXT://", 1)[1]
    assert kafka["KAFKA_CFG_PROCESS_ROLES"] == "broker,controller", "KRaft, no ZooKeeper"
    assert kafka["KAFKA_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    connect = environment(svc["kafka-connect"])
    assert connect["BOOTSTRAP_SERVERS"] == env["TRACKER_KAFKA_BROKERS"]
    # The image's entrypoint maps CONNECT_* only: unprefixed replication settings would be ignored.
    for topic in ("CONFIG", "OFFSET", "STATUS"):
        assert connect[f"CONNECT_{topic}_STORAGE_REPLICATION_FACTOR"] == "1"
        assert f"{topic}_STORAGE_REPLICATION_FACTOR" not in connect
    assert connect["CONNECT_CONFIG_PROVIDERS"] == "file"
    init = svc["connector-init"]
    assert environment(init)["CONNECT_URL"] == "http://kafka-connect:8083"
    assert any(Path(src) == DEPLOY / "debezium" and dst == "/deploy/debezium" for src, dst in volume_mounts(init))


def traccar_properties() -> dict:
    root = ElementTree.parse(TRACCAR_XML).getroot()
    return {entry.get("key"): (entry.text or "").strip() for entry in root.iter("entry")}


def traccar_environment_name(key: str) -> str:
    """org.traccar.config.Config.getEnvironmentVariableName (Traccar 5.12): dots to `_`, `_` before capitals, upper."""
    return re.sub(r"([A-Z])", r"_\1", key.replace(".", "_")).upper()


def test_traccar_forwards_to_the_frontend_with_the_shared_secret_and_retries(stack):
    svc = services(stack)
    props = traccar_properties()
    assert props["forward.url"] == "http://frontend:8080/api/traccar/positions"
    assert props["event.forward.url"] == "http://frontend:8080/api/traccar/events"
    assert {"/api/traccar/positions", "/api/traccar/events"} <= api_paths()
    assert props["forward.type"] == "json" and props["event.forward.type"] == "json"
    assert props["forward.retry.enable"] == "true"
    assert int(props["forward.retry.count"]) > 0 and int(props["forward.retry.limit"]) >= 1000
    # The frontend answers on that host and port.
    assert (None, 8080, 8080) in published_ports(svc["frontend"]) or any(
        target == 8080 for _, _, target in published_ports(svc["frontend"]))
    assert re.search(r"^\s*listen 8080;", COMPOSE_NGINX.read_text(), re.M)
    # Without config.default Traccar loads none of its defaults (web UI, protocol ports, schema changelog).
    assert props["config.default"] == "./conf/default.xml"


def test_traccar_secrets_come_from_the_environment_not_the_xml(stack):
    svc = services(stack)
    props = traccar_properties()
    for key in ("database.password", "forward.header", "event.forward.header"):
        assert key not in props, f"{key} is a secret: from the environment, not the XML"
    assert props["config.useEnvironmentVariables"] == "true"
    env = environment(svc["traccar"])
    bearer = "Authorization: Bearer " + REQUIRED_VARIABLES["TRACKER_WEBHOOK_SECRET"]
    assert env[traccar_environment_name("forward.header")] == bearer
    assert env[traccar_environment_name("event.forward.header")] == bearer
    assert environment(svc[INSTANCES[0]])["TRACKER_WEBHOOK_SECRET"] == REQUIRED_VARIABLES["TRACKER_WEBHOOK_SECRET"]
    # The same password as traccar-db's, and the XML's database is traccar-db's.
    db = environment(svc["traccar-db"])
    assert env[traccar_environment_name("database.password")] == db["POSTGRES_PASSWORD"] == \
        REQUIRED_VARIABLES["TRACCAR_DB_PASSWORD"]
    assert props["database.url"] == f"jdbc:postgresql://traccar-db:5432/{db['POSTGRES_DB']}"
    assert props["database.user"] == db["POSTGRES_USER"]
    assert any(Path(src) == TRACCAR_XML and dst == "/opt/traccar/conf/traccar.xml"
               for src, dst in volume_mounts(svc["traccar"]))
    assert traccar_environment_name("config.useEnvironmentVariables") == "CONFIG_USE_ENVIRONMENT_VARIABLES"


def test_stateful_services_keep_their_data_in_named_volumes(stack):
    svc = services(stack)
    declared = set(stack.get("volumes") or {})
    for name, service in svc.items():
        for source, target in volume_mounts(service):
            if source.startswith("/"):
                assert Path(source).exists(), f"{name} mounts {source}, which is not in the repository"
            elif source:
                assert source in declared, f"{name} uses volume {source}, not declared"
    for name, path in DATA_PATHS.items():
        assert any(src in declared and dst == path for src, dst in volume_mounts(svc[name])), (name, path)


# service: what its healthcheck must run (every service with a cheap check has one).
HEALTHCHECKS = {
    "traccar": "/api/server",
    "traccar-db": "pg_isready",
    "cache-db": "pg_isready",
    "timescale": "pg_isready",
    "redis": "redis-cli ping",
    "kafka": "kafka-broker-api-versions.sh",
    "kafka-connect": ":8083/",
    "kafka-ui": "/actuator/health",
    "frontend": "/health/live",
    **{name: "/health/ready" for name in INSTANCES},
}


def test_healthchecks_and_the_conditions_that_wait_for_them(stack):
    svc = services(stack)
    for name, needle in HEALTHCHECKS.items():
        assert needle in healthcheck_command(svc[name]), (name, healthcheck_command(svc[name]))
    assert {"/health/live", "/health/ready"} <= api_paths()
    for name, service in svc.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for target, spec in depends.items():
            if spec.get("condition") == "service_healthy":
                assert svc[target].get("healthcheck"), f"{name} waits for {target} to be healthy: it has no check"

    def waits(name, target, condition="service_healthy"):
        assert (svc[name].get("depends_on") or {}).get(target, {}).get("condition") == condition, (name, target)

    for name in INSTANCES:
        for target in ("kafka", "cache-db", "timescale", "redis"):
            waits(name, target)
        waits("frontend", name)
    waits("traccar", "traccar-db")
    waits("kafka-connect", "kafka")
    waits("connector-init", "kafka-connect")
    assert svc["connector-init"]["restart"] == "on-failure"


def memory_gb(value) -> float:
    value = str(value).strip().lower().rstrip("b")
    units = {"k": 1 / 1024 ** 2, "m": 1 / 1024, "g": 1.0}
    return float(value[:-1]) * units[value[-1]] if value[-1] in units else float(value) / 1024 ** 3


def test_every_service_has_resource_limits_that_fit_one_host(stack):
    cpus, memory = 0.0, 0.0
    for name, service in services(stack).items():
        limits = (((service.get("deploy") or {}).get("resources") or {}).get("limits") or {})
        assert "cpus" in limits and "memory" in limits, f"{name} has no CPU and memory limits"
        # Docker refuses a container whose `cpus` exceeds the host's cores.
        assert 0 < float(limits["cpus"]) <= 2, (name, limits)
        cpus += float(limits["cpus"])
        memory += memory_gb(limits["memory"])
    # CPU not overcommitted; at least 40 % of the memory left to the page cache Kafka and PostgreSQL rely on.
    assert cpus <= HOST_CPUS and memory <= HOST_MEMORY_GB * 0.6, (cpus, memory)
    # Every limit says where its figure comes from (§9, or why not): a comment right above it, in each service
    # and in the instances' anchor.
    text = COMPOSE_FILE.read_text()
    commented = len(re.findall(r"limits:\n(?:\s+#.*\n)+\s+cpus:", text))
    assert commented == len(services(stack)) - len(INSTANCES) + 1, commented


def test_published_ports(stack):
    svc = services(stack)
    published = {name: published_ports(service) for name, service in svc.items() if service.get("ports")}
    assert set(published) == {"frontend", "traccar", "kafka-ui"}, "databases, Kafka and instances stay internal"
    assert [(p, t) for _, p, t in published["frontend"]] == [(8080, 8080)]
    # No authentication in front of these: the host's loopback only.
    assert [h for h, _, t in published["kafka-ui"]] == ["127.0.0.1"]
    assert all(h == "127.0.0.1" for h, _, t in published["traccar"] if t == 8082)


# ---------------------------------------------------------------------------------------------------------------
# nginx: deploy/nginx/compose.conf with the shared tracker-http.conf and tracker-locations.conf
# ---------------------------------------------------------------------------------------------------------------

def nginx_blocks(text: str, kind: str) -> dict[str, str]:
    return dict(re.findall(kind + r"\s+(\S+)\s*\{([^}]*)\}", text))


def test_compose_nginx_conf_matches_the_instances_and_the_mounts(stack):
    """The structure tracker-http.conf asks of a deployment: `tracker` (every instance, keepalive),
    `tracker_socketio` (every instance, no keepalive), `tracker_<n>` (instance n, the others as backup, no
    keepalive) and the sticky map keyed on the instances' TRACKER_INSTANCE_ID."""
    svc = services(stack)
    text = COMPOSE_NGINX.read_text()
    upstreams = nginx_blocks(text, "upstream")
    port = environment(svc[INSTANCES[0]])["HTTP_PORT"]

    def servers(block):
        return [(address, " backup" if "backup" in params.split() else "")
                for address, params in re.findall(r"^\s*server\s+(\S+?)((?:\s+[^;\s]+)*);", block, re.M)]

    assert "upstream tracker_socketio" in (NGINX_DIR / "tracker-http.conf").read_text(), "the shared file's contract"
    assert set(upstreams) == {"tracker", "tracker_socketio"} | {f"tracker_{n}" for n in range(1, len(INSTANCES) + 1)}
    for pool in ("tracker", "tracker_socketio"):
        assert servers(upstreams[pool]) == [(f"{name}:{port}", "") for name in INSTANCES], pool
    assert re.search(r"keepalive \d+;", upstreams["tracker"])
    assert [name for name, block in upstreams.items() if "keepalive" in block] == ["tracker"], \
        "no keepalive on a Socket.IO upstream: the tracker upgrades to WebSocket on a connection's first request only"
    sticky = {}
    for n, name in enumerate(INSTANCES, start=1):
        block = servers(upstreams[f"tracker_{n}"])
        assert block[0] == (f"{name}:{port}", ""), "the instance itself first, not as backup"
        assert sorted(block[1:]) == sorted((f"{other}:{port}", " backup") for other in INSTANCES if other != name)
        sticky[environment(svc[name])["TRACKER_INSTANCE_ID"]] = f"tracker_{n}"
    mapping = re.search(r"map \$cookie_tracker_instance \$tracker_sticky \{([^}]*)\}", text).group(1)
    entries = dict(re.findall(r"^\s*(\S+)\s+(\S+);", mapping, re.M))
    assert entries == {"default": "tracker_socketio", **sticky}
    # The includes are the frontend's mounts of the shared files, compose.conf is the image's default.conf.
    mounts = {dst: Path(src) for src, dst in volume_mounts(svc["frontend"])}
    assert mounts["/etc/nginx/conf.d/default.conf"] == COMPOSE_NGINX
    includes = re.findall(r"^\s*include\s+(\S+);", text, re.M)
    assert includes == ["/etc/nginx/tracker/tracker-http.conf", "/etc/nginx/tracker/tracker-locations.conf"]
    for path in includes:
        assert mounts[path] == NGINX_DIR / Path(path).name and mounts[path].exists()
    # The locations inside the server that listens on the frontend's port.
    assert re.search(r"server \{[^}]*listen 8080;[^}]*include /etc/nginx/tracker/tracker-locations\.conf;", text)


def nginx_test_config(directory: Path, replace_upstream, listen: str = "8080") -> Path:
    """deploy/nginx/ copied into `directory` with a minimal nginx.conf around compose.conf: pid, logs and temp paths
    inside the directory; the shared files' include path pointed at the copy. nginx resolves upstream host names
    at load, and `tracking-service-N` exists only on the compose network: `replace_upstream` maps each instance's
    `name:port` to a loopback address."""
    shared = directory / "tracker"
    shared.mkdir()
    for name in ("tracker-http.conf", "tracker-locations.conf"):
        shutil.copy(NGINX_DIR / name, shared / name)
    text = COMPOSE_NGINX.read_text().replace("/etc/nginx/tracker/", f"{shared}/")
    text = re.sub(r"\b(tracking-service-\d+):(\d+)\b", lambda m: replace_upstream(m.group(1), m.group(2)), text)
    text = re.sub(r"^(\s*)listen 8080;", rf"\1listen {listen};", text, flags=re.M)
    (directory / "compose.conf").write_text(text)
    temp = "\n".join(f"    {kind}_temp_path {directory}/{kind}_temp;"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx's workers switch to `user`, which must exist (Debian's nginx package creates www-data).
    user = "user www-data;\n" if os.geteuid() == 0 else ""
    conf = directory / "nginx.conf"
    conf.write_text(f"""{user}pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{
    worker_connections 256;
}}
http {{
    access_log {directory}/access.log;
{temp}
    include {directory}/compose.conf;
}}
""")
    return conf


def require_nginx() -> str:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    assert nginx, "nginx is missing (apt nginx; .ci/run installs it)"
    return nginx


def test_nginx_accepts_the_compose_configuration():
    nginx = require_nginx()
    directory = Path(tempfile.mkdtemp(prefix="tracker-nginx-t-"))
    try:
        conf = nginx_test_config(directory, lambda name, port: f"127.0.0.1:{port}")
        command = [nginx, "-t", "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log")]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert "test is successful" in result.stderr
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class StandInInstance(http.server.ThreadingHTTPServer):
    """A tracking service instance as nginx sees it: answers everything with its name in X-Tracker-Instance and in
    the body, and counts the paths it was asked for."""

    daemon_threads = True

    def __init__(self, name: str):
        super().__init__(("127.0.0.1", 0), StandInHandler)
        self.name = name
        self.paths = []
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def close(self):
        self.shutdown()
        self.server_close()


class StandInHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.paths.append(self.path)
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("X-Tracker-Instance", self.server.name)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, cookie: str | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers={"Cookie": f"tracker_instance={cookie}"} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace"), dict(error.headers)


def test_nginx_routes_sticky_sessions_to_their_instance_and_fails_over():
    """compose.conf and the shared files run for real, in front of three stand-in instances on 127.0.0.1 (their
    host names replaced by loopback ports): a new Socket.IO session gets the answering instance's cookie, a session
    with a cookie stays on its instance, everything else is spread, /metrics is not published, and a session whose
    instance is gone lands on another one."""
    nginx = require_nginx()
    instances = {name: StandInInstance(name) for name in INSTANCES}
    directory = Path(tempfile.mkdtemp(prefix="tracker-nginx-"))
    # As root the workers run as www-data, which must reach the temp paths.
    directory.chmod(0o755)
    port = free_loopback_port()
    process = None
    try:
        conf = nginx_test_config(directory, lambda name, _: f"127.0.0.1:{instances[name].port}",
                                 listen=f"127.0.0.1:{port}")
        process = subprocess.Popen([nginx, "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log"),
                                    "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)

        # A new session: any instance, and the cookie naming it.
        status, body, headers = get(base + "/socket.io/?EIO=4&transport=polling")
        assert status == 200 and body in INSTANCES
        cookie = headers.get("Set-Cookie", "")
        assert cookie.startswith(f"tracker_instance={body};") and "Path=/socket.io/" in cookie, cookie

        # A session's requests stay on its instance.
        for name in INSTANCES:
            answers = {get(base + "/socket.io/?EIO=4&transport=polling&sid=x", cookie=name)[1] for _ in range(6)}
            assert answers == {name}
        # An unknown cookie and everything outside /socket.io/: spread over the instances.
        assert {get(base + "/socket.io/?EIO=4", cookie="gone")[1] for _ in range(9)} == set(INSTANCES)
        spread = [get(base + "/api/drivers")[1] for _ in range(9)]
        assert set(spread) == set(INSTANCES), spread
        # Metrics stay on the instances' own addresses.
        before = sum(len(i.paths) for i in instances.values())
        assert get(base + "/metrics")[0] == 404
        assert sum(len(i.paths) for i in instances.values()) == before

        # The session's instance is gone: another one answers (its dashboards recover there).
        instances["tracking-service-2"].close()
        for _ in range(4):
            status, body, _ = get(base + "/socket.io/?EIO=4&transport=polling&sid=x", cookie="tracking-service-2")
            assert status == 200 and body in ("tracking-service-1", "tracking-service-3")
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for name, instance in instances.items():
            if name != "tracking-service-2":
                instance.close()
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# The Dockerfile and .dockerignore
# ---------------------------------------------------------------------------------------------------------------

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PACKAGE = ROOT / "Package.swift"

# The C library each system-library target links (module.modulemap `link`), with Debian 12's -dev package (build
# stage) and the package of its shared object (runtime stage). test_c_library_packages_are_debians checks this
# table against dpkg where the -dev packages are installed (CI installs them all).
C_LIBRARIES = {
    "sqlite3": ("libsqlite3-dev", "libsqlite3-0"),
    "rdkafka": ("librdkafka-dev", "librdkafka1"),
    "pq": ("libpq-dev", "libpq5"),
    "odbc": ("unixodbc-dev", "libodbc2"),
    "hiredis": ("libhiredis-dev", "libhiredis0.14"),
}
# In every Debian image (Priority: required), so not installed by name: glibc and libgcc.
BASE_LIBRARIES = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1",
                  "libgcc_s.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}


def dockerfile_stages() -> list[dict]:
    """The Dockerfile's stages: image, name and (instruction, arguments) with continuations joined."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    assert not current, "a continuation runs off the end"
    stages = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            stages.append({"image": m.group(1), "name": m.group(2), "instructions": []})
        else:
            assert stages, f"{instruction} before FROM"
            stages[-1]["instructions"].append((instruction.upper(), " ".join(args.split())))
    return stages


def stage(name: str | None) -> dict:
    stages = dockerfile_stages()
    return stages[-1] if name is None else next(s for s in stages if s["name"] == name)


def instructions(st: dict, kind: str) -> list[str]:
    return [args for instruction, args in st["instructions"] if instruction == kind]


def apt_packages(st: dict) -> set[str]:
    packages = set()
    for run in instructions(st, "RUN"):
        for command in re.split(r"&&|;|\|\|", run):
            words = command.split()
            if words[:2] == ["apt-get", "install"]:
                packages |= {w for w in words[2:] if not w.startswith("-")}
    return packages


def env_settings(st: dict) -> dict:
    settings = {}
    for args in instructions(st, "ENV"):
        for word in shlex.split(args):
            key, _, value = word.partition("=")
            settings[key] = value
    return settings


def system_libraries() -> list[dict]:
    text = PACKAGE.read_text()
    blocks = re.findall(r"\.systemLibrary\((.*?)\n\s*\),", text, re.S)
    assert len(blocks) == text.count(".systemLibrary("), "every system-library target parsed"
    libraries = []
    for body in blocks:
        path = ROOT / re.search(r'path: "([^"]+)"', body).group(1)
        apt = re.search(r"\.apt\(\[([^\]]*)\]\)", body)
        libraries.append({
            "name": re.search(r'name: "(\w+)"', body).group(1),
            "links": re.findall(r'^\s*link "([^"]+)"', (path / "module.modulemap").read_text(), re.M),
            "apt": re.findall(r'"([^"]+)"', apt.group(1)) if apt else [],
            "pkg_config": bool(re.search(r"pkgConfig:", body)),
        })
    return libraries


def test_dockerfile_stages_and_swift_version():
    stages = dockerfile_stages()
    assert [(s["image"].split(":")[0], s["name"]) for s in stages] == [
        ("swift", "build"), ("debian", "dashboard"), ("debian", None)]
    assert stages[1]["image"] == "debian:bookworm" and stages[2]["image"] == "debian:bookworm-slim"
    tag = re.fullmatch(r"swift:(\d+)\.(\d+)(?:\.\d+)?-bookworm", stages[0]["image"])
    assert tag, "the build stage is Debian 12, as the runtime"
    image = (int(tag.group(1)), int(tag.group(2)))

    def tools(path: Path):
        m = re.match(r"// swift-tools-version:\s*(\d+)\.(\d+)", path.read_text())
        return (int(m.group(1)), int(m.group(2)))

    assert image >= tools(PACKAGE)
    # The dependencies as resolved by the last build here: the image's compiler must read their manifests.
    checkouts = sorted((ROOT / ".build" / "checkouts").glob("*/Package.swift"))
    if checkouts:
        newest = max(checkouts, key=tools)
        assert image >= tools(newest), f"{newest.parent.name} needs swift-tools-version {tools(newest)}"


def test_every_c_library_has_its_dev_package_at_build_and_its_runtime_package_at_run():
    libraries = system_libraries()
    links = {link for library in libraries for link in library["links"]}
    assert links == set(C_LIBRARIES), "a new system-library target: add it to C_LIBRARIES and the Dockerfile"
    build, runtime = apt_packages(stage("build")), apt_packages(stage(None))
    for library in libraries:
        for link in library["links"]:
            dev, run = C_LIBRARIES[link]
            if library["apt"]:
                assert library["apt"] == [dev], (library["name"], library["apt"])
            assert dev in build, f"{library['name']}: {dev} missing from the build stage"
            assert run in runtime, f"{library['name']}: {run} missing from the runtime stage"
    assert "pkg-config" in build and any(library["pkg_config"] for library in libraries)
    assert not {dev for dev, _ in C_LIBRARIES.values()} & runtime, "no headers in the runtime image"


def dpkg_owner(path: str) -> str | None:
    result = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return result.stdout.split(":", 1)[0].strip()


def test_c_library_packages_are_debians():
    """The table against this Debian 12 machine: lib<name>.so (the link-time symlink) is the -dev package's, the
    shared object it points to the runtime package's."""
    if not shutil.which("dpkg"):
        pytest.skip("not a Debian machine")
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("gcc") else "x86_64-linux-gnu"
    checked = 0
    for link, (dev, run) in C_LIBRARIES.items():
        symlink = Path("/usr/lib") / multiarch / f"lib{link}.so"
        if not symlink.exists():
            continue
        assert dpkg_owner(str(symlink)) == dev, symlink
        assert dpkg_owner(str(symlink.resolve())) == run, symlink.resolve()
        checked += 1
    if os.environ.get("CI"):
        assert checked == len(C_LIBRARIES), ".ci/run installs every -dev package"
    elif not checked:
        pytest.skip("no -dev package installed here")


def test_runtime_image_has_every_shared_library_the_tracker_needs():
    """The locally built `tracker`'s direct dependencies (readelf NEEDED), found with ldd, mapped to Debian packages
    with dpkg: each comes from a runtime package of the Dockerfile, the Swift runtime's from the toolchain (linked
    statically in the image: --static-swift-stdlib), glibc's and libgcc's from the base image."""
    from conftest import production_binary
    try:
        binary = production_binary()
    except RuntimeError:
        pytest.skip("tracker is not built here")
    if not (shutil.which("readelf") and shutil.which("ldd") and shutil.which("dpkg")):
        pytest.skip("readelf, ldd and dpkg are needed")
    dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", binary], capture_output=True,
                                                                       text=True).stdout, re.M))
    runtime = apt_packages(stage(None))
    toolchain = Path(shutil.which("swiftc") or "/nonexistent/bin/swiftc").resolve().parents[1]
    swift_runtime = re.compile(r"lib(swift|Foundation|_Foundation|_FoundationICU|dispatch|BlocksRuntime)")
    missing, from_packages = [], set()
    for library in needed:
        if library in BASE_LIBRARIES:
            continue
        path = resolved.get(library)
        assert path and path != "not", f"{library} is not found on this machine"
        if Path(path).resolve().is_relative_to(toolchain) or (swift_runtime.match(library) and not dpkg_owner(path)):
            continue  # the Swift runtime: static in the image
        package = dpkg_owner(str(Path(path).resolve())) or dpkg_owner(path)
        assert package, f"{library} ({path}) belongs to no Debian package"
        package = package.split(":")[0]
        from_packages.add(package)
        if package not in runtime:
            missing.append(f"{library} ({package})")
    assert missing == [], f"the runtime stage lacks: {missing}"
    # And the binary does link every C library of the table (a stale build would not).
    assert {run for _, run in C_LIBRARIES.values()} <= from_packages, f"{binary} links {sorted(from_packages)}"


def test_dockerfile_packages_exist_in_debian_12():
    """Every apt package of the three stages is known to apt here (Debian 12, as the bookworm images)."""
    if not shutil.which("apt-cache"):
        pytest.skip("no apt here")
    packages = set().union(*(apt_packages(s) for s in dockerfile_stages()))
    result = subprocess.run(["apt-cache", "policy", *sorted(packages)], capture_output=True, text=True)
    candidates = dict(re.findall(r"^(\S+):\n\s+Installed: .*\n\s+Candidate: (.+)$", result.stdout, re.M))
    if not candidates:
        pytest.skip("apt's package lists are empty (apt-get update)")
    unknown = sorted(p for p in packages if candidates.get(p, "(none)") == "(none)")
    assert unknown == [], f"not in Debian 12: {unknown}"


def test_dockerfile_builds_the_release_tracker_with_its_resources():
    runs = " ".join(instructions(stage("build"), "RUN"))
    assert "swift build -c release --product tracker --static-swift-stdlib" in runs
    # Bundle.module looks for the resource bundles next to the executable.
    assert 'cp -R "$bin"/*.resources /staging/' in runs and 'cp "$bin/tracker" /staging/' in runs
    assert re.search(r"resources: \[", PACKAGE.read_text()), "a target has resources: the bundles are needed"
    assert "--from=build /staging/ /usr/local/bin/" in " ".join(instructions(stage(None), "COPY"))
    # Everything COPY takes from the context exists (and is let in by .dockerignore's entries below).
    for st in dockerfile_stages():
        for args in instructions(st, "COPY"):
            if not args.startswith("--from"):
                for source in args.split()[:-1]:
                    assert (ROOT / source).exists(), source


def test_dockerfile_builds_the_dashboard_into_the_image():
    dashboard = stage("dashboard")
    assert "scripts/build-dashboard" in " ".join(instructions(dashboard, "RUN"))
    script = (ROOT / "scripts" / "build-dashboard").read_text()
    packages = apt_packages(dashboard)
    for tool in ("esbuild", "unzip"):
        assert f"command -v {tool}" in script and tool in packages
    assert "python3 -m pip download" in script and "python3-pip" in packages and "ca-certificates" in packages
    runtime = stage(None)
    copies = [args for args in instructions(runtime, "COPY") if args.startswith("--from=dashboard")]
    assert len(copies) == 1
    source, target = copies[0].split()[1:]
    assert source == "/src/Dashboard/dist" and instructions(dashboard, "WORKDIR") == ["/src"]
    assert env_settings(runtime)["DASHBOARD_DIR"] == target
    assert "DASHBOARD_DIR" in tracker_environment_names()


def test_dockerfile_runtime_user_data_directory_and_health():
    runtime = stage(None)
    env = env_settings(runtime)
    names = tracker_environment_names()
    assert set(env) - {"SWIFT_BACKTRACE"} <= names, "the image sets only keys the tracker reads"
    assert env["HTTP_HOST"] == "0.0.0.0" and instructions(runtime, "EXPOSE") == [env["HTTP_PORT"]] == ["8080"]
    # A non-root user with a fixed uid that owns the data directory, which is a volume.
    runs = " ".join(instructions(runtime, "RUN"))
    uid = re.search(r"useradd [^&]*--uid (\d+)[^&]* tracker\b", runs)
    assert uid and int(uid.group(1)) >= 1000 and re.search(r"groupadd [^&]*--gid \d+ tracker\b", runs)
    assert instructions(runtime, "USER") == ["tracker:tracker"]
    data = env["TRACKER_DATA_DIR"]
    assert instructions(runtime, "VOLUME") == [f'["{data}"]']
    assert f"chown tracker:tracker {data}" in runs
    order = [i for i, _ in runtime["instructions"]]
    assert order.index("USER") < order.index("VOLUME") and order.index("RUN") < order.index("VOLUME")
    # Liveness through curl (installed), on a route the tracker has; the compose stack checks readiness.
    health = instructions(runtime, "HEALTHCHECK")
    assert len(health) == 1 and "/health/live" in health[0] and "/health/live" in api_paths()
    assert "curl" in apt_packages(runtime)
    assert instructions(runtime, "CMD") == ['["tracker", "serve"]']
    # FreeTDS for tracker.source=sqlserver, checked at build time to be registered as {FreeTDS}.
    assert "tdsodbc" in apt_packages(runtime) and "odbcinst -q -d -n FreeTDS" in runs


def test_dockerignore_keeps_build_output_data_and_secrets_out():
    entries = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for entry in (".build", ".build-*", ".build_*", "data", "test-output", "Dashboard/.cache", "Dashboard/dist",
                  ".git", "Package.resolved", "Tests/SystemTests/.cache"):
        assert entry in entries, entry
    # Nothing the Dockerfile copies is ignored.
    for st in dockerfile_stages():
        for args in instructions(st, "COPY"):
            if not args.startswith("--from"):
                for source in args.split()[:-1]:
                    assert source.rstrip("/") not in entries, source
