"""Wire-level tests of the gateway simulator: plain `requests` over real loopback HTTP, nothing mocked.

Whatever the client and the policy are tested against must itself speak the §2 contract exactly, so these pin
status codes, bodies and content types for every scenario and fault.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from whatsapp_crm.simulator import (
	DEFAULT_SCENARIO,
	SCENARIOS,
	BaileysSimulator,
	SessionOptions,
)
from whatsapp_crm.simulator.devserver import main

KEY = "test-key-123"
AUTH = {"X-API-Key": KEY}
TIMEOUT = (3, 5)
NGINX_502 = (
	"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
	"<hr><center>nginx</center></body></html>"
)


class FakeClock:
	def __init__(self, start: float = 1000.0) -> None:
		self.t = start

	def now(self) -> float:
		return self.t

	def advance(self, seconds: float) -> None:
		self.t += seconds


class Client:
	"""Thin helper over one keep-alive requests.Session."""

	def __init__(self, sim: BaileysSimulator, key: str | None = KEY) -> None:
		self.sim = sim
		self.http = requests.Session()
		self.headers = {"X-API-Key": key} if key is not None else {}

	def call(self, method: str, path: str, **kw: Any) -> requests.Response:
		kw.setdefault("timeout", TIMEOUT)
		headers = {**self.headers, **kw.pop("headers", {})}
		return self.http.request(method, self.sim.url + path, headers=headers, **kw)

	def create(self, sid: str) -> requests.Response:
		return self.call("POST", "/api/sessions", json={"sessionId": sid})

	def status(self, sid: str) -> requests.Response:
		return self.call("GET", f"/api/sessions/{sid}/status")

	def qr(self, sid: str) -> requests.Response:
		return self.call("GET", f"/api/sessions/{sid}/qr")

	def delete(self, sid: str) -> requests.Response:
		return self.call("DELETE", f"/api/sessions/{sid}")


@pytest.fixture
def clock() -> FakeClock:
	return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[BaileysSimulator]:
	with BaileysSimulator(KEY, scenario="qr_now", clock=clock.now, hang_max_s=10) as s:
		yield s


@pytest.fixture
def c(sim: BaileysSimulator) -> Iterator[Client]:
	client = Client(sim)
	yield client
	client.http.close()


def is_json(r: requests.Response) -> bool:
	return r.headers["Content-Type"].startswith("application/json")


# -- server basics --


def test_scenario_presets() -> None:
	required = {
		"qr_now", "qr_after", "qr_error", "qr_rotating", "linked", "hang", "slow", "unauthorized", "html_502",
		"success_false", "not_json", "huge_body", "session_lost",
	}  # fmt: skip
	assert required <= set(SCENARIOS)
	assert DEFAULT_SCENARIO == "linked"
	assert SCENARIOS["qr_after"].qr_after_s == 3
	assert SCENARIOS["qr_error"].qr_errors == 2
	assert SCENARIOS["qr_rotating"].rotate_s == 2
	assert SCENARIOS["linked"].scan_after_s == 3 and SCENARIOS["linked"].qr_after_s == 0
	assert SCENARIOS["slow"].delay_s == 1.5
	for name in (
		"hang",
		"unauthorized",
		"html_502",
		"success_false",
		"not_json",
		"huge_body",
		"session_lost",
	):
		assert SCENARIOS[name].fault == name
	with pytest.raises(ValueError):
		SessionOptions(fault="nope")
	with pytest.raises(ValueError):
		BaileysSimulator(scenario="nope")


def test_start_url_stop_idempotent() -> None:
	s = BaileysSimulator()
	with pytest.raises(RuntimeError):
		_ = s.url
	assert s.start() is s
	assert re.fullmatch(r"http://127\.0\.0\.1:\d+", s.url)
	assert s.start() is s  # already running: no second server
	r = requests.get(s.url + "/api/health", timeout=TIMEOUT)
	assert r.status_code == 200
	s.stop()
	s.stop()
	with pytest.raises(requests.ConnectionError):
		requests.get(s.url + "/api/health", timeout=TIMEOUT)


def test_health_needs_no_key(sim: BaileysSimulator, c: Client) -> None:
	r = requests.get(sim.url + "/api/health", timeout=TIMEOUT)
	assert r.status_code == 200 and is_json(r)
	assert r.json() == {
		"success": True,
		"status": "ok",
		"name": "whatsapp-crm-simulator",
		"version": "1.0",
		"sessions": 0,
	}
	c.create("a")
	c.create("b")
	assert requests.get(sim.url + "/api/health", timeout=TIMEOUT).json()["sessions"] == 2


def test_keep_alive_and_content_length(sim: BaileysSimulator) -> None:
	conn = http.client.HTTPConnection("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), timeout=5)
	try:
		for _ in range(3):  # several requests on one connection
			body = json.dumps({"sessionId": "ka"})
			conn.request(
				"POST", "/api/sessions", body=body, headers={**AUTH, "Content-Type": "application/json"}
			)
			r = conn.getresponse()
			data = r.read()
			assert r.status in (201, 409)
			assert int(r.headers["Content-Length"]) == len(data)
			assert r.headers.get("Connection", "").lower() != "close"
		conn.request("GET", "/api/sessions/ka/status", headers=AUTH)
		assert json.loads(conn.getresponse().read())["status"] == "qr"
	finally:
		conn.close()


# -- auth, ids, routing, bodies --


@pytest.mark.parametrize("key", [None, "", "wrong", KEY + "x"])
def test_auth_required_everywhere(sim: BaileysSimulator, key: str | None) -> None:
	bad = Client(sim, key)
	expected = {"success": False, "error": "UNAUTHORIZED", "message": "Invalid API key"}
	for r in (
		bad.create("a"),
		bad.status("a"),
		bad.qr("a"),
		bad.delete("a"),
		bad.call("POST", "/_sim/restart"),
		bad.call("POST", "/_sim/sessions/a/scan"),
		bad.call("POST", "/_sim/sessions/a/scenario", json={"scenario": "qr_now"}),
		bad.call("GET", "/api/sessions/a/nothing-here"),
	):
		assert r.status_code == 401 and is_json(r)
		assert r.json() == expected
	assert sim.count("create") == 1 and sim.count("control") == 3


@pytest.mark.parametrize("raw", ["a%2Fb", "a.b", "a%20b", "%C3%B1", "x" * 65, "a%00"])
def test_invalid_session_id_in_path(c: Client, raw: str) -> None:
	for r in (c.status(raw), c.qr(raw), c.delete(raw)):
		assert r.status_code == 400 and is_json(r)
		assert r.json() == {"success": False, "error": "INVALID_SESSION_ID"}


def test_empty_id_and_valid_edge_ids(c: Client) -> None:
	assert c.call("GET", "/api/sessions//status").json()["error"] == "INVALID_SESSION_ID"
	for sid in ("x" * 64, "A-z_0-9", "-", "_"):
		assert c.create(sid).status_code == 201
		assert c.status(sid).json()["sessionId"] == sid
	# percent-encoded safe characters are decoded before validation
	assert c.call("GET", "/api/sessions/A%2Dz_0-9/status").status_code == 200


@pytest.mark.parametrize("sid", ["", "a/b", "a b", "x" * 65, 12, None])
def test_invalid_session_id_in_create(c: Client, sid: object) -> None:
	r = c.call("POST", "/api/sessions", json={"sessionId": sid})
	assert r.status_code == 400 and r.json()["error"] == "INVALID_SESSION_ID"


def test_create_bad_bodies(c: Client) -> None:
	for data in (b"", b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"):
		r = c.call("POST", "/api/sessions", data=data, headers={"Content-Type": "application/json"})
		assert r.status_code == 400 and is_json(r) and r.json()["success"] is False
	r = c.call("POST", "/api/sessions", json={"sessionId": "a", "pad": "x" * (64 * 1024)})
	assert r.status_code == 413 and r.json()["error"] == "PAYLOAD_TOO_LARGE"
	assert c.create("a").status_code == 201  # the server is still fine


def test_unknown_routes_and_methods(sim: BaileysSimulator, c: Client) -> None:
	for method, path in (
		("GET", "/"),
		("GET", "/api"),
		("GET", "/nope"),
		("GET", "/api/sessions/a/qr/extra"),
	):
		r = c.call(method, path)
		assert r.status_code == 404 and is_json(r) and r.json()["success"] is False
	assert requests.get(sim.url + "/nope", timeout=TIMEOUT).status_code == 404  # no key, outside the API
	for method, path in (
		("GET", "/api/sessions"),
		("POST", "/api/sessions/a/status"),
		("PUT", "/api/sessions/a"),
	):
		r = c.call(method, path)
		assert r.status_code == 405 and is_json(r)
	assert c.call("POST", "/api/health").status_code == 405


# -- session lifecycle --


def test_create_status_qr_delete(sim: BaileysSimulator, c: Client) -> None:
	r = c.create("s1")
	assert r.status_code == 201 and is_json(r)
	assert r.json() == {"success": True, "sessionId": "s1", "status": "connecting"}
	r = c.create("s1")
	assert r.status_code == 409 and r.json()["success"] is False and r.json()["error"] == "SESSION_EXISTS"
	r = c.status("s1")
	assert r.status_code == 200 and r.json() == {
		"success": True,
		"sessionId": "s1",
		"status": "qr",
		"hasQR": True,
	}
	r = c.qr("s1")
	assert r.status_code == 200 and is_json(r) and r.json()["success"] is True
	qr = r.json()["qr"]
	assert re.fullmatch(r"2@[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,0", qr)
	assert c.qr("s1").json()["qr"] == qr  # stable within a generation
	r = c.delete("s1")
	assert r.status_code == 200 and r.json() == {"success": True}
	assert c.status("s1").json() == {
		"success": False,
		"error": "SESSION_NOT_FOUND",
		"message": "Session not found",
	}


def test_unknown_session(c: Client) -> None:
	for r in (c.status("ghost"), c.qr("ghost"), c.delete("ghost")):
		assert r.status_code == 404 and is_json(r)
		assert r.json() == {"success": False, "error": "SESSION_NOT_FOUND", "message": "Session not found"}


def test_qr_after(sim: BaileysSimulator, c: Client, clock: FakeClock) -> None:
	sim.set_scenario("late", "qr_after")
	c.create("late")
	assert c.status("late").json() == {
		"success": True,
		"sessionId": "late",
		"status": "connecting",
		"hasQR": False,
	}
	r = c.qr("late")
	assert r.status_code == 404
	assert r.json() == {"success": False, "error": "QR_NOT_READY", "message": "QR code not available yet"}
	clock.advance(2.9)
	assert c.qr("late").status_code == 404
	clock.advance(0.1)
	assert c.status("late").json()["status"] == "qr"
	assert c.qr("late").json()["qr"].endswith(",0")


def test_qr_error_then_success(c: Client) -> None:
	c.create("e--qr_error")
	for _ in range(2):
		st = c.status("e--qr_error").json()
		assert st["hasQR"] is True and st["status"] == "qr"  # status keeps saying a QR is available
		r = c.qr("e--qr_error")
		assert r.status_code == 500 and is_json(r)
		assert r.json() == {
			"success": False,
			"error": "QR_GENERATION_ERROR",
			"message": "Failed to generate QR code",
		}
	r = c.qr("e--qr_error")
	assert r.status_code == 200 and r.json()["qr"].startswith("2@")


def test_qr_errors_only_count_once_due(sim: BaileysSimulator, c: Client, clock: FakeClock) -> None:
	sim.set_scenario("d", SessionOptions(qr_after_s=5, qr_errors=1))
	c.create("d")
	assert c.qr("d").status_code == 404  # not due yet: not an error, and not counted
	clock.advance(5)
	assert c.qr("d").status_code == 500
	assert c.qr("d").status_code == 200


def test_qr_rotation(sim: BaileysSimulator, c: Client, clock: FakeClock) -> None:
	c.create("r--qr_rotating")
	c.create("other--qr_rotating")
	first = c.qr("r--qr_rotating").json()["qr"]
	assert first.endswith(",0")
	assert c.qr("other--qr_rotating").json()["qr"] != first  # per session
	clock.advance(1.9)
	assert c.qr("r--qr_rotating").json()["qr"] == first
	clock.advance(0.1)
	second = c.qr("r--qr_rotating").json()["qr"]
	assert second != first and second.endswith(",1")
	clock.advance(4)
	assert c.qr("r--qr_rotating").json()["qr"].endswith(",3")
	# rotate_s=0: never changes
	sim.set_scenario("still", SessionOptions(rotate_s=0))
	c.create("still")
	q = c.qr("still").json()["qr"]
	clock.advance(1000)
	assert c.qr("still").json()["qr"] == q


def test_linked_after_first_qr(sim: BaileysSimulator, c: Client, clock: FakeClock) -> None:
	sim.set_scenario("l", "linked")
	c.create("l")
	clock.advance(10)  # no QR served yet: nobody could have scanned
	assert c.status("l").json()["status"] == "qr"
	assert c.qr("l").status_code == 200
	clock.advance(2.9)
	assert c.status("l").json()["status"] == "qr"
	clock.advance(0.1)
	st = c.status("l").json()
	assert st == {
		"success": True,
		"sessionId": "l",
		"status": "connected",
		"hasQR": False,
		"phone": "34600111222",
	}
	r = c.qr("l")
	assert r.status_code == 409 and r.json()["success"] is False and r.json()["error"] == "ALREADY_CONNECTED"


def test_default_scenario_is_linked(clock: FakeClock) -> None:
	with BaileysSimulator(KEY, clock=clock.now) as s:
		c = Client(s)
		c.create("x")
		assert c.qr("x").status_code == 200
		clock.advance(3)
		assert c.status("x").json()["status"] == "connected"


def test_scan(sim: BaileysSimulator, c: Client) -> None:
	sim.scan("nobody")  # unknown session: ignored
	c.create("s")
	assert c.status("s").json()["status"] == "qr"
	sim.scan("s", phone="34999000111")
	st = c.status("s").json()
	assert st["status"] == "connected" and st["phone"] == "34999000111" and st["hasQR"] is False
	assert c.qr("s").status_code == 409


def test_restart(sim: BaileysSimulator, c: Client) -> None:
	c.create("a")
	c.create("b")
	sim.restart()
	assert c.status("a").status_code == 404 and c.qr("b").status_code == 404
	assert requests.get(sim.url + "/api/health", timeout=TIMEOUT).json()["sessions"] == 0
	assert c.create("a").status_code == 201


def test_session_lost_then_recreated(sim: BaileysSimulator, c: Client, clock: FakeClock) -> None:
	sid = "gone--session_lost"
	assert c.create(sid).status_code == 201
	r = c.status(sid)
	assert r.status_code == 404 and r.json()["error"] == "SESSION_NOT_FOUND"
	assert c.qr(sid).status_code == 404
	assert c.create(sid).status_code == 201  # re-create once: now it behaves like qr_now
	assert c.status(sid).json()["status"] == "qr"
	assert c.qr(sid).status_code == 200
	clock.advance(100)
	assert c.status(sid).status_code == 200  # lost only once


def test_session_lost_after_delay(sim: BaileysSimulator, c: Client, clock: FakeClock) -> None:
	sim.set_scenario("g", SessionOptions(fault="session_lost", lost_after_s=5))
	c.create("g")
	assert c.status("g").json()["status"] == "qr"
	assert c.qr("g").status_code == 200
	clock.advance(5)
	assert c.qr("g").status_code == 404
	assert c.create("g").status_code == 201
	clock.advance(50)
	assert c.status("g").status_code == 200


def test_scenario_selection_precedence(clock: FakeClock) -> None:
	with BaileysSimulator(KEY, scenario="qr_after", clock=clock.now) as s:
		c = Client(s)
		for sid in ("plain", "a--qr_error", "a--unknown", "x--qr_error--qr_now", "--", "ov--qr_error"):
			assert c.create(sid).status_code == 201
		s.set_scenario("ov--qr_error", "qr_now")  # override after create beats the id suffix
		assert c.qr("plain").status_code == 404  # constructor default: qr_after
		assert c.qr("a--unknown").status_code == 404  # unknown suffix: default
		assert c.qr("a--qr_error").status_code == 500  # suffix
		assert c.qr("x--qr_error--qr_now").status_code == 200  # text after the LAST "--"
		assert c.qr("ov--qr_error").status_code == 200
		s.set_scenario("pre", "html_502")  # before create
		c.create("pre")
		assert c.status("pre").status_code == 502
	with pytest.raises(ValueError):
		s.set_scenario("a", "nope")
	with pytest.raises(ValueError):
		s.set_scenario("bad/id", "qr_now")


# -- faults --


def test_fault_unauthorized(c: Client) -> None:
	sid = "u--unauthorized"
	for r in (c.create(sid), c.status(sid), c.qr(sid), c.delete(sid)):
		assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"
	assert c.create("fine").status_code == 201  # other sessions unaffected


def test_default_scenario_unauthorized_applies_to_create() -> None:
	with BaileysSimulator(KEY, scenario="unauthorized") as s:
		c = Client(s)
		assert c.create("a").status_code == 401
		assert requests.get(s.url + "/api/health", timeout=TIMEOUT).status_code == 200


def test_fault_html_502(c: Client) -> None:
	sid = "h--html_502"
	assert c.create(sid).status_code == 201  # create behaves normally
	for r in (c.status(sid), c.qr(sid)):
		assert r.status_code == 502
		assert r.headers["Content-Type"].startswith("text/html")
		assert r.text == NGINX_502
	assert c.delete(sid).status_code == 200


def test_fault_success_false(c: Client) -> None:
	sid = "f--success_false"
	assert c.create(sid).status_code == 201
	for r in (c.status(sid), c.qr(sid)):
		assert r.status_code == 200 and is_json(r)
		assert r.json() == {
			"success": False,
			"error": "INTERNAL_ERROR",
			"message": "Something went wrong <script>alert(1)</script>",
		}


def test_fault_not_json(c: Client) -> None:
	sid = "n--not_json"
	assert c.create(sid).status_code == 201
	for r in (c.status(sid), c.qr(sid)):
		assert r.status_code == 200 and is_json(r)
		assert r.content == b'{"success": tru'
		with pytest.raises(ValueError):
			r.json()
	assert c.create("next").status_code == 201  # keep-alive stays in sync after a broken body


def test_fault_huge_body(sim: BaileysSimulator, c: Client) -> None:
	sid = "big--huge_body"
	assert c.create(sid).status_code == 201
	r = c.status(sid)
	assert r.status_code == 200 and is_json(r)
	assert len(r.content) == 5 * 1024 * 1024 == int(r.headers["Content-Length"])
	data = r.json()
	assert data["success"] is True and data["status"] == "qr"
	sim.set_scenario("small", SessionOptions(fault="huge_body", huge_mb=0.5))
	r = c.qr("small")
	assert len(r.content) == 512 * 1024 and r.json()["qr"].startswith("2@")


def test_huge_body_client_hangs_up_early(sim: BaileysSimulator) -> None:
	with requests.get(
		sim.url + "/api/sessions/big--huge_body/qr", headers=AUTH, stream=True, timeout=TIMEOUT
	) as r:
		assert int(r.headers["Content-Length"]) == 5 * 1024 * 1024
		assert len(r.raw.read(1024)) == 1024
	# the server shrugs it off
	assert requests.get(sim.url + "/api/health", timeout=TIMEOUT).status_code == 200


def test_fault_slow(sim: BaileysSimulator, c: Client) -> None:
	assert SCENARIOS["slow"].delay_s == 1.5
	sim.set_scenario("slow", SessionOptions(delay_s=0.3))
	start = time.monotonic()
	assert c.create("slow").status_code == 201
	assert c.status("slow").json()["status"] == "qr"
	assert time.monotonic() - start >= 0.55  # a lower bound only: both answers were delayed
	with pytest.raises(requests.ReadTimeout):
		c.call("GET", "/api/sessions/slow/qr", timeout=(3, 0.1))


def test_fault_hang_times_out_and_is_logged(sim: BaileysSimulator, c: Client) -> None:
	sid = "z--hang"
	calls: list[tuple[str, str, dict[str, Any]]] = [
		("POST", "/api/sessions", {"json": {"sessionId": sid}}),
		("GET", f"/api/sessions/{sid}/status", {}),
		("GET", f"/api/sessions/{sid}/qr", {}),
	]
	for method, path, kw in calls:
		with pytest.raises(requests.ReadTimeout):
			c.call(method, path, timeout=(3, 0.2), **kw)
	assert sim.count(session_id=sid) == 3
	assert all(e["status"] is None for e in sim.requests if e["session_id"] == sid)  # never answered
	assert c.delete(sid).status_code == 404  # delete is not hung; the create never happened


def test_hang_released_by_hang_max_s() -> None:
	with BaileysSimulator(KEY, scenario="hang", hang_max_s=0.2) as s:
		with pytest.raises(requests.ConnectionError):
			requests.get(s.url + "/api/sessions/a/status", headers=AUTH, timeout=(3, 5))


def test_stop_releases_hanging_request() -> None:
	s = BaileysSimulator(KEY, scenario="hang").start()
	outcome: list[object] = []

	def hang() -> None:
		try:
			outcome.append(requests.get(s.url + "/api/sessions/a/status", headers=AUTH, timeout=(3, 4)))
		except requests.RequestException as exc:
			outcome.append(exc)

	t = threading.Thread(target=hang)
	t.start()
	deadline = time.monotonic() + 3
	while s.count("status") == 0 and time.monotonic() < deadline:
		time.sleep(0.01)
	assert s.count("status") == 1  # the request is in, and hanging
	s.stop()
	t.join(5)
	assert not t.is_alive()
	assert len(outcome) == 1
	# a closed connection without an answer (a read timeout would also have ended it, but much later)
	assert isinstance(outcome[0], requests.ConnectionError)


# -- control routes --


def test_control_routes(sim: BaileysSimulator, c: Client) -> None:
	c.create("ctl")
	r = c.call("POST", "/_sim/sessions/ctl/scan", json={"phone": "34111222333"})
	assert r.status_code == 200 and r.json()["success"] is True
	assert c.status("ctl").json()["phone"] == "34111222333"
	c.create("ctl2")
	assert c.call("POST", "/_sim/sessions/ctl2/scan").status_code == 200  # body optional
	assert c.status("ctl2").json()["phone"] == "34600111222"
	assert c.call("POST", "/_sim/sessions/ghost/scan").status_code == 404

	r = c.call("POST", "/_sim/sessions/ctl3/scenario", json={"scenario": "qr_error"})
	assert r.status_code == 200 and r.json()["success"] is True
	c.create("ctl3")
	assert c.qr("ctl3").status_code == 500
	for body in ({"scenario": "nope"}, {}, {"scenario": 3}):
		assert c.call("POST", "/_sim/sessions/ctl3/scenario", json=body).status_code == 400
	assert c.call("POST", "/_sim/sessions/bad.id/scan").status_code == 400

	assert c.call("POST", "/_sim/restart").json() == {"success": True}
	assert c.status("ctl").status_code == 404
	assert sim.count("control") == 9


# -- request log --


def test_request_log(sim: BaileysSimulator, c: Client) -> None:
	c.create("a")
	c.status("a")
	c.status("a")
	c.qr("a")
	c.status("b")
	c.delete("a")
	requests.get(sim.url + "/api/health", timeout=TIMEOUT)
	c.call("GET", "/elsewhere")
	assert sim.count() == 8
	assert sim.count("status") == 3 and sim.count("status", "a") == 2 and sim.count(session_id="a") == 5
	assert sim.count("create") == sim.count("qr") == sim.count("delete") == sim.count("health") == 1
	assert sim.count("other") == 1
	log = sim.requests
	assert log[0] == {
		"method": "POST",
		"path": "/api/sessions",
		"endpoint": "create",
		"session_id": "a",
		"status": 201,
	}
	assert log[4] == {
		"method": "GET",
		"path": "/api/sessions/b/status",
		"endpoint": "status",
		"session_id": "b",
		"status": 404,
	}
	assert KEY not in json.dumps(log)
	log.clear()  # a copy: the simulator's own log is untouched
	assert sim.count() == 8
	sim.reset_log()
	assert sim.count() == 0 and sim.requests == []


def test_concurrent_requests(sim: BaileysSimulator) -> None:
	errors: list[BaseException] = []

	def worker(n: int) -> None:
		try:
			c = Client(sim)
			c.create(f"w{n}")
			for _ in range(10):
				assert c.status(f"w{n}").status_code == 200
		except BaseException as exc:
			errors.append(exc)

	threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
	for t in threads:
		t.start()
	for t in threads:
		t.join(10)
	assert not errors
	assert sim.count("status") == 80 and sim.count("create") == 8


# -- command line --


def test_main_serves_until_sigterm() -> None:
	env = {**os.environ, "WHATSAPP_CRM_API_KEY": "env-key-SECRET"}
	cmd = [sys.executable, "-m", "whatsapp_crm.simulator", "--port", "0", "--scenario", "qr_error"]
	proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
	try:
		assert proc.stdout is not None
		line = proc.stdout.readline()
		m = re.fullmatch(
			r"Gateway simulator on (http://127\.0\.0\.1:\d+) \(scenario: qr_error, key: \*\*\*\*\)\n", line
		)
		assert m, line
		url = m.group(1)
		r = requests.post(
			url + "/api/sessions",
			json={"sessionId": "cli"},
			headers={"X-API-Key": "env-key-SECRET"},
			timeout=TIMEOUT,
		)
		assert r.status_code == 201
		assert (
			requests.get(
				url + "/api/sessions/cli/qr", headers={"X-API-Key": "env-key-SECRET"}, timeout=TIMEOUT
			).status_code
			== 500
		)
		proc.send_signal(signal.SIGTERM)
		out, err = proc.communicate(timeout=5)
		assert proc.returncode == 0
		assert "SECRET" not in line + out + err
	finally:
		if proc.poll() is None:
			proc.kill()
			proc.wait()


def test_main_rejects_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
	with pytest.raises(SystemExit) as exc:
		main(["--scenario", "nope", "--port", "0"])
	assert exc.value.code == 2


def test_main_port_in_use_returns_1(capsys: pytest.CaptureFixture[str]) -> None:
	with socket.socket() as busy:
		busy.bind(("127.0.0.1", 0))
		busy.listen()
		before = signal.getsignal(signal.SIGTERM)
		assert main(["--port", str(busy.getsockname()[1]), "--api-key", "k-SECRET"]) == 1
		assert signal.getsignal(signal.SIGTERM) == before  # handlers restored
	out, err = capsys.readouterr()
	assert "Cannot listen" in err and "SECRET" not in out + err


# -- pairing code --


def pair(c: Client, sid: str, body: Any = None, **kw: Any) -> requests.Response:
	return c.call("POST", f"/api/sessions/{sid}/pairing-code", json=body, **kw)


def test_pairing_code(sim: BaileysSimulator, c: Client) -> None:
	c.create("p")
	r = pair(c, "p", {"phoneNumber": "+34600111222"})
	assert r.status_code == 200 and is_json(r)
	code = r.json()["code"]
	assert r.json() == {"success": True, "code": code} and re.fullmatch(r"[A-Z0-9]{8}", code)
	again = pair(c, "p", {"phoneNumber": "34600111222"}).json()["code"]
	assert again != code  # a new code per request
	c.delete("p")
	c.create("p")
	assert pair(c, "p", {"phoneNumber": "34600111222"}).json()["code"] == code  # deterministic
	c.create("q")
	assert pair(c, "q", {"phoneNumber": "34600111222"}).json()["code"] != code  # per session
	assert pair(c, "q", {"phoneNumber": "12345678"}).status_code == 200
	assert pair(c, "q", {"phoneNumber": "1" * 15}).status_code == 200
	assert sim.requests[-1]["endpoint"] == "pairing" and sim.requests[-1]["session_id"] == "q"
	assert c.status("p").json()["status"] == "qr"  # asking for a code changes nothing else


@pytest.mark.parametrize(
	"body",
	[
		None,
		{},
		{"phoneNumber": ""},
		{"phoneNumber": "1234567"},
		{"phoneNumber": "1" * 16},
		{"phoneNumber": "34 600 111 222"},
		{"phoneNumber": "++34600111222"},
		{"phoneNumber": 34600111222},
		{"phone": "34600111222"},
	],
)
def test_pairing_code_invalid_phone(c: Client, body: Any) -> None:
	c.create("p")
	r = pair(c, "p", body)
	assert r.status_code == 400 and is_json(r)
	assert r.json()["success"] is False and r.json()["error"] in ("INVALID_PHONE", "INVALID_JSON")
	if body is not None:
		assert r.json()["error"] == "INVALID_PHONE"


def test_pairing_code_connected_unknown_and_methods(sim: BaileysSimulator, c: Client) -> None:
	c.create("p")
	sim.scan("p")
	r = pair(c, "p", {"phoneNumber": "34600111222"})
	assert r.status_code == 409 and r.json()["success"] is False and r.json()["error"] == "ALREADY_CONNECTED"
	r = pair(c, "ghost", {"phoneNumber": "34600111222"})
	assert r.status_code == 404 and r.json()["error"] == "SESSION_NOT_FOUND"
	assert c.call("GET", "/api/sessions/p/pairing-code").status_code == 405
	assert pair(c, "a.b", {"phoneNumber": "34600111222"}).status_code == 400
	assert pair(Client(sim, "wrong"), "p", {"phoneNumber": "34600111222"}).status_code == 401


def test_pairing_code_faults(sim: BaileysSimulator, c: Client) -> None:
	phone = {"phoneNumber": "34600111222"}
	r = pair(c, "u--unauthorized", phone)
	assert r.status_code == 401 and r.json()["error"] == "UNAUTHORIZED"
	c.create("h--html_502")
	r = pair(c, "h--html_502", phone)
	assert r.status_code == 502 and r.text == NGINX_502
	c.create("f--success_false")
	assert pair(c, "f--success_false", phone).json()["success"] is False
	assert pair(c, "n--not_json", phone).content == b'{"success": tru'
	sim.set_scenario("big", SessionOptions(fault="huge_body", huge_mb=0.1))
	r = pair(c, "big", phone)
	assert len(r.content) == int(0.1 * 1024 * 1024)
	assert re.fullmatch(r"[A-Z0-9]{8}", r.json()["code"])
	with pytest.raises(requests.ReadTimeout):
		pair(c, "z--hang", phone, timeout=(3, 0.2))
	assert sim.count("pairing") == 6


# -- webhook control route --


def test_webhook_control_route(sim: BaileysSimulator, c: Client) -> None:
	r = c.call("POST", "/_sim/webhook", json={"url": "http://127.0.0.1:9/hook", "secret": "s3cr3t-VALUE"})
	assert r.status_code == 200 and r.json() == {
		"success": True,
		"url": "http://127.0.0.1:9/hook",
		"mode": "hmac",
	}
	assert "s3cr3t-VALUE" not in r.text
	r = c.call("POST", "/_sim/webhook", json={"url": "http://127.0.0.1:9/hook", "mode": "secret"})
	assert r.json()["mode"] == "secret"
	for body in (
		{"url": "ftp://x"},
		{"url": "nope"},
		{"url": 5},
		{"url": "http://h", "mode": "md5"},
		{"url": "http://h", "secret": 5},
	):
		r = c.call("POST", "/_sim/webhook", json=body)
		assert r.status_code == 400 and r.json()["error"] == "INVALID_WEBHOOK", body
	r = c.call("POST", "/_sim/webhook", data=b"[1]", headers={"Content-Type": "application/json"})
	assert r.status_code == 400 and r.json()["error"] == "INVALID_JSON"
	assert Client(sim, "wrong").call("POST", "/_sim/webhook", json={"url": None}).status_code == 401
	assert c.call("GET", "/_sim/webhook").status_code == 405
	assert c.call("POST", "/_sim/webhook", json={"url": None}).json()["url"] is None
	assert sim.webhook_log == []  # nothing to send: no session, and the URL is gone
