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
"""
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
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
