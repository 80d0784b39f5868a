"""Black-box conformance of `tracker socketio-conformance` with Engine.IO v4 and Socket.IO v5.

The checks of the official protocol test suites (socketio/engine.io-protocol and socketio/socket.io-protocol,
`test-suite/`), translated to EIO=4 framing (`\\x1e`-joined polling payloads, no length prefixes, server-sent
heartbeat), plus the python-socketio 5.x `AsyncClient` in its three transport modes. Reference:
../shared/reference/socketio-protocol.md §1-§3. The server runs with pingInterval 300 ms, pingTimeout 200 ms,
maxPayload 1e6, CORS `*` and connectTimeout 1 s.
"""
import asyncio
import base64
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket

from conftest import ROOT, free_port, tracker_binary

PING_INTERVAL = 0.3
PING_TIMEOUT = 0.2
MAX_PAYLOAD = 1_000_000
CONNECT_TIMEOUT = 1.0
HTTP_TIMEOUT = 5
SEP = "\x1e"
HANDSHAKE_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


# --------------------------------------------------------------------------------------------- server


class ConformanceServer:
    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        out_dir = ROOT / "test-output"
        out_dir.mkdir(exist_ok=True)
        self.log_path = out_dir / "socketio-conformance.log"
        self.log = open(self.log_path, "w")
        binary = tracker_binary()
        deadline = time.monotonic() + 120  # the binary may be relinked by a concurrent build
        while not Path(binary).exists() and time.monotonic() < deadline:
            time.sleep(2)
        self.process = subprocess.Popen(
            [binary, "socketio-conformance", "--port", str(self.port), "--host", "127.0.0.1"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"socketio-conformance exited with {self.process.returncode}; see {self.log_path}")
            try:
                r = requests.get(self.base + "/engine.io/?EIO=4&transport=polling", timeout=2)
                if r.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"socketio-conformance not ready after {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def server():
    s = ConformanceServer()
    yield s
    s.stop()
    assert s.process.returncode in (0, -15), f"server exited with {s.process.returncode}; see {s.log_path}"


# --------------------------------------------------------------------------------------------- helpers


class Polling:
    """Raw HTTP long-polling on one endpoint (`/engine.io/` or `/socket.io/`)."""

    def __init__(self, server, path: str):
        self.url = f"{server.base}{path}"
        self.sid = None

    def params(self, **extra):
        p = {"EIO": "4", "transport": "polling"}
        if self.sid:
            p["sid"] = self.sid
        p.update(extra)
        return p

    def handshake(self) -> dict:
        r = requests.get(self.url, params={"EIO": "4", "transport": "polling"}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.text.startswith("0"), r.text
        value = json.loads(r.text[1:])
        self.sid = value["sid"]
        return value

    def get(self, timeout=HTTP_TIMEOUT, **extra) -> requests.Response:
        return requests.get(self.url, params=self.params(**extra), timeout=timeout)

    def post(self, body, timeout=HTTP_TIMEOUT, headers=None) -> requests.Response:
        headers = headers or {"Content-Type": "text/plain;charset=UTF-8"}
        if isinstance(body, str):
            body = body.encode()
        return requests.post(self.url, params=self.params(), data=body, headers=headers, timeout=timeout)

    def get_async(self, **extra):
        """Starts a GET in a thread; returns a function giving its response (or raising its exception)."""
        result = {}

        def run():
            try:
                result["response"] = self.get(**extra)
            except Exception as e:  # noqa: BLE001 - re-raised in the caller
                result["error"] = e

        thread = threading.Thread(target=run, daemon=True)
        thread.start()

        def join(timeout=HTTP_TIMEOUT + 1):
            thread.join(timeout)
            assert not thread.is_alive(), "GET still pending"
            if "error" in result:
                raise result["error"]
            return result["response"]

        return join

    def get_packets(self, timeout=HTTP_TIMEOUT, skip_pings=True) -> list[str]:
        """One GET, answered pings (`2` → POST `3`) removed when skip_pings."""
        r = self.get(timeout=timeout)
        assert r.status_code == 200, (r.status_code, r.text)
        packets = r.text.split(SEP)
        if skip_pings:
            if "2" in packets:
                assert self.post("3").status_code == 200
            packets = [p for p in packets if p != "2"]
        return packets

    def collect(self, count: int, timeout: float = 3) -> list[str]:
        """GETs until `count` non-ping packets arrived (pings are answered)."""
        deadline = time.monotonic() + timeout
        packets = []
        while len(packets) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"only {packets} after {timeout} s"
            packets += self.get_packets(timeout=max(remaining, 0.5))
        return packets


def assert_json_error(response: requests.Response, code: int):
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body


class WS:
    """A raw WebSocket: text frames as str, binary frames as bytes; server pings answered unless told."""

    def __init__(self, server, path: str = "/engine.io/", query: str = "EIO=4&transport=websocket"):
        self.ws = websocket.create_connection(f"{server.ws_base}{path}?{query}", timeout=HTTP_TIMEOUT)
        self.closed = False

    def send(self, data):
        if isinstance(data, (bytes, bytearray)):
            self.ws.send_binary(bytes(data))
        else:
            self.ws.send(data)

    def recv(self, timeout: float = 2, answer_pings: bool = True):
        """The next frame that is not a server ping (pings answered with `3`) when answer_pings."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no WebSocket frame within {timeout} s")
            self.ws.settimeout(remaining)
            try:
                opcode, data = self.ws.recv_data()
            except websocket.WebSocketTimeoutException:
                raise AssertionError(f"no WebSocket frame within {timeout} s") from None
            except (websocket.WebSocketConnectionClosedException, ConnectionError) as e:
                self.closed = True
                raise AssertionError(f"WebSocket closed while waiting for a frame: {e!r}") from None
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closed = True
                raise AssertionError("WebSocket closed while waiting for a frame")
            if opcode == websocket.ABNF.OPCODE_TEXT:
                text = data.decode()
                if answer_pings and text == "2":
                    self.ws.send("3")
                    continue
                return text
            return bytes(data)

    def recv_many(self, count: int, timeout: float = 2) -> list:
        deadline = time.monotonic() + timeout
        return [self.recv(max(deadline - time.monotonic(), 0.01)) for _ in range(count)]

    def wait_closed(self, timeout: float, answer_pings: bool = True) -> list:
        """Reads until the server closes; returns the frames received meanwhile. Fails after timeout."""
        deadline = time.monotonic() + timeout
        frames = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"WebSocket still open after {timeout} s; frames meanwhile {frames!r}")
            self.ws.settimeout(remaining)
            try:
                opcode, data = self.ws.recv_data()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
                self.closed = True
                return frames
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closed = True
                return frames
            if opcode == websocket.ABNF.OPCODE_TEXT:
                text = data.decode()
                if answer_pings and text == "2":
                    self.ws.send("3")
                    continue
                frames.append(text)
            else:
                frames.append(bytes(data))

    def assert_open_for(self, duration: float):
        """Answers pings for `duration` s; fails if the server closes or sends anything but pings."""
        started = time.monotonic()
        deadline = started + duration
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.ws.settimeout(remaining)
            try:
                opcode, data = self.ws.recv_data()
            except websocket.WebSocketTimeoutException:
                return
            except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as e:
                pytest.fail(f"WebSocket closed after {time.monotonic() - started:.3f} s: {e!r}")
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                pytest.fail(f"WebSocket closed by the server after {time.monotonic() - started:.3f} s")
            assert opcode == websocket.ABNF.OPCODE_TEXT and data == b"2", f"unexpected frame {data!r}"
            self.ws.send("3")

    def close(self):
        try:
            self.ws.close(timeout=0.5)
        except Exception:  # noqa: BLE001 - best effort
            pass


@pytest.fixture
def ws_factory(server):
    sockets = []

    def make(path="/engine.io/", query="EIO=4&transport=websocket"):
        s = WS(server, path, query)
        sockets.append(s)
        return s

    yield make
    for s in sockets:
        s.close()


def open_engine_ws(ws_factory, path="/engine.io/") -> tuple["WS", dict]:
    s = ws_factory(path)
    first = s.recv(answer_pings=False)
    assert isinstance(first, str) and first.startswith("0"), first
    return s, json.loads(first[1:])


def open_socketio(ws_factory, connect="40") -> "WS":
    """initSocketIOConnection of the official suite: EIO handshake, `40`, CONNECT reply, `auth` event."""
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    s.send(connect)
    reply = s.recv()
    assert reply.startswith("40{"), reply
    auth = s.recv()
    assert auth.startswith('42["auth",'), auth
    return s


def assert_handshake(value: dict, upgrades: list):
    assert set(value) == HANDSHAKE_KEYS, value
    assert isinstance(value["sid"], str) and len(value["sid"]) == 20, value["sid"]
    assert all(c.isalnum() or c in "-_" for c in value["sid"]), value["sid"]
    assert value["upgrades"] == upgrades
    assert value["pingInterval"] == 300
    assert value["pingTimeout"] == 200
    assert value["maxPayload"] == MAX_PAYLOAD


def assert_ws_refused(server, path: str, query: str):
    """A bad WebSocket handshake: HTTP 400 (node's abortUpgrade) instead of 101."""
    try:
        s = websocket.create_connection(f"{server.ws_base}{path}?{query}", timeout=HTTP_TIMEOUT)
    except websocket.WebSocketBadStatusException as e:
        assert e.status_code == 400, e
        return
    try:
        s.settimeout(2)
        data = s.recv()
        pytest.fail(f"WebSocket {query} was accepted (101) and sent {data!r}; expected HTTP 400")
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        pytest.fail(f"WebSocket {query} was accepted (101) then closed; expected HTTP 400")
    except websocket.WebSocketTimeoutException:
        pytest.fail(f"WebSocket {query} was accepted (101) and stayed open; expected HTTP 400")
    finally:
        s.close()


PATHS = ["/engine.io/", "/socket.io/"]


# =============================================================================================== Engine.IO
# -------------------------------------------------------------------------------------------- handshake


@pytest.mark.parametrize("path", PATHS)
def test_polling_handshake(server, path):
    r = requests.get(f"{server.base}{path}", params={"EIO": "4", "transport": "polling"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].lower().replace(" ", "") == "text/plain;charset=utf-8", r.headers
    assert r.text.startswith("0"), r.text
    assert SEP not in r.text
    assert_handshake(json.loads(r.text[1:]), ["websocket"])


@pytest.mark.parametrize("path", PATHS)
def test_polling_handshake_ignores_cache_buster(server, path):
    r = requests.get(f"{server.base}{path}", params={"EIO": "4", "transport": "polling", "t": "Nx3kq1a"},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert_handshake(json.loads(r.text[1:]), ["websocket"])


def test_sids_are_unique(server):
    sids = {Polling(server, "/engine.io/").handshake()["sid"] for _ in range(20)}
    assert len(sids) == 20


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", ["transport=polling", "EIO=abc&transport=polling", "EIO=3&transport=polling",
                                   "EIO=5&transport=polling"])
def test_polling_bad_eio_is_400_code_5(server, path, query):
    r = requests.get(f"{server.base}{path}?{query}", timeout=HTTP_TIMEOUT)
    assert_json_error(r, 5)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", ["EIO=4", "EIO=4&transport=abc", "EIO=4&transport="])
def test_polling_bad_transport_is_400_code_0(server, path, query):
    r = requests.get(f"{server.base}{path}?{query}", timeout=HTTP_TIMEOUT)
    assert_json_error(r, 0)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_polling_handshake_with_bad_method_is_400_code_2(server, path, method):
    r = requests.request(method, f"{server.base}{path}?EIO=4&transport=polling", data=b"40",
                         headers={"Content-Type": "text/plain;charset=UTF-8"}, timeout=HTTP_TIMEOUT)
    assert_json_error(r, 2)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_polling_unknown_sid_is_400_code_1(server, path, method):
    r = requests.request(method, f"{server.base}{path}?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA",
                         data=b"4hello" if method == "POST" else None, timeout=HTTP_TIMEOUT)
    assert_json_error(r, 1)


@pytest.mark.parametrize("path", PATHS)
def test_websocket_handshake(ws_factory, path):
    s = ws_factory(path)
    first = s.recv(answer_pings=False)
    assert isinstance(first, str) and first.startswith("0"), first
    assert_handshake(json.loads(first[1:]), [])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", ["transport=websocket", "EIO=abc&transport=websocket", "EIO=3&transport=websocket",
                                   "EIO=4", "EIO=4&transport=abc"])
def test_websocket_bad_query_is_refused(server, path, query):
    assert_ws_refused(server, path, query)


def test_websocket_unknown_sid_is_refused(server):
    try:
        s = websocket.create_connection(
            f"{server.ws_base}/engine.io/?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA", timeout=HTTP_TIMEOUT)
    except websocket.WebSocketBadStatusException as e:
        assert e.status_code == 400, e
        return
    w = WS.__new__(WS)
    w.ws, w.closed = s, False
    frames = w.wait_closed(2, answer_pings=False)
    assert not any(isinstance(f, str) and f.startswith("0") for f in frames), frames
    w.close()


# ------------------------------------------------------------------------------------- polling messages


@pytest.mark.parametrize("body", ["4hello", f"4test1{SEP}4test2{SEP}4test3", f"4hello{SEP}bAQIDBA==",
                                  f"bAQIDBA=={SEP}4{SEP}4é ☃ 😀{SEP}b"])
def test_polling_echo(server, body):
    p = Polling(server, "/engine.io/")
    p.handshake()
    r = p.post(body)
    assert r.status_code == 200, r.text
    assert r.text == "ok"
    assert r.headers["Content-Type"].lower().replace(" ", "").startswith("text/"), r.headers
    assert p.collect(len(body.split(SEP))) == body.split(SEP)


def test_polling_get_response_headers(server):
    p = Polling(server, "/engine.io/")
    p.handshake()
    assert p.post("4x").status_code == 200
    r = p.get()
    assert r.status_code == 200
    assert r.headers["Content-Type"].lower().replace(" ", "") == "text/plain;charset=utf-8", r.headers


def test_polling_get_is_held_until_packets_exist(server):
    """A GET with nothing to send is held (until the ping after pingInterval), not answered empty."""
    p = Polling(server, "/engine.io/")
    p.handshake()
    pending = p.get_async()
    time.sleep(0.1)
    assert p.post("4late").status_code == 200
    r = pending()
    assert r.status_code == 200
    assert r.text.split(SEP)[0] == "4late", r.text


def test_polling_python_content_type(server):
    """python-engineio POSTs `text/plain` without charset."""
    p = Polling(server, "/engine.io/")
    p.handshake()
    assert p.post("4py", headers={"Content-Type": "text/plain"}).status_code == 200
    assert p.collect(1) == ["4py"]


@pytest.mark.parametrize("body", ["abc", "4hello\x1eabc", "8", ""])
def test_polling_invalid_body_closes_session(server, body):
    p = Polling(server, "/engine.io/")
    p.handshake()
    try:
        r = p.post(body)
        assert r.status_code == 400, (r.status_code, r.text)
    except requests.ConnectionError:
        pass  # closing the request abruptly is acceptable
    r = p.get(timeout=2)
    assert_json_error(r, 1)


def test_polling_duplicate_get_closes_session(server):
    p = Polling(server, "/engine.io/")
    p.handshake()
    first = p.get_async()
    time.sleep(0.05)
    second = p.get(t="burst")
    assert second.status_code == 400, (second.status_code, second.text)
    r = first()
    assert r.status_code == 200
    assert r.text == "1"
    third = p.get()
    assert_json_error(third, 1)


def test_polling_concurrent_post_closes_session(server):
    p = Polling(server, "/engine.io/")
    p.handshake()
    body = b"4slow-body"
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=HTTP_TIMEOUT)
    try:
        raw.sendall(f"POST /engine.io/?EIO=4&transport=polling&sid={p.sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body[:3])
        time.sleep(0.05)  # the first POST is in flight, its body incomplete
        r = p.post("4fast", timeout=2)
        assert r.status_code == 400, (r.status_code, r.text)
        raw.sendall(body[3:])
    finally:
        raw.close()
    assert_json_error(p.get(timeout=2), 1)


def test_polling_get_carries_at_most_16_packets(server):
    """python-engineio aborts on polling payloads of more than 16 packets; everything still arrives in order."""
    p = Polling(server, "/engine.io/")
    p.handshake()
    sent = [f"4m{i}" for i in range(50)]
    assert p.post(SEP.join(sent)).status_code == 200
    got = []
    deadline = time.monotonic() + 3
    while len(got) < len(sent) and time.monotonic() < deadline:
        packets = p.get_packets(timeout=2)
        assert len(packets) <= 16, f"{len(packets)} packets in one GET"
        got += packets
    assert got == sent


def test_polling_payload_too_large_is_413(server):
    p = Polling(server, "/engine.io/")
    p.handshake()
    try:
        r = p.post("4" + "a" * MAX_PAYLOAD, timeout=10)
        assert r.status_code == 413, (r.status_code, r.text[:200])
    except requests.ConnectionError as e:
        pytest.fail(f"connection aborted instead of 413: {e!r}")


def test_polling_payload_at_limit_is_accepted(server):
    p = Polling(server, "/engine.io/")
    p.handshake()
    body = "4" + "a" * (MAX_PAYLOAD - 1)
    r = p.post(body, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text[:200])
    assert p.collect(1) == [body]


def test_polling_octet_stream_post_is_400(server):
    p = Polling(server, "/engine.io/")
    p.handshake()
    r = p.post(b"4hello", headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 400, (r.status_code, r.text)


# ------------------------------------------------------------------------------------ websocket messages


def test_websocket_text_echo(ws_factory):
    s, _ = open_engine_ws(ws_factory)
    for text in ["4hello", "4", "4é ☃ 😀", "4" + "x" * 100_000]:
        s.send(text)
        assert s.recv() == text


def test_websocket_binary_echo(ws_factory):
    s, _ = open_engine_ws(ws_factory)
    for blob in [bytes([1, 2, 3, 4]), bytes(range(256)) * 100, b""]:
        s.send(blob)
        assert s.recv() == blob


def test_websocket_one_packet_per_frame(ws_factory):
    s, _ = open_engine_ws(ws_factory)
    s.send("4a")
    s.send("4b")
    s.send(b"\x01")
    assert s.recv_many(3) == ["4a", "4b", b"\x01"]


def assert_every_websocket_closes(ws_factory, path: str, packet: str, timeout: float, count: int = 5):
    """Sends `packet` on `count` fresh sessions at once; each must be closed by the server within `timeout`
    (pings answered meanwhile). Several sessions make an intermittent failure to close show up every run."""
    sockets = [open_engine_ws(ws_factory, path)[0] for _ in range(count)]
    for s in sockets:
        s.send(packet)
    deadline = time.monotonic() + timeout
    still_open = []
    for s in sockets:
        try:
            s.wait_closed(timeout=max(deadline - time.monotonic(), 0.01))
        except AssertionError:
            still_open.append(s)
    if still_open:
        pytest.fail(f"after sending {packet!r}, {len(still_open)} of {count} WebSockets were still open {timeout} s "
                    f"later (no close frame, no TCP close)")


@pytest.mark.parametrize("packet", ["abc", "8", ""], ids=["abc", "unknown-type-8", "empty"])
def test_websocket_invalid_packet_closes(ws_factory, packet):
    assert_every_websocket_closes(ws_factory, "/engine.io/", packet, timeout=1)


def test_websocket_client_ping_closes(ws_factory):
    """A client `2` (other than `2probe`) is an invalid heartbeat direction."""
    assert_every_websocket_closes(ws_factory, "/engine.io/", "2", timeout=1)


# --------------------------------------------------------------------------------------------- heartbeat


@pytest.mark.parametrize("path", PATHS)
def test_polling_heartbeat(server, path):
    p = Polling(server, path)
    p.handshake()
    started = time.monotonic()
    if path == "/socket.io/":  # joined, so that connectTimeout (1 s) does not end the session
        assert p.post("40").status_code == 200
        packets = p.get().text.split(SEP)
        if len(packets) == 1:
            packets += p.get().text.split(SEP)
        assert packets[0].startswith("40{") and packets[1] == '42["auth",{}]', packets
    for _ in range(4):
        r = p.get(timeout=3)
        assert r.status_code == 200
        assert r.text == "2", r.text
        now = time.monotonic()
        assert 0.2 <= now - started <= 1.5, f"ping after {now - started:.3f} s (pingInterval 0.3 s)"
        r = p.post("3")
        assert r.status_code == 200 and r.text == "ok", (r.status_code, r.text)
        started = time.monotonic()


@pytest.mark.parametrize("path", PATHS)
def test_polling_ping_timeout_closes_session(server, path):
    p = Polling(server, path)
    p.handshake()
    time.sleep(PING_INTERVAL + PING_TIMEOUT + 0.3)
    r = p.get(timeout=2)
    assert_json_error(r, 1)
    r = p.post("3", timeout=2)
    assert_json_error(r, 1)


@pytest.mark.parametrize("path", PATHS)
def test_polling_ping_timeout_at_the_deadline(server, path):
    """Official suite: a poll sent exactly pingInterval + pingTimeout after the handshake gets 400, not the
    ping the client never fetched (the session is over at its deadline, whenever a timer notices)."""
    for _ in range(3):
        p = Polling(server, path)
        p.handshake()
        time.sleep(PING_INTERVAL + PING_TIMEOUT)
        assert_json_error(p.get(timeout=2), 1)


@pytest.mark.parametrize("path", PATHS)
def test_websocket_heartbeat(ws_factory, path):
    s, _ = open_engine_ws(ws_factory, path)
    started = time.monotonic()
    if path == "/socket.io/":  # joined, so that connectTimeout (1 s) does not end the session
        s.send("40")
        assert s.recv(answer_pings=False).startswith("40{")
        assert s.recv(answer_pings=False) == '42["auth",{}]'
    for _ in range(4):
        assert s.recv(timeout=1.5, answer_pings=False) == "2"
        now = time.monotonic()
        assert 0.2 <= now - started <= 1.5, f"ping after {now - started:.3f} s (pingInterval 0.3 s)"
        s.send("3")
        started = now
    s.assert_open_for(0.3)


@pytest.mark.parametrize("path", PATHS)
def test_websocket_ping_timeout_closes(ws_factory, path):
    s, _ = open_engine_ws(ws_factory, path)
    started = time.monotonic()
    frames = s.wait_closed(timeout=2, answer_pings=False)
    elapsed = time.monotonic() - started
    assert frames == ["2"], frames
    assert elapsed >= PING_INTERVAL + PING_TIMEOUT - 0.1, f"closed after {elapsed:.3f} s"


# ------------------------------------------------------------------------------------------------ close


@pytest.mark.parametrize("path", PATHS)
def test_polling_close(server, path):
    p = Polling(server, path)
    p.handshake()
    pending = p.get_async()
    time.sleep(0.05)
    r = p.post("1")
    assert r.status_code == 200, (r.status_code, r.text)
    r = pending()
    assert r.status_code == 200
    assert r.text == "6"
    assert_json_error(p.get(timeout=2), 1)


@pytest.mark.parametrize("path", PATHS)
def test_websocket_close(ws_factory, path):
    assert_every_websocket_closes(ws_factory, path, "1", timeout=1)


# ---------------------------------------------------------------------------------------------- upgrade


def finish_upgrade(s: WS):
    """Sends `5`. No noop ever follows on the WebSocket: a GET pending at the probe gets it, on polling."""
    s.send("5")


def start_upgrade(server, ws_factory, path="/engine.io/"):
    p = Polling(server, path)
    p.handshake()
    s = ws_factory(path, f"EIO=4&transport=websocket&sid={p.sid}")
    return p, s


@pytest.mark.parametrize("path", PATHS)
def test_upgrade_answers_pending_get_with_noop(server, ws_factory, path):
    p = Polling(server, path)
    p.handshake()
    pending = p.get_async()
    time.sleep(0.05)
    s = ws_factory(path, f"EIO=4&transport=websocket&sid={p.sid}")
    s.send("2probe")
    assert s.recv(answer_pings=False) == "3probe"
    r = pending()
    assert r.status_code == 200
    assert r.text == "6", r.text
    finish_upgrade(s)
    if path == "/engine.io/":
        s.send("4hello")
        assert s.recv() == "4hello"
        s.send(b"\x01\x02")
        assert s.recv() == b"\x01\x02"
    else:
        s.send("40")
        assert s.recv().startswith("40{")


def test_upgrade_get_after_probe_gets_noop(server, ws_factory):
    """Official suite: a GET issued between `3probe` and `5` is answered with `6`."""
    p, s = start_upgrade(server, ws_factory)
    s.send("2probe")
    assert s.recv(answer_pings=False) == "3probe"
    r = p.get(timeout=2)
    assert r.status_code == 200
    assert r.text == "6", r.text
    finish_upgrade(s)
    s.send("4hello")
    assert s.recv() == "4hello"


def test_upgrade_without_pending_get(server, ws_factory):
    """python-engineio upgrades right after the handshake, before any GET: nothing is owed to a GET, so the
    first frame on the WebSocket after `5` is the echo, not a noop (official suite: "ignores HTTP requests
    with same sid after upgrade", which sends `2probe` and `5` without waiting)."""
    p, s = start_upgrade(server, ws_factory)
    s.send("2probe")
    s.send("5")
    assert s.recv(answer_pings=False) == "3probe"
    # The GET may overtake the `5`: it then waits for the upgrade and is refused like any later poll.
    assert_json_error(p.get(timeout=2), 3)
    s.send("4hello")
    assert s.recv() == "4hello"


def test_upgrade_flushes_buffered_packets_on_websocket(server, ws_factory):
    p, s = start_upgrade(server, ws_factory)
    s.send("2probe")
    assert s.recv(answer_pings=False) == "3probe"
    # Echoes of these are produced while polling is paused: they must arrive on the WebSocket after `5`.
    assert p.post(f"4one{SEP}4two").status_code == 200
    finish_upgrade(s)
    assert s.recv_many(2) == ["4one", "4two"]


@pytest.mark.parametrize("path", PATHS)
def test_polling_after_upgrade_is_400(server, ws_factory, path):
    p, s = start_upgrade(server, ws_factory, path)
    s.send("2probe")
    assert s.recv(answer_pings=False) == "3probe"
    finish_upgrade(s)
    time.sleep(0.05)
    r = p.get(timeout=2)
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json()["code"] in (1, 3), r.text
    r = p.post("4x", timeout=2)
    assert r.status_code == 400, (r.status_code, r.text)
    if path == "/engine.io/":
        s.send("4hello")
        assert s.recv() == "4hello"
    else:
        s.send("40")
        assert s.recv().startswith("40{")


def assert_ws_accepted_then_closed(server, path: str, sid: str):
    """A WebSocket for a session that is upgraded or being probed: the reference server completes the
    handshake (101) and then closes that socket (official suite: "ignores WebSocket connection with same sid
    after upgrade", whose client fails on an HTTP 400)."""
    try:
        second = websocket.create_connection(
            f"{server.ws_base}{path}?EIO=4&transport=websocket&sid={sid}", timeout=HTTP_TIMEOUT)
    except websocket.WebSocketBadStatusException as e:
        pytest.fail(f"handshake refused with HTTP {e.status_code}; expected 101 then a close")
    w = WS.__new__(WS)
    w.ws, w.closed = second, False
    try:
        w.send("2probe")
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        pass
    frames = w.wait_closed(timeout=1, answer_pings=False)
    assert frames == [], frames
    w.close()


@pytest.mark.parametrize("path", PATHS)
def test_second_websocket_with_same_sid_is_accepted_then_closed(server, ws_factory, path):
    p, s = start_upgrade(server, ws_factory, path)
    s.send("2probe")
    assert s.recv(answer_pings=False) == "3probe"
    finish_upgrade(s)
    time.sleep(0.05)
    assert_ws_accepted_then_closed(server, path, p.sid)
    # the first WebSocket is unaffected
    if path == "/engine.io/":
        s.send("4hello")
        assert s.recv() == "4hello"
    else:
        s.send("40")
        assert s.recv().startswith("40{")


def test_second_probe_while_upgrading_is_accepted_then_closed(server, ws_factory):
    p, s = start_upgrade(server, ws_factory)
    s.send("2probe")
    assert s.recv(answer_pings=False) == "3probe"
    assert_ws_accepted_then_closed(server, "/engine.io/", p.sid)
    finish_upgrade(s)
    s.send("4hello")
    assert s.recv() == "4hello"


def test_upgrade_aborted_by_other_packet_keeps_polling(server, ws_factory):
    """A probe WebSocket whose first packet is not `2probe` is closed; the polling session goes on."""
    p, s = start_upgrade(server, ws_factory)
    s.send("4hello")
    frames = s.wait_closed(timeout=1, answer_pings=False)
    assert "4hello" not in frames, frames
    assert p.post("4still-polling").status_code == 200
    assert p.collect(1) == ["4still-polling"]


def test_heartbeat_continues_after_upgrade(server, ws_factory):
    p, s = start_upgrade(server, ws_factory)
    s.send("2probe")
    assert s.recv(answer_pings=False) == "3probe"
    finish_upgrade(s)
    for _ in range(2):
        assert s.recv(timeout=1.5, answer_pings=False) == "2"
        s.send("3")


# ------------------------------------------------------------------------------------------------- CORS


@pytest.mark.parametrize("path", PATHS)
def test_cors_on_polling(server, path):
    origin = {"Origin": "http://dashboard.example"}
    r = requests.get(f"{server.base}{path}?EIO=4&transport=polling", headers=origin, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") == "*", r.headers
    sid = json.loads(r.text[1:])["sid"]
    r = requests.post(f"{server.base}{path}?EIO=4&transport=polling&sid={sid}", data=b"4hi" if path == "/engine.io/"
                      else b"40", headers={**origin, "Content-Type": "text/plain;charset=UTF-8"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") == "*", r.headers
    r = requests.get(f"{server.base}{path}?EIO=4&transport=polling&sid={sid}", headers=origin, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") == "*", r.headers


@pytest.mark.parametrize("path", PATHS)
def test_cors_on_errors(server, path):
    r = requests.get(f"{server.base}{path}?EIO=4&transport=abc", headers={"Origin": "http://dashboard.example"},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 400
    assert r.headers.get("Access-Control-Allow-Origin") == "*", r.headers


@pytest.mark.parametrize("path", PATHS)
def test_cors_preflight(server, path):
    r = requests.options(f"{server.base}{path}?EIO=4&transport=polling", headers={
        "Origin": "http://dashboard.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-custom",
    }, timeout=HTTP_TIMEOUT)
    assert r.status_code == 204, (r.status_code, r.text)
    assert r.headers.get("Access-Control-Allow-Origin") == "*", r.headers
    methods = {m.strip() for m in r.headers.get("Access-Control-Allow-Methods", "").split(",")}
    assert {"GET", "POST"} <= methods, r.headers
    headers = {h.strip().lower() for h in r.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert {"content-type", "x-custom"} <= headers, r.headers
    assert r.content == b""


# =============================================================================================== Socket.IO
# ------------------------------------------------------------------------------------------------ connect


def test_connect_main_namespace(ws_factory):
    s, engine = open_engine_ws(ws_factory, "/socket.io/")
    s.send("40")
    reply = s.recv()
    assert reply.startswith("40"), reply
    handshake = json.loads(reply[2:])
    assert set(handshake) == {"sid"}, handshake
    assert isinstance(handshake["sid"], str) and handshake["sid"], handshake
    assert handshake["sid"] != engine["sid"], "the Socket.IO sid must differ from the Engine.IO sid"
    assert s.recv() == '42["auth",{}]'


def test_connect_main_namespace_with_payload(ws_factory):
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    s.send('40{"token":"123"}')
    reply = s.recv()
    assert reply.startswith("40"), reply
    assert set(json.loads(reply[2:])) == {"sid"}, reply
    assert s.recv() == '42["auth",{"token":"123"}]'


def test_connect_python_style_empty_payload(ws_factory):
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    s.send("40{}")
    reply = s.recv()
    assert set(json.loads(reply[2:])) == {"sid"}, reply
    assert s.recv() == '42["auth",{}]'


@pytest.mark.parametrize("connect", ["40/custom,", "40/custom"])
def test_connect_custom_namespace(ws_factory, connect):
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    s.send(connect)
    reply = s.recv()
    assert reply.startswith("40/custom,"), reply
    assert set(json.loads(reply[len("40/custom,"):])) == {"sid"}, reply
    assert s.recv() == '42/custom,["auth",{}]'
    s.send('42/custom,["message",1]')
    assert s.recv() == '42/custom,["message-back",1]'
    s.send('42/custom,7["message-with-ack","x"]')
    assert s.recv() == '43/custom,7["x"]'


def test_connect_custom_namespace_with_payload(ws_factory):
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    s.send('40/custom,{"token":"abc"}')
    reply = s.recv()
    assert reply.startswith("40/custom,"), reply
    assert set(json.loads(reply[len("40/custom,"):])) == {"sid"}, reply
    assert s.recv() == '42/custom,["auth",{"token":"abc"}]'


def test_connect_both_namespaces_on_one_connection(ws_factory):
    s = open_socketio(ws_factory)
    s.send("40/custom,")
    assert s.recv().startswith("40/custom,{")
    assert s.recv() == '42/custom,["auth",{}]'
    s.send('42["message","main"]')
    s.send('42/custom,["message","custom"]')
    assert sorted(s.recv_many(2)) == sorted(['42["message-back","main"]', '42/custom,["message-back","custom"]'])


@pytest.mark.parametrize("connect", ["40/random", "40/random,"])
def test_connect_unknown_namespace(ws_factory, connect):
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    s.send(connect)
    assert s.recv() == '44/random,{"message":"Invalid namespace"}'


def test_unknown_namespace_keeps_engine_open(ws_factory):
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    s.send("40/random,")
    assert s.recv() == '44/random,{"message":"Invalid namespace"}'
    s.send("40")
    assert s.recv().startswith("40{")
    assert s.recv() == '42["auth",{}]'


def test_connect_with_invalid_handshake_closes(ws_factory):
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    s.send("4abc")
    s.wait_closed(timeout=0.8)  # well before connectTimeout (1 s)


@pytest.mark.parametrize("connect", ['40["x"]', "40null", '40"token"', "40{"])
def test_connect_with_invalid_payload_closes(ws_factory, connect):
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    s.send(connect)
    frames = s.wait_closed(timeout=0.8)
    assert not any(isinstance(f, str) and f.startswith("40") for f in frames), frames


def test_no_connect_within_connect_timeout_closes(ws_factory):
    s, _ = open_engine_ws(ws_factory, "/socket.io/")
    started = time.monotonic()
    s.wait_closed(timeout=CONNECT_TIMEOUT + 1.5)  # pings answered: only connectTimeout can close it
    elapsed = time.monotonic() - started
    assert elapsed >= CONNECT_TIMEOUT - 0.2, f"closed after {elapsed:.3f} s"


def test_no_connect_within_connect_timeout_closes_polling(server):
    p = Polling(server, "/socket.io/")
    p.handshake()
    started = time.monotonic()
    deadline = started + CONNECT_TIMEOUT + 1.5
    while True:
        assert time.monotonic() < deadline, "session still open after connectTimeout"
        r = p.get(timeout=3)
        if r.status_code == 400:
            break
        assert r.status_code == 200
        packets = r.text.split(SEP)
        if "1" in packets:
            break
        assert set(packets) <= {"2", "6"}, packets
        if "2" in packets:
            pr = p.post("3")
            if pr.status_code == 400:
                break
    elapsed = time.monotonic() - started
    assert elapsed >= CONNECT_TIMEOUT - 0.2, f"closed after {elapsed:.3f} s"


# --------------------------------------------------------------------------------------------- disconnect


def test_disconnect_main_namespace_then_reconnect(ws_factory):
    s = open_socketio(ws_factory)
    s.send("41")
    s.send("40")
    reply = s.recv()
    assert reply.startswith("40{") and set(json.loads(reply[2:])) == {"sid"}, reply
    assert s.recv() == '42["auth",{}]'
    s.send('42["message","again"]')
    assert s.recv() == '42["message-back","again"]'


def test_disconnect_main_namespace_keeps_engine_open(ws_factory):
    """`41` of the last namespace keeps the Engine.IO connection, also past connectTimeout (1 s after open)."""
    s = open_socketio(ws_factory)
    s.send("41")
    s.assert_open_for(CONNECT_TIMEOUT + 0.3)
    s.send("40")
    reply = s.recv()
    assert reply.startswith("40{") and set(json.loads(reply[2:])) == {"sid"}, reply
    assert s.recv() == '42["auth",{}]'


def test_disconnect_custom_namespace(ws_factory):
    s = open_socketio(ws_factory)
    s.send("40/custom")
    assert s.recv().startswith("40/custom,{")
    assert s.recv() == '42/custom,["auth",{}]'
    s.send("41/custom")
    s.send('42["message","message to main namespace"]')
    assert s.recv() == '42["message-back","message to main namespace"]'


def test_event_after_disconnect_closes(ws_factory):
    """A packet for a namespace the client is not connected to closes the engine."""
    s = open_socketio(ws_factory)
    s.send("41")
    s.send('42["message","gone"]')
    frames = s.wait_closed(timeout=1)
    assert '42["message-back","gone"]' not in frames, frames


# ------------------------------------------------------------------------------------------------ message


def test_plain_text_event(ws_factory):
    s = open_socketio(ws_factory)
    s.send('42["message",1,"2",{"3":[true]}]')
    assert s.recv() == '42["message-back",1,"2",{"3":[true]}]'


def test_event_json_round_trip(ws_factory):
    s = open_socketio(ws_factory)
    args = [None, -1.5, 12345678901, "é ☃ 😀 \"q\" \\ \n", [], {}, {"a": {"b": [1, {"c": None}]}}, False]
    s.send("42" + json.dumps(["message", *args], ensure_ascii=False, separators=(",", ":")))
    reply = s.recv()
    assert reply.startswith('42["message-back",'), reply
    assert json.loads(reply[2:]) == ["message-back", *args]


def test_event_with_numeric_name_is_accepted(ws_factory):
    s = open_socketio(ws_factory)
    s.send("42[1]")
    s.send('42["message","still open"]')
    assert s.recv() == '42["message-back","still open"]'


def test_binary_event(ws_factory):
    s = open_socketio(ws_factory)
    s.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    s.send(bytes([1, 2, 3]))
    s.send(bytes([4, 5, 6]))
    packets = s.recv_many(3)
    assert packets[0] == '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert packets[1] == bytes([1, 2, 3])
    assert packets[2] == bytes([4, 5, 6])


def test_binary_event_nested_placeholders(ws_factory):
    s = open_socketio(ws_factory)
    s.send('451-["message",{"file":{"_placeholder":true,"num":0},"name":"a.bin"},[1]]')
    s.send(bytes(range(10)))
    packets = s.recv_many(2)
    assert packets[0] == '451-["message-back",{"file":{"_placeholder":true,"num":0},"name":"a.bin"},[1]]'
    assert packets[1] == bytes(range(10))


def test_plain_text_event_with_ack(ws_factory):
    s = open_socketio(ws_factory)
    s.send('42456["message-with-ack",1,"2",{"3":[false]}]')
    assert s.recv() == '43456[1,"2",{"3":[false]}]'


def test_binary_event_with_ack(ws_factory):
    s = open_socketio(ws_factory)
    s.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    s.send(bytes([1, 2, 3]))
    s.send(bytes([4, 5, 6]))
    packets = s.recv_many(3)
    assert packets[0] == '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert packets[1] == bytes([1, 2, 3])
    assert packets[2] == bytes([4, 5, 6])


def test_binary_event_on_custom_namespace_with_ack(ws_factory):
    s = open_socketio(ws_factory)
    s.send("40/custom,")
    assert s.recv().startswith("40/custom,{")
    assert s.recv() == '42/custom,["auth",{}]'
    s.send('451-/custom,12["message-with-ack",{"_placeholder":true,"num":0}]')
    s.send(bytes([9, 9]))
    packets = s.recv_many(2)
    assert packets == ['461-/custom,12[{"_placeholder":true,"num":0}]', bytes([9, 9])]


@pytest.mark.parametrize("packet", [
    "4abc",                                       # unknown packet type
    "47",                                         # unknown packet type
    "42{}",                                       # payload not an array
    '42abc["message-with-ack",1,"2",{"3":[false]}]',  # invalid ack id
    "42[]",                                       # empty event array
    '42["connect"]',                              # reserved event names
    '42["disconnect"]',
    '42["disconnecting"]',
    '42["connect_error"]',
    '42["newListener"]',
    '42["removeListener"]',
    "42[null]",                                   # event name neither string nor number
    '42["message",',                              # invalid JSON
    "43{}",                                       # ACK payload not an array
    "41{}",                                       # DISCONNECT with a payload
    '44{"message":"x"}',                          # client CONNECT_ERROR
    "40",                                         # second CONNECT to a joined namespace
    '4511-["message"]',                           # more than maxAttachments (10)
    '45x-["message"]',                            # bad attachment count
])
def test_invalid_packet_closes_connection(ws_factory, packet):
    s = open_socketio(ws_factory)
    s.send(packet)
    frames = s.wait_closed(timeout=1)
    assert not any(isinstance(f, str) and f.startswith("42[\"message-back\"") for f in frames), frames


def test_binary_frame_without_binary_packet_closes(ws_factory):
    s = open_socketio(ws_factory)
    s.send(bytes([1, 2, 3]))
    s.wait_closed(timeout=1)


def test_text_packet_while_reconstructing_binary_closes(ws_factory):
    s = open_socketio(ws_factory)
    s.send('451-["message",{"_placeholder":true,"num":0}]')
    s.send('42["message","x"]')
    frames = s.wait_closed(timeout=1)
    assert not any(isinstance(f, str) and f.startswith("4") for f in frames), frames


def test_placeholder_out_of_range_closes(ws_factory):
    s = open_socketio(ws_factory)
    s.send('451-["message",{"_placeholder":true,"num":5}]')
    s.send(bytes([1]))
    frames = s.wait_closed(timeout=1)
    assert not any(isinstance(f, str) and f.startswith("451-") for f in frames), frames


# ----------------------------------------------------------------------------------- socket.io over polling


def test_socketio_over_polling(server):
    p = Polling(server, "/socket.io/")
    p.handshake()
    assert p.post('40{"token":"poll"}').status_code == 200
    packets = p.collect(2)
    assert packets[0].startswith("40{") and set(json.loads(packets[0][2:])) == {"sid"}, packets
    assert packets[1] == '42["auth",{"token":"poll"}]'
    assert p.post(f'42["message","a"]{SEP}421["message-with-ack","b"]').status_code == 200
    assert p.collect(2) == ['42["message-back","a"]', '431["b"]']


def test_socketio_binary_over_polling(server):
    p = Polling(server, "/socket.io/")
    p.handshake()
    assert p.post("40").status_code == 200
    assert len(p.collect(2)) == 2
    b1, b2 = base64.b64encode(bytes([1, 2, 3])).decode(), base64.b64encode(bytes([4, 5, 6])).decode()
    body = SEP.join(['452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
                     "b" + b1, "b" + b2])
    assert p.post(body).status_code == 200
    assert p.collect(3) == ['452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
                            "b" + b1, "b" + b2]
    body = SEP.join(['451-5["message-with-ack",{"_placeholder":true,"num":0}]', "b" + b1])
    assert p.post(body).status_code == 200
    assert p.collect(2) == ['461-5[{"_placeholder":true,"num":0}]', "b" + b1]


# ================================================================================== python-socketio client


async def python_client_round_trip(url: str, transports):
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    loop = asyncio.get_running_loop()
    auth_main, auth_custom, back = loop.create_future(), loop.create_future(), asyncio.Queue()
    disconnects = []

    @sio.on("auth")
    async def on_auth(data):
        if not auth_main.done():
            auth_main.set_result(data)

    @sio.on("auth", namespace="/custom")
    async def on_auth_custom(data):
        if not auth_custom.done():
            auth_custom.set_result(data)

    @sio.on("message-back")
    async def on_back(*args):
        await back.put(args)

    @sio.on("disconnect")
    async def on_disconnect(*args):
        disconnects.append(args)

    step = "connect"
    try:
        await sio.connect(url, auth={"token": "py-123"}, transports=transports, namespaces=["/", "/custom"],
                          wait_timeout=5)
        step = "transport"
        if transports is None:
            assert sio.transport() == "websocket", "the default mode must upgrade to websocket"
        else:
            assert sio.transport() == transports[0]
        assert sio.get_sid("/") and sio.get_sid("/custom") and sio.get_sid("/") != sio.get_sid("/custom")
        step = "auth event"
        assert await asyncio.wait_for(auth_main, 5) == {"token": "py-123"}
        assert await asyncio.wait_for(auth_custom, 5) == {"token": "py-123"}

        step = "message-back"
        await sio.emit("message", (1, "2", {"3": [True]}))
        assert await asyncio.wait_for(back.get(), 5) == (1, "2", {"3": [True]})

        step = "binary message-back"
        blob = bytes(range(256)) * 4
        await sio.emit("message", ("file", blob, {"nested": b"\x00\x01"}))
        assert await asyncio.wait_for(back.get(), 5) == ("file", blob, {"nested": b"\x00\x01"})

        step = "acks"
        assert await sio.call("message-with-ack", (1, "2", {"3": [False]}), timeout=5) == (1, "2", {"3": [False]})
        assert await sio.call("message-with-ack", "single", timeout=5) == "single"
        assert await sio.call("message-with-ack", (b"\x01\x02", "x"), timeout=5) == (b"\x01\x02", "x")
        assert await sio.call("message-with-ack", "custom", namespace="/custom", timeout=5) == "custom"

        step = "40 events"  # more than fit in one python-engineio polling payload (16)
        for i in range(40):
            await sio.emit("message", i)
        got = [await asyncio.wait_for(back.get(), 5) for _ in range(40)]
        assert got == [(i,) for i in range(40)]

        step = "heartbeats"  # several pings (pingInterval 300 ms) without being dropped
        await asyncio.sleep(1.0)
        assert sio.connected and not disconnects, disconnects
        assert await sio.call("message-with-ack", "after-heartbeats", timeout=5) == "after-heartbeats"
    except BaseException as e:
        raise AssertionError(f"python-socketio {transports}: failed at step {step!r}: {e!r}; "
                             f"disconnects {disconnects}") from e
    finally:
        await sio.disconnect()


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], None], ids=["polling", "websocket", "upgrade"])
def test_python_socketio_client(server, transports):
    asyncio.run(asyncio.wait_for(python_client_round_trip(server.base, transports), 30))


def test_python_socketio_client_unknown_namespace_is_refused(server):
    import socketio

    async def run():
        sio = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(server.base, namespaces=["/random"], transports=["websocket"], wait_timeout=3)
        await sio.disconnect()

    asyncio.run(asyncio.wait_for(run(), 20))
