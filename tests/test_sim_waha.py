"""Wire-level tests of the WAHA simulator: plain `requests` and sockets over loopback, nothing mocked.

The app's WAHA adapter is checked against this simulator, so its routes, statuses, QR formats, webhooks (with
WAHA's HMAC-SHA512, verified here independently) and the Core 2024 quirks are pinned here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from whatsapp_crm.gateway.qr import qr_matrix
from whatsapp_crm.simulator import SessionOptions, WahaSimulator, make_simulator, qr_payload

KEY = "waha-key-123"
TIMEOUT = (3, 5)
UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WAIT = 0.3  # qr_route_wait_s in these tests: short, so that 422s come quickly


class FakeClock:
	def __init__(self) -> None:
		self.t = 1000.0

	def now(self) -> float:
		return self.t

	def advance(self, seconds: float) -> None:
		self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
	return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[WahaSimulator]:
	with WahaSimulator(KEY, scenario="qr_now", clock=clock.now, hang_max_s=10, qr_route_wait_s=WAIT) as s:
		yield s


@pytest.fixture
def core(clock: FakeClock) -> Iterator[WahaSimulator]:
	with WahaSimulator(KEY, scenario="qr_now", clock=clock.now, core_2024=True, qr_route_wait_s=WAIT) as s:
		yield s


class Waha:
	def __init__(self, sim: WahaSimulator, key: str | None = KEY) -> None:
		self.sim = sim
		self.http = requests.Session()
		self.headers = {"X-Api-Key": key} if key is not None else {}

	def call(self, method: str, path: str, **kw: Any) -> requests.Response:
		kw.setdefault("timeout", TIMEOUT)
		headers = {**self.headers, **kw.pop("headers", {})}
		return self.http.request(method, self.sim.url + path, headers=headers, **kw)

	def create(self, name: str, **body: Any) -> requests.Response:
		return self.call("POST", "/api/sessions", json={"name": name, **body})

	def get(self, name: str, **kw: Any) -> requests.Response:
		return self.call("GET", f"/api/sessions/{name}", **kw)

	def status(self, name: str) -> str:
		return self.get(name).json()["status"]

	def op(self, name: str, action: str) -> requests.Response:
		return self.call("POST", f"/api/sessions/{name}/{action}")

	def qr(self, name: str, **kw: Any) -> requests.Response:
		return self.call("GET", f"/api/{name}/auth/qr", **kw)

	def pair(self, name: str, phone: Any = "34600111222", **kw: Any) -> requests.Response:
		return self.call("POST", f"/api/{name}/auth/request-code", json={"phoneNumber": phone}, **kw)


@pytest.fixture
def waha(sim: WahaSimulator) -> Iterator[Waha]:
	client = Waha(sim)
	yield client
	client.http.close()


def unprocessable(message: str) -> dict[str, Any]:
	return {"statusCode": 422, "message": message, "error": "Unprocessable Entity"}


def not_ready(status: str) -> dict[str, Any]:
	return unprocessable(f"Can get QR code only in SCAN_QR_CODE status. The current status is '{status}'")


def check_png(raw: bytes, payload: str) -> None:
	"""A real PNG: magic, IHDR of 4 px per module (border included), IDAT that zlib-decodes to every row."""
	assert raw.startswith(PNG_MAGIC)
	length, kind = struct.unpack(">I4s", raw[8:16])
	assert kind == b"IHDR" and length == 13
	width, height, depth, color = struct.unpack(">IIBB", raw[16:26])
	assert width == height == len(qr_matrix(payload)) * 4 and depth == 8 and color == 0
	pos, idat = 8, b""
	while pos < len(raw):
		size, kind = struct.unpack(">I4s", raw[pos : pos + 8])
		if kind == b"IDAT":
			idat += raw[pos + 8 : pos + 8 + size]
		pos += 12 + size
	assert len(zlib.decompress(idat)) == height * (width + 1)


class Listener:
	"""A tiny webhook receiver: records (headers, body) and answers 200."""

	def __init__(self) -> None:
		self.received: list[tuple[dict[str, str], bytes]] = []
		self.lock = threading.Lock()
		outer = self

		class H(BaseHTTPRequestHandler):
			def do_POST(self) -> None:
				body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
				with outer.lock:
					outer.received.append((dict(self.headers), body))
				self.send_response(200)
				self.send_header("Content-Length", "0")
				self.end_headers()

			def log_message(self, *args: Any) -> None:
				pass

		self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
		self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
		threading.Thread(
			target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
		).start()

	def bodies(self) -> list[dict[str, Any]]:
		with self.lock:
			return [json.loads(body) for _, body in self.received]

	def statuses(self, session: str | None = None) -> list[str]:
		return [b["payload"]["status"] for b in self.bodies() if session is None or b["session"] == session]

	def wait_for(self, predicate: Callable[[Listener], bool], timeout: float = 5.0) -> None:
		deadline = time.monotonic() + timeout
		while not predicate(self):
			assert time.monotonic() < deadline, self.bodies()
			time.sleep(0.02)

	def close(self) -> None:
		self.server.shutdown()
		self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
	lst = Listener()
	yield lst
	lst.close()


# -- server, auth, routing --


def test_factory(clock: FakeClock) -> None:
	sim = make_simulator("waha", api_key=KEY, core_2024=True, qr_route_wait_s=1)
	assert isinstance(sim, WahaSimulator) and sim.gateway_type == "waha" and sim.qr_route_wait_s == 1


def test_server_routes(sim: WahaSimulator, core: WahaSimulator) -> None:
	assert requests.get(sim.url + "/ping", timeout=TIMEOUT).json() == {"message": "pong"}  # no key
	waha = Waha(sim)
	assert waha.call("GET", "/api/server/version").json() == {
		"version": "2026.6.1",
		"engine": "NOWEB",
		"tier": "CORE",
		"browser": None,
	}
	assert waha.call("GET", "/health").json() == {"status": "ok"}
	assert sim.count("health") == 3
	old = Waha(core, None)
	assert old.call("GET", "/api/server/version").json()["version"] == "2024.10.8"
	r = old.call("GET", "/health")
	assert r.status_code == 422 and r.json() == unprocessable("Available only in Plus version")


@pytest.mark.parametrize("key", [None, "", "wrong", KEY + "x"])
def test_auth_everywhere(sim: WahaSimulator, waha: Waha, key: str | None) -> None:
	waha.create("a")
	bad = Waha(sim, key)
	for r in (
		bad.create("b"),
		bad.get("a"),
		bad.call("GET", "/api/sessions"),
		bad.op("a", "stop"),
		bad.call("DELETE", "/api/sessions/a"),
		bad.qr("a"),
		bad.pair("a"),
		bad.call("GET", "/api/server/version"),
		bad.call("POST", "/_sim/restart"),
	):
		assert r.status_code == 401 and r.json() == UNAUTHORIZED
	assert waha.status("a") == "SCAN_QR_CODE"


def test_core_2024_checks_no_key_but_control_routes_do(core: WahaSimulator) -> None:
	anyone = Waha(core, "whatever")
	assert anyone.get("default").status_code == 200
	assert anyone.call("POST", "/_sim/restart").status_code == 401
	assert Waha(core).call("POST", "/_sim/restart").status_code == 200


def test_unknown_routes_and_methods_are_404(waha: Waha) -> None:
	for method, path in (("GET", "/nope"), ("PATCH", "/api/sessions/a"), ("GET", "/api/a/auth/request-code")):
		r = waha.call(method, path)
		assert r.status_code == 404
		assert r.json() == {"message": f"Cannot {method} {path}", "error": "Not Found", "statusCode": 404}


# -- sessions --


def test_create_get_list(sim: WahaSimulator, waha: Waha) -> None:
	config = {"metadata": {"a": "b"}}
	r = waha.create("a", start=True, config=config)
	assert r.status_code == 201 and r.json() == {"name": "a", "status": "STARTING", "config": config}
	assert r.headers["Content-Type"].startswith("application/json")
	r = waha.create("a")
	assert r.status_code == 422
	assert r.json() == unprocessable("Session 'a' already exists. Use PUT to update it.")
	assert waha.get("a").json() == {
		"name": "a",
		"status": "SCAN_QR_CODE",
		"config": config,
		"me": None,
		"engine": {"engine": "NOWEB"},
	}
	assert waha.create("b", start=False).json()["status"] == "STOPPED"
	assert waha.call("POST", "/api/sessions", json={}).json()["name"] == "default"  # WAHA's default name
	for path in ("/api/sessions", "/api/sessions/"):
		assert [s["name"] for s in waha.call("GET", path).json()] == ["a", "b", "default"]
	assert waha.call("POST", "/api/sessions", json={"name": "a b"}).status_code == 400
	assert (
		waha.call(
			"POST", "/api/sessions", json={"name": "x", "config": {"webhooks": [{"url": "nope"}]}}
		).status_code
		== 400
	)
	r = waha.get("ghost")
	assert r.status_code == 404 and r.json() == {
		"statusCode": 404,
		"message": 'Session "ghost" does not exist',
		"error": "Not Found",
	}
	assert waha.get("a.b").status_code == 404
	assert (
		waha.call("GET", "/api/sessions/a%2Db").status_code == 404 and sim.requests[-1]["session_id"] == "a-b"
	)
	assert sim.count("create") == 6 and sim.count("list") == 2 and sim.count("status", "a") == 1


def test_statuses_start_stop_logout_delete(sim: WahaSimulator, waha: Waha, clock: FakeClock) -> None:
	sim.set_scenario("s", "qr_after")
	waha.create("s")
	assert waha.status("s") == "STARTING"
	clock.advance(3)
	assert waha.status("s") == "SCAN_QR_CODE"
	r = waha.op("s", "start")
	assert r.status_code == 422 and r.json() == unprocessable("Session 's' is already started.")
	r = waha.op("s", "stop")
	assert r.status_code == 201 and r.json()["status"] == "STOPPED"
	r = waha.op("s", "start")
	assert r.status_code == 201 and r.json()["status"] == "STARTING"
	assert waha.status("s") == "STARTING"  # the QR timing started over
	clock.advance(3)
	assert waha.status("s") == "SCAN_QR_CODE"
	sim.scan("s", "34611222333")
	data = waha.get("s").json()
	assert data["status"] == "WORKING" and data["me"] == {"id": "34611222333@c.us", "pushName": "Sim"}
	r = waha.op("s", "logout")
	assert r.status_code == 201 and r.json()["status"] == "STOPPED" and r.json()["me"] is None
	waha.op("s", "start")
	clock.advance(3)
	assert waha.status("s") == "SCAN_QR_CODE"  # unlinked: a new QR
	r = waha.call("DELETE", "/api/sessions/s")
	assert r.status_code == 200 and r.content == b""
	assert waha.get("s").status_code == 404 and waha.op("s", "start").status_code == 404
	assert sim.count("start") == 4 and sim.count("stop") == 1 and sim.count("logout") == 1
	assert sim.count("delete") == 1


def test_restart_keeps_sessions_stopped_with_their_link(sim: WahaSimulator, waha: Waha) -> None:
	waha.create("linked")
	waha.create("waiting")
	sim.scan("linked")
	assert waha.call("POST", "/_sim/restart").json() == {"success": True}
	assert waha.status("linked") == waha.status("waiting") == "STOPPED"
	sim.scan("waiting")  # nobody can scan a stopped session
	waha.op("linked", "start")
	waha.op("waiting", "start")
	assert waha.status("linked") == "WORKING" and waha.status("waiting") == "SCAN_QR_CODE"


def test_qr_limit_fails_for_good(sim: WahaSimulator, waha: Waha, clock: FakeClock) -> None:
	waha.create("q--qr_limit")  # rotate every 2 s, 3 QRs
	clock.advance(5.9)
	assert waha.status("q--qr_limit") == "SCAN_QR_CODE"
	clock.advance(0.1)
	assert waha.status("q--qr_limit") == "FAILED"
	sim.scan("q--qr_limit")
	clock.advance(100)
	assert waha.status("q--qr_limit") == "FAILED"
	assert waha.qr("q--qr_limit").json() == not_ready("FAILED")


# -- QR --


def test_qr_formats(sim: WahaSimulator, waha: Waha) -> None:
	waha.create("a")
	payload = qr_payload("a", 0)
	r = waha.qr("a", params={"format": "raw"})
	assert r.status_code == 200 and r.json() == {"value": payload}
	r = waha.qr("a", headers={"Accept": "application/json"})
	assert r.json()["mimetype"] == "image/png"
	check_png(base64.b64decode(r.json()["data"]), payload)
	r = waha.qr("a")
	assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
	check_png(r.content, payload)
	waha.create("old--png_only")
	r = waha.qr("old--png_only", params={"format": "raw"}, headers={"Accept": "application/json"})
	assert r.headers["Content-Type"] == "image/png"
	check_png(r.content, qr_payload("old--png_only", 0))
	assert sim.count("qr") == 4


def test_qr_route_waits_then_422(sim: WahaSimulator, waha: Waha) -> None:
	sim.set_scenario("late", "qr_after")
	waha.create("late")
	started = time.monotonic()
	r = waha.qr("late", params={"format": "raw"})
	assert time.monotonic() - started >= WAIT - 0.05  # it waited (a lower bound only)
	assert r.status_code == 422 and r.json() == not_ready("STARTING")
	waha.op("late", "stop")
	assert waha.qr("late").json() == not_ready("STOPPED")  # nothing to wait for
	assert waha.qr("ghost").status_code == 404


def test_qr_route_returns_once_the_qr_is_due(clock: FakeClock) -> None:
	with WahaSimulator(KEY, scenario="qr_after", clock=clock.now, qr_route_wait_s=10) as s:
		waha = Waha(s)
		waha.create("late")
		timer = threading.Timer(0.2, clock.advance, args=(3,))
		timer.start()
		r = waha.qr("late", params={"format": "raw"})
		timer.join()
		assert r.status_code == 200 and r.json() == {"value": qr_payload("late", 0)}


def test_stop_releases_a_waiting_qr_request(clock: FakeClock) -> None:
	s = WahaSimulator(KEY, scenario="qr_after", clock=clock.now, qr_route_wait_s=30).start()
	Waha(s).create("late")
	outcome: list[object] = []

	def ask() -> None:
		try:
			outcome.append(Waha(s).qr("late", timeout=(3, 20)))
		except requests.RequestException as exc:
			outcome.append(exc)

	t = threading.Thread(target=ask)
	t.start()
	time.sleep(0.2)
	s.stop()
	t.join(10)
	assert not t.is_alive() and isinstance(outcome[0], requests.ConnectionError)


def test_qr_generation_errors(waha: Waha) -> None:
	waha.create("e--qr_error")
	for _ in range(2):
		assert waha.status("e--qr_error") == "SCAN_QR_CODE"
		r = waha.qr("e--qr_error", params={"format": "raw"})
		assert r.status_code == 500
		data = r.json()
		assert data["statusCode"] == 500 and data["message"] == "Internal server error"
		assert (
			data["exception"]["message"] == "QR generation failed"
			and "\n    at " in data["exception"]["stack"]
		)
	assert waha.qr("e--qr_error", params={"format": "raw"}).status_code == 200


# -- pairing code --


def test_pairing_code(sim: WahaSimulator, waha: Waha) -> None:
	waha.create("p")
	r = waha.pair("p")
	assert r.status_code == 200 and re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", r.json()["code"])
	assert waha.pair("p").json()["code"] != r.json()["code"]
	for phone in ("12", "34 600", 34600111222, None):
		r = waha.pair("p", phone)
		assert r.status_code == 422 and r.json()["statusCode"] == 422
	sim.set_scenario("late", "qr_after")
	waha.create("late")
	assert waha.pair("late").status_code == 422
	assert waha.pair("ghost").status_code == 404
	assert sim.count("pairing") == 8


def test_pairing_faults(waha: Waha) -> None:
	waha.create("h--pairing_hang")
	with pytest.raises(requests.ReadTimeout):
		waha.pair("h--pairing_hang", timeout=(3, 0.2))
	assert waha.status("h--pairing_hang") == "SCAN_QR_CODE"  # only the pairing route hangs
	waha.create("f--pairing_500")
	r = waha.pair("f--pairing_500")
	assert r.status_code == 500 and r.json()["statusCode"] == 500
	assert r.json()["exception"]["stack"].startswith("Error")


# -- faults --


def test_faults(sim: WahaSimulator, waha: Waha) -> None:
	assert waha.create("u--unauthorized").json() == UNAUTHORIZED
	for name in ("h--html_502", "f--success_false", "n--not_json"):
		assert waha.create(name).status_code == 201
	for r in (waha.get("h--html_502"), waha.qr("h--html_502")):
		assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
	r = waha.get("f--success_false")
	assert r.status_code == 500
	assert r.json() == {"statusCode": 500, "message": "Something went wrong <script>alert(1)</script>"}
	assert waha.get("n--not_json").content == b'{"name": "default", "status": "SCAN'
	sim.set_scenario("big", SessionOptions(fault="huge_body", huge_mb=0.1))
	r = waha.qr("big")
	assert len(r.content) == int(0.1 * 1024 * 1024) and r.json()["value"].startswith("2@")
	with pytest.raises(requests.ReadTimeout):
		waha.get("z--hang", timeout=(3, 0.2))
	assert waha.create("gone--session_lost").status_code == 201
	assert waha.get("gone--session_lost").status_code == 404
	assert waha.create("gone--session_lost").status_code == 201
	assert waha.status("gone--session_lost") == "SCAN_QR_CODE"


def test_trickle(sim: WahaSimulator) -> None:
	port = int(sim.url.rsplit(":", 1)[1])
	with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
		sock.sendall(
			f"GET /api/t--trickle/auth/qr?format=raw HTTP/1.1\r\nHost: x\r\nX-Api-Key: {KEY}\r\n\r\n".encode()
		)
		data = b""
		while b"\r\n\r\n" not in data:
			chunk = sock.recv(4096)
			assert chunk
			data += chunk
		head, _, body = data.partition(b"\r\n\r\n")
		assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 200" in head
		sock.settimeout(2.5)  # longer than the gap between two bytes: a per-read timeout never fires
		started = time.monotonic()
		while time.monotonic() - started < 3.0:
			chunk = sock.recv(16)
			assert chunk, "the server hung up"
			body += chunk
		assert 0 < len(body) < 200  # still trickling after 3 s
	assert sim.count("qr", "t--trickle") == 1


# -- Core 2024 --


def test_core_2024_runs_only_default(core: WahaSimulator, clock: FakeClock) -> None:
	waha = Waha(core, None)
	assert waha.get("default").json()["status"] == "STOPPED"  # there from the start
	r = waha.create("sales")
	assert r.status_code == 422 and r.json()["message"].startswith(
		"WAHA Core support only 'default' session."
	)
	assert r.json()["error"] == "Unprocessable Entity" and "plus-version" in r.json()["message"]
	# WAHA (Node) says "Unprocessable Entity" on the status line too, whatever Python runs the simulator
	# (3.13's own phrase is "Unprocessable Content").
	assert r.reason == "Unprocessable Entity"
	assert waha.create("default").json() == unprocessable(
		"Session 'default' already exists. Use PUT to update it."
	)
	assert waha.op("default", "start").json()["status"] == "STARTING"
	assert waha.status("default") == "SCAN_QR_CODE"
	waha.call("DELETE", "/api/sessions/default")
	core.restart()
	assert waha.status("default") == "STOPPED"  # back after a restart


# -- webhooks --


def test_webhooks_from_create_with_hmac(
	sim: WahaSimulator, waha: Waha, listener: Listener, clock: FakeClock
) -> None:
	sim.set_scenario("w", "qr_after")
	hook = {"url": listener.url, "events": ["session.status"], "hmac": {"key": "hmac-SECRET"}}
	waha.create("filtered", config={"webhooks": [{"url": listener.url, "events": ["message"]}]})
	waha.create("w", config={"webhooks": [hook]})
	listener.wait_for(lambda lst: lst.statuses() == ["STARTING"])
	clock.advance(3)
	listener.wait_for(lambda lst: lst.statuses() == ["STARTING", "SCAN_QR_CODE"])
	sim.scan("w")
	listener.wait_for(lambda lst: len(lst.statuses()) == 3)
	waha.op("w", "stop")
	listener.wait_for(lambda lst: len(lst.statuses()) == 4)
	assert listener.statuses() == ["STARTING", "SCAN_QR_CODE", "WORKING", "STOPPED"]
	bodies = listener.bodies()
	scan, working = bodies[1], bodies[2]
	assert set(scan) == {"id", "timestamp", "event", "session", "me", "payload", "engine", "environment"}
	assert re.fullmatch(r"evt_[0-9a-hjkmnp-tv-z]{26}", scan["id"])  # a ULID
	assert abs(scan["timestamp"] / 1000 - time.time()) < 60
	assert scan["event"] == "session.status" and scan["session"] == "w" and scan["me"] is None
	assert scan["payload"] == {"status": "SCAN_QR_CODE"}  # no QR in it
	assert scan["engine"] == "NOWEB" and scan["environment"]["version"] == "2026.6.1"
	assert working["me"] == {"id": "34600111222@c.us", "pushName": "Sim"}
	for headers, raw in listener.received:
		expected = hmac.new(b"hmac-SECRET", raw, hashlib.sha512).hexdigest()
		assert headers["X-Webhook-Hmac"] == expected and headers["X-Webhook-Hmac-Algorithm"] == "sha512"
		assert headers["Content-Type"] == "application/json" and headers["X-Webhook-Request-Id"]
		assert abs(int(headers["X-Webhook-Timestamp"]) / 1000 - time.time()) < 60
	assert {e["session_id"] for e in sim.webhook_log} == {"w"}  # the filtered session sent nothing


def test_failed_event_and_global_webhook(
	sim: WahaSimulator, waha: Waha, listener: Listener, clock: FakeClock
) -> None:
	sim.set_webhook(listener.url, "g-SECRET", "hmac")
	waha.create("q--qr_limit")
	listener.wait_for(lambda lst: lst.statuses() == ["STARTING", "SCAN_QR_CODE"])
	clock.advance(6)
	listener.wait_for(lambda lst: lst.statuses()[-1:] == ["FAILED"])
	headers, raw = listener.received[-1]
	assert headers["X-Webhook-Hmac"] == hmac.new(b"g-SECRET", raw, hashlib.sha512).hexdigest()
	sim.set_webhook(listener.url, "plain-SECRET", "secret")
	waha.op("q--qr_limit", "stop")
	listener.wait_for(lambda lst: lst.statuses()[-1:] == ["STOPPED"])
	headers, _ = listener.received[-1]
	assert headers["X-Webhook-Secret"] == "plain-SECRET" and "X-Webhook-Hmac" not in headers
	with pytest.raises(ValueError):
		sim.set_webhook(listener.url, "s", "query")
	assert sim.webhook_failures == 0


def test_a_refused_settings_update_does_not_stop_the_link(core: WahaSimulator, clock: FakeClock) -> None:
	"""WAHA Core's "default" already exists: its settings go by PUT. When the PUT fails the QR still comes
	first; the missing webhook and store are reported apart (a ConfigNotApplied in the outcome's failures)."""
	from whatsapp_crm.gateway import errors
	from whatsapp_crm.gateway.acquire import QrPolicy
	from whatsapp_crm.gateway.adapters.waha import WahaClient
	from whatsapp_crm.gateway.client import Timeouts, WebhookTarget
	from whatsapp_crm.gateway.monitor import Watch, read_once

	core.set_scenario("default", "update_500")
	hook = WebhookTarget("http://127.0.0.1:9/hook", "s3cret")
	with WahaClient(core.url, KEY, Timeouts(1, 3), webhook=hook) as client:
		created = client.create_session("default")
		assert created.created is False and created.config_error is not None
		assert (
			created.config_error.code == errors.CONFIG_NOT_APPLIED and created.config_error.http_status == 500
		)
		assert core.count("start", "default") == 1  # started all the same
		watch = Watch("default", "default", started=clock.now(), next_due=clock.now(), create_first=True)
		outcome = read_once(client, watch, QrPolicy(deadline=5), clock=clock.now, sleep=clock.advance)
	assert outcome.state == "qr" and outcome.qr_code  # the QR is on screen
	assert [e.code for _n, e in outcome.failures] == [errors.CONFIG_NOT_APPLIED]
