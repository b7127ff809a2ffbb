"""Wire-level tests of the Evolution API v2 simulator: `requests` and sockets over loopback, nothing mocked.

The app's Evolution adapter is checked against this simulator, so its routes, bodies and quirks are pinned
here as Evolution 2.3.6 answers them.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from whatsapp_crm.simulator import (
	GATEWAY_TYPES,
	EvolutionSimulator,
	SessionOptions,
	make_simulator,
	qr_payload,
)
from whatsapp_crm.simulator.devserver import main
from whatsapp_crm.terminal import cli

KEY = "evo-key-123"
AUTH = {"apikey": KEY}
TIMEOUT = (3, 5)
UNAUTHORIZED = {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
def sim(clock: FakeClock) -> Iterator[EvolutionSimulator]:
	with EvolutionSimulator(KEY, scenario="qr_now", clock=clock.now, hang_max_s=10) as s:
		yield s


class Evo:
	def __init__(self, sim: EvolutionSimulator, key: str | None = KEY) -> None:
		self.sim = sim
		self.http = requests.Session()
		self.headers = {"apikey": key} if key is not None else {}

	def call(self, method: str, path: str, **kw: Any) -> requests.Response:
		kw.setdefault("timeout", TIMEOUT)
		headers = {**self.headers, **kw.pop("headers", {})}
		return self.http.request(method, self.sim.url + path, headers=headers, **kw)

	def create(self, name: str, **body: Any) -> requests.Response:
		return self.call("POST", "/instance/create", json={"instanceName": name, "qrcode": True, **body})

	def state(self, name: str) -> requests.Response:
		return self.call("GET", f"/instance/connectionState/{name}")

	def connect(self, name: str, **params: str) -> requests.Response:
		return self.call("GET", f"/instance/connect/{name}", params=params)

	def fetch(self, name: str | None = None) -> requests.Response:
		return self.call("GET", "/instance/fetchInstances", params={"instanceName": name} if name else {})


@pytest.fixture
def evo(sim: EvolutionSimulator) -> Iterator[Evo]:
	client = Evo(sim)
	yield client
	client.http.close()


def not_found(name: str) -> dict[str, Any]:
	return {
		"status": 404,
		"error": "Not Found",
		"response": {"message": [f'The "{name}" instance does not exist']},
	}


def state_of(evo: Evo, name: str) -> str:
	return evo.state(name).json()["instance"]["state"]


def check_png_data_uri(value: str, payload: str) -> None:
	"""A real PNG: magic, IHDR of 4 px per module (border included), IDAT that zlib-decodes to every row."""
	assert value.startswith("data:image/png;base64,")
	import base64

	raw = base64.b64decode(value.split(",", 1)[1], validate=True)
	check_png(raw, payload)


def check_png(raw: bytes, payload: str) -> None:
	from whatsapp_crm.gateway.qr import qr_matrix

	assert raw.startswith(PNG_MAGIC)
	length, kind = struct.unpack(">I4s", raw[8:16])
	assert kind == b"IHDR" and length == 13
	width, height, depth, color = struct.unpack(">IIBB", raw[16:26])
	modules = len(qr_matrix(payload))
	assert width == height == modules * 4 and depth == 8 and color == 0
	pos, idat = 8, b""
	while pos < len(raw):
		size, kind = struct.unpack(">I4s", raw[pos : pos + 8])
		data = raw[pos + 8 : pos + 8 + size]
		assert struct.unpack(">I", raw[pos + 8 + size : pos + 12 + size])[0] == zlib.crc32(kind + data)
		if kind == b"IDAT":
			idat += data
		pos += 12 + size
	pixels = zlib.decompress(idat)
	assert len(pixels) == height * (width + 1)
	assert pixels[1] == 0xFF  # the quiet zone is white


class Listener:
	"""A tiny webhook receiver: records (path, headers, body) and answers 200."""

	def __init__(self) -> None:
		self.received: list[tuple[str, dict[str, str], bytes]] = []
		self.lock = threading.Lock()
		outer = self

		class H(BaseHTTPRequestHandler):
			def do_POST(self) -> None:
				body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
				with outer.lock:
					outer.received.append((self.path, dict(self.headers), body))
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
			return [json.loads(body) for _, _, body in self.received]

	def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0) -> None:
		deadline = time.monotonic() + timeout
		while not predicate(self.bodies()):
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


def test_factory_and_types() -> None:
	assert GATEWAY_TYPES == ("baileys", "evolution", "waha")
	sim = make_simulator("evolution", api_key=KEY, delete_lag_s=1)
	assert isinstance(sim, EvolutionSimulator) and sim.gateway_type == "evolution" and sim.delete_lag_s == 1
	with pytest.raises(ValueError):
		make_simulator("nope")
	with make_simulator("evolution", start=True) as started:
		assert requests.get(started.url + "/", timeout=TIMEOUT).status_code == 200


def test_welcome_needs_no_key(sim: EvolutionSimulator) -> None:
	r = requests.get(sim.url + "/", timeout=TIMEOUT)
	assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
	assert r.json() == {
		"status": 200,
		"message": "Welcome to the Evolution API, it is working!",
		"version": "2.3.6",
		"clientName": "evolution_simulator",
		"manager": sim.url + "/manager",
		"documentation": "https://doc.evolution-api.com",
	}
	assert sim.count("health") == 1


@pytest.mark.parametrize("key", [None, "", "wrong", KEY + "x"])
def test_auth_everywhere(sim: EvolutionSimulator, evo: Evo, key: str | None) -> None:
	evo.create("a")
	bad = Evo(sim, key)
	for r in (
		bad.create("b"),
		bad.state("a"),
		bad.connect("a"),
		bad.connect("a", number="34600111222"),
		bad.fetch("a"),
		bad.call("DELETE", "/instance/logout/a"),
		bad.call("DELETE", "/instance/delete/a"),
		bad.call("POST", "/instance/restart/a"),
		bad.call("POST", "/_sim/restart"),
		bad.call("POST", "/_sim/sessions/a/scan"),
	):
		assert r.status_code == 401 and r.json() == UNAUTHORIZED
	assert state_of(evo, "a") == "connecting"  # nothing happened
	assert Evo(sim, "x").call("POST", "/_sim/restart", headers={"X-API-Key": KEY}).status_code == 401


def test_instance_token_is_a_key_for_its_instance(sim: EvolutionSimulator, evo: Evo) -> None:
	token = evo.create("a").json()["hash"]
	evo.create("b")
	assert re.fullmatch(r"[0-9A-F-]{36}", token)
	own = Evo(sim, token)
	assert own.state("a").status_code == 200
	assert own.state("b").status_code == 401  # not another instance's


def test_unknown_routes_and_methods_are_404(sim: EvolutionSimulator, evo: Evo) -> None:
	evo.create("a")
	for method, path in (
		("GET", "/nope"),
		("POST", "/"),
		("GET", "/instance/create"),
		("POST", "/instance/connectionState/a"),
		("GET", "/instance/logout/a"),
		("GET", "/instance/connectionState/"),
	):
		r = evo.call(method, path)
		assert r.status_code == 404, (method, path)
		assert r.json() == {
			"status": 404,
			"error": "Not Found",
			"response": {"message": [f"Cannot {method} {path}"]},
		}
	assert sim.count("other") == 6


# -- create --


def test_create(sim: EvolutionSimulator, evo: Evo) -> None:
	r = evo.create("sales", integration="WHATSAPP-BAILEYS")
	assert r.status_code == 201
	data = r.json()
	assert data["instance"] == {
		"instanceName": "sales",
		"instanceId": data["instance"]["instanceId"],
		"integration": "WHATSAPP-BAILEYS",
		"status": "connecting",
	}
	assert re.fullmatch(r"[0-9a-f-]{36}", data["instance"]["instanceId"]) and data["webhook"] == {}
	qr = data["qrcode"]
	assert set(qr) == {"pairingCode", "code", "base64", "count"}
	assert qr["pairingCode"] is None and qr["count"] == 1 and qr["code"] == qr_payload("sales", 0)
	check_png_data_uri(qr["base64"], qr["code"])
	r = evo.create("sales")
	assert r.status_code == 403
	assert r.json() == {
		"status": 403,
		"error": "Forbidden",
		"response": {"message": ['This name "sales" is already in use.']},
	}
	assert sim.count("create") == 2 and sim.count("create", "sales") == 2


def test_create_before_the_qr_and_without_qrcode(sim: EvolutionSimulator, evo: Evo) -> None:
	sim.set_scenario("late", "qr_after")
	assert evo.create("late").json()["qrcode"] == {"count": 0}
	assert "qrcode" not in evo.call("POST", "/instance/create", json={"instanceName": "plain"}).json()


@pytest.mark.parametrize(
	"body",
	[
		{},
		{"instanceName": ""},
		{"instanceName": 5},
		{"instanceName": "a b"},
		{"instanceName": "x" * 65},
		{"instanceName": "ok", "integration": "WHATSAPP-BUSINESS"},
		{"instanceName": "ok", "webhook": {"url": "ftp://x"}},
		{"instanceName": "ok", "webhook": {"url": "http://h", "headers": {"a": 1}}},
	],
)
def test_create_bad_bodies(evo: Evo, body: dict[str, Any]) -> None:
	r = evo.call("POST", "/instance/create", json=body)
	assert r.status_code == 400
	data = r.json()
	assert (
		data["status"] == 400
		and data["error"] == "Bad Request"
		and isinstance(data["response"]["message"], list)
	)
	assert evo.state("ok").status_code == 404


def test_create_delay(clock: FakeClock) -> None:
	with EvolutionSimulator(KEY, scenario="qr_now", clock=clock.now, create_delay_s=0.3) as s:
		evo = Evo(s)
		started = time.monotonic()
		assert evo.create("a").status_code == 201
		assert time.monotonic() - started >= 0.25  # a lower bound only
		s.set_scenario("b", SessionOptions(create_delay_s=0.5))
		outcome: list[requests.Response] = []
		t = threading.Thread(target=lambda: outcome.append(evo.create("b")))
		t.start()
		deadline = time.monotonic() + 3
		while s.count("create", "b") == 0 and time.monotonic() < deadline:
			time.sleep(0.01)
		time.sleep(0.1)
		# created at once, answered later: a client that timed out already finds it
		assert Evo(s).state("b").json()["instance"]["state"] == "connecting"
		t.join(5)
		assert outcome[0].status_code == 201


# -- state, QR, pairing code --


def test_state_and_connect_through_linking(sim: EvolutionSimulator, evo: Evo, clock: FakeClock) -> None:
	sim.set_scenario("a", SessionOptions(qr_after_s=3, rotate_s=10))
	evo.create("a")
	assert evo.state("a").json() == {"instance": {"instanceName": "a", "state": "connecting"}}
	r = evo.connect("a")
	assert r.status_code == 200 and r.json() == {"count": 0}
	clock.advance(3)
	data = evo.connect("a").json()
	assert data["count"] == 1 and data["pairingCode"] is None and data["code"] == qr_payload("a", 0)
	check_png_data_uri(data["base64"], data["code"])
	assert state_of(evo, "a") == "connecting"
	clock.advance(10)
	data = evo.connect("a").json()
	assert data["count"] == 2 and data["code"] == qr_payload("a", 1)
	sim.scan("a", "34999000111")
	assert state_of(evo, "a") == "open"
	assert evo.connect("a").json() == {"instance": {"instanceName": "a", "state": "open"}}
	assert sim.count("status", "a") == 3 and sim.count("qr", "a") == 4


def test_pairing_code(sim: EvolutionSimulator, evo: Evo) -> None:
	evo.create("p")
	data = evo.connect("p", number="34600111222").json()
	assert re.fullmatch(r"[A-Z0-9]{8}", data["pairingCode"]) and data["code"].startswith("2@")
	assert evo.connect("p", number="34600111222").json()["pairingCode"] != data["pairingCode"]
	assert evo.connect("p", number="12").status_code == 400
	assert sim.count("pairing", "p") == 3 and sim.count("qr", "p") == 0
	sim.set_scenario("late", "qr_after")
	evo.create("late")
	assert evo.connect("late", number="34600111222").json() == {"count": 0}


def test_qr_generation_errors_are_http_200(sim: EvolutionSimulator, evo: Evo) -> None:
	evo.create("e--qr_error")
	for _ in range(2):
		r = evo.connect("e--qr_error")
		assert r.status_code == 200 and r.json() == {
			"error": True,
			"message": "Error while generating QR code",
		}
	assert evo.connect("e--qr_error").json()["count"] == 1


def test_unknown_and_invalid_names(evo: Evo) -> None:
	for name in ("ghost", "a.b"):
		for r in (
			evo.state(name),
			evo.connect(name),
			evo.call("DELETE", f"/instance/logout/{name}"),
			evo.call("DELETE", f"/instance/delete/{name}"),
			evo.call("POST", f"/instance/restart/{name}"),
		):
			assert r.status_code == 404 and r.json() == not_found(name)
	unknown = evo.fetch("ghost")  # a filter that matches nothing: 404, as Evolution 2.3.6 answers
	assert unknown.status_code == 404 and unknown.json()["error"] == "Not Found"


def test_percent_decoded_names(sim: EvolutionSimulator, evo: Evo) -> None:
	evo.create("a-b")
	assert evo.call("GET", "/instance/connectionState/a%2Db").json()["instance"]["instanceName"] == "a-b"
	assert sim.requests[-1]["session_id"] == "a-b"


def test_fetch_instances(sim: EvolutionSimulator, evo: Evo) -> None:
	token = evo.create("a").json()["hash"]
	evo.create("b")
	rows = evo.fetch("a").json()
	assert rows == [
		{
			"id": rows[0]["id"],
			"name": "a",
			"connectionStatus": "connecting",
			"ownerJid": None,
			"profileName": None,
			"number": None,
			"integration": "WHATSAPP-BAILEYS",
			"token": token,
		}
	]
	sim.scan("a", "34611222333")
	row = evo.fetch("a").json()[0]
	assert row["connectionStatus"] == "open" and row["ownerJid"] == "34611222333@s.whatsapp.net"
	assert {r["name"] for r in evo.fetch().json()} == {"a", "b"}
	assert sim.count("phone") == 3 and sim.count("phone", "a") == 2


def test_logout(sim: EvolutionSimulator, evo: Evo) -> None:
	evo.create("a")
	r = evo.call("DELETE", "/instance/logout/a")
	assert r.status_code == 400
	assert r.json() == {
		"status": 400,
		"error": "Bad Request",
		"response": {"message": ['The "a" instance is not connected']},
	}
	sim.scan("a")
	r = evo.call("DELETE", "/instance/logout/a")
	assert r.status_code == 200
	assert r.json() == {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}
	assert state_of(evo, "a") == "close"
	assert evo.fetch("a").json()[0]["ownerJid"] is None
	# connecting a closed instance starts it again
	assert evo.connect("a").json()["count"] == 1 and state_of(evo, "a") == "connecting"
	assert sim.count("logout") == 2


def test_delete_is_asynchronous(sim: EvolutionSimulator, evo: Evo, clock: FakeClock) -> None:
	evo.create("a")
	r = evo.call("DELETE", "/instance/delete/a")
	assert r.status_code == 200
	assert r.json() == {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}
	assert state_of(evo, "a") == "close"  # still visible
	assert evo.call("DELETE", "/instance/delete/a").status_code == 200  # repeats too
	assert evo.create("a").status_code == 403  # the name is still taken
	clock.advance(0.5)
	assert evo.state("a").status_code == 404
	assert evo.call("DELETE", "/instance/delete/a").status_code == 404
	assert evo.create("a").status_code == 201
	assert sim.count("delete") == 3


def test_restart_route_bug(sim: EvolutionSimulator, evo: Evo) -> None:
	evo.create("a")
	for method in ("POST", "PUT"):
		r = evo.call(method, "/instance/restart/a")
		assert r.status_code == 200 and r.json() == {"error": True, "message": "[object Object]"}
	assert sim.count("restart") == 2


def test_offline_never_has_a_qr(sim: EvolutionSimulator, evo: Evo, clock: FakeClock) -> None:
	evo.create("o--offline")
	seen = []
	for _ in range(4):
		seen.append(state_of(evo, "o--offline"))
		assert evo.connect("o--offline").json() == {"count": 0}
		assert evo.connect("o--offline", number="34600111222").json() == {"count": 0}
		clock.advance(3)
	assert seen == ["connecting", "close", "connecting", "close"]
	clock.advance(600)
	assert evo.connect("o--offline").json() == {"count": 0}


def test_qr_limit_is_refused_for_good(sim: EvolutionSimulator, evo: Evo, clock: FakeClock) -> None:
	evo.create("q--qr_limit")  # rotate every 2 s, 3 QRs
	clock.advance(4)
	assert evo.connect("q--qr_limit").json()["count"] == 3
	clock.advance(2)
	assert state_of(evo, "q--qr_limit") == "refused"
	assert evo.connect("q--qr_limit").json() == {"count": 0}
	sim.scan("q--qr_limit")
	clock.advance(100)
	assert state_of(evo, "q--qr_limit") == "refused"
	assert evo.fetch("q--qr_limit").json()[0]["connectionStatus"] == "close"


def test_linked_scenario_wins_over_the_limit(sim: EvolutionSimulator, evo: Evo, clock: FakeClock) -> None:
	sim.set_scenario("l", SessionOptions(rotate_s=2, qr_limit=2, scan_after_s=1))
	evo.create("l")  # the QR was served by create
	clock.advance(10)
	assert state_of(evo, "l") == "open"


# -- faults --


def test_faults(sim: EvolutionSimulator, evo: Evo) -> None:
	assert evo.create("u--unauthorized").json() == UNAUTHORIZED
	for name in ("h--html_502", "f--success_false", "n--not_json"):
		assert evo.create(name).status_code == 201
	for r in (evo.state("h--html_502"), evo.connect("h--html_502")):
		assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
	for r in (evo.state("f--success_false"), evo.connect("f--success_false")):
		assert r.status_code == 200
		assert r.json() == {"error": True, "message": "Something went wrong <script>alert(1)</script>"}
	r = evo.state("n--not_json")
	assert r.status_code == 200 and r.content == b'{"instance": {"state": "op'
	sim.set_scenario("big", SessionOptions(fault="huge_body", huge_mb=0.1))
	r = evo.connect("big")
	assert len(r.content) == int(0.1 * 1024 * 1024) and r.json()["code"].startswith("2@")
	with pytest.raises(requests.ReadTimeout):
		evo.call("GET", "/instance/connectionState/z--hang", timeout=(3, 0.2))
	assert evo.create("gone--session_lost").status_code == 201
	assert evo.state("gone--session_lost").status_code == 404
	assert evo.create("gone--session_lost").status_code == 201
	assert state_of(evo, "gone--session_lost") == "connecting"


def read_head(sock: socket.socket) -> tuple[str, bytes]:
	data = b""
	while b"\r\n\r\n" not in data:
		chunk = sock.recv(4096)
		assert chunk, "closed before the headers"
		data += chunk
	head, _, rest = data.partition(b"\r\n\r\n")
	return head.decode("latin-1"), rest


def test_trickle(sim: EvolutionSimulator) -> None:
	port = int(sim.url.rsplit(":", 1)[1])
	with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
		sock.sendall(
			f"GET /instance/connectionState/t--trickle HTTP/1.1\r\nHost: x\r\napikey: {KEY}\r\n\r\n".encode()
		)
		head, body = read_head(sock)
		assert head.startswith("HTTP/1.1 200") and "Content-Length: 200" in head
		sock.settimeout(2.5)  # longer than the gap between two bytes: a per-read timeout never fires
		started = time.monotonic()
		while time.monotonic() - started < 3.0:
			chunk = sock.recv(16)
			assert chunk, "the server hung up"
			body += chunk
		assert 0 < len(body) < 200  # still trickling after 3 s
		sim.stop()  # releases it at once
		sock.settimeout(3)
		try:
			rest = sock.recv(1024)
			while rest:
				rest = sock.recv(1024)
		except ConnectionResetError:
			pass


# -- control routes --


def test_control_routes_and_restart(sim: EvolutionSimulator, evo: Evo) -> None:
	evo.create("linked")
	evo.create("waiting")
	r = evo.call("POST", "/_sim/sessions/linked/scan", json={"phone": "34111222333"})
	assert r.status_code == 200 and r.json()["status"] == "connected"
	assert evo.fetch("linked").json()[0]["ownerJid"] == "34111222333@s.whatsapp.net"
	assert evo.call("POST", "/_sim/sessions/ghost/scan").status_code == 404
	assert evo.call("POST", "/_sim/sessions/later/scenario", json={"scenario": "qr_error"}).status_code == 200
	assert evo.call("GET", "/_sim/restart").status_code == 405
	assert evo.call("POST", "/_sim/restart").json() == {"success": True}
	# Evolution keeps its instances: linked ones stay open, the others are closed until connected
	assert state_of(evo, "linked") == "open" and state_of(evo, "waiting") == "close"
	assert evo.connect("waiting").json()["count"] == 1
	evo.create("later")
	assert evo.connect("later").json()["error"] is True
	assert sim.count("control") == 5


def test_set_webhook_modes(sim: EvolutionSimulator) -> None:
	with pytest.raises(ValueError):
		sim.set_webhook("http://h", "s", "hmac")  # Evolution cannot sign
	sim.set_webhook("http://h", "s", "query")
	sim.set_webhook(None)
	r = Evo(sim).call("POST", "/_sim/webhook", json={"url": "http://127.0.0.1:9/x", "secret": "s3cret"})
	assert r.json() == {"success": True, "url": "http://127.0.0.1:9/x", "mode": "secret"}


# -- webhooks --


def test_webhooks_from_create(sim: EvolutionSimulator, evo: Evo, listener: Listener) -> None:
	hook = {
		"url": listener.url + "?secret=q-SECRET",
		"byEvents": False,
		"base64": False,
		"headers": {"X-Webhook-Secret": "h-SECRET"},
		"events": ["QRCODE_UPDATED", "CONNECTION_UPDATE", "LOGOUT_INSTANCE"],
	}
	data = evo.create("w", webhook=hook).json()
	assert data["webhook"] == hook
	token = data["hash"]
	listener.wait_for(lambda b: len(b) >= 1)
	sim.scan("w")
	listener.wait_for(lambda b: len(b) >= 2)
	evo.call("DELETE", "/instance/logout/w")
	listener.wait_for(lambda b: len(b) >= 3)
	qr, conn, logout = listener.bodies()[:3]
	path, headers, _ = listener.received[0]
	assert path == "/hook?secret=q-SECRET"
	assert headers["X-Webhook-Secret"] == "h-SECRET" and headers["Content-Type"] == "application/json"
	assert qr["event"] == "qrcode.updated" and qr["instance"] == "w"
	assert qr["data"]["qrcode"]["code"] == qr_payload("w", 0) and qr["data"]["qrcode"]["pairingCode"] is None
	check_png_data_uri(qr["data"]["qrcode"]["base64"], qr_payload("w", 0))
	for body in (qr, conn, logout):
		assert body["destination"] == listener.url + "?secret=q-SECRET"
		assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["date_time"])
		assert body["sender"] is None and body["server_url"] == sim.url and body["apikey"] == token
	assert conn["event"] == "connection.update"
	assert conn["data"] == {
		"instance": "w",
		"wuid": "34600111222@s.whatsapp.net",
		"profileName": "Sim",
		"state": "open",
		"statusReason": 200,
	}
	assert logout["event"] == "logout.instance" and logout["data"] == {"instance": "w"}
	# The sender logs a delivery after the listener has answered it: wait for the third entry.
	deadline = time.monotonic() + 5
	while len(sim.webhook_log) < 3 and time.monotonic() < deadline:
		time.sleep(0.02)
	assert [e["event"] for e in sim.webhook_log] == ["qrcode.updated", "connection.update", "logout.instance"]
	assert sim.webhook_failures == 0


def test_webhook_event_filter_and_by_events(sim: EvolutionSimulator, evo: Evo, listener: Listener) -> None:
	evo.create("only", webhook={"url": listener.url, "events": ["CONNECTION_UPDATE"], "byEvents": True})
	sim.scan("only")
	listener.wait_for(lambda b: len(b) >= 1)
	time.sleep(0.2)
	assert [b["event"] for b in listener.bodies()] == ["connection.update"]
	assert listener.received[0][0] == "/hook/connection-update"


def test_global_webhook(sim: EvolutionSimulator, evo: Evo, listener: Listener, clock: FakeClock) -> None:
	sim.set_webhook(listener.url, "g-SECRET", "query")
	sim.set_scenario("r", "qr_rotating")
	evo.create("r")
	listener.wait_for(lambda b: len(b) >= 1)
	clock.advance(2)
	listener.wait_for(lambda b: len(b) >= 2)
	assert [b["data"]["qrcode"]["code"] for b in listener.bodies()] == [
		qr_payload("r", 0),
		qr_payload("r", 1),
	]
	assert listener.received[0][0] == "/hook?secret=g-SECRET"
	sim.set_webhook(listener.url, "g-SECRET", "secret")
	sim.scan("r")
	listener.wait_for(lambda b: len(b) >= 3)
	path, headers, _ = listener.received[2]
	assert path == "/hook" and headers["X-Webhook-Secret"] == "g-SECRET"


def test_webhook_failures_never_leak_the_secret(sim: EvolutionSimulator, evo: Evo) -> None:
	evo.create("x", webhook={"url": "http://127.0.0.1:9/h", "headers": {"X-Webhook-Secret": "leak-SECRET"}})
	deadline = time.monotonic() + 5
	while not sim.webhook_log and time.monotonic() < deadline:
		time.sleep(0.02)
	entry = sim.webhook_log[0]
	assert entry["status"] is None and entry["error"] and "leak-SECRET" not in entry["error"]


# -- command line --


def test_main_serves_evolution() -> None:
	cmd = [
		sys.executable,
		"-m",
		"whatsapp_crm.simulator",
		"--port",
		"0",
		"--gateway-type",
		"evolution",
	]
	proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
	try:
		assert proc.stdout is not None
		line = proc.stdout.readline()
		# With no key chosen, the public default is named, and the doctor line to check it works as printed.
		m = re.fullmatch(
			r"Gateway simulator on (http://127\.0\.0\.1:\d+) \(evolution, scenario: linked, key: sim-secret-key\)\n",
			line,
		)
		assert m, line
		hint = proc.stdout.readline()
		assert hint == (
			f"Check it with: whatsapp-crm doctor --url {m.group(1)} --gateway-type evolution"
			" --api-key sim-secret-key\n"
		)
		assert cli.main(hint.split()[4:]) == 0
		assert requests.get(m.group(1) + "/", timeout=TIMEOUT).json()["version"] == "2.3.6"
		proc.send_signal(signal.SIGTERM)
		proc.communicate(timeout=5)
		assert proc.returncode == 0
	finally:
		if proc.poll() is None:
			proc.kill()
			proc.wait()
	with pytest.raises(SystemExit):
		main(["--gateway-type", "nope"])
