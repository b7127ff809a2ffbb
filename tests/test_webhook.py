"""Gateway webhooks: verify() and parse_event() on their own, then the simulator's sender end to end.

End to end is real loopback HTTP: a tiny receiver collects what a BaileysSimulator POSTs, and every request
must pass verify() and parse_event(). The simulator signs with its own copy of the scheme, so this also checks
two independent implementations of the contract against each other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from whatsapp_crm.gateway.adapters.baileys import BaileysClient
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.gateway.status import Kind
from whatsapp_crm.gateway.webhook import (
	MAX_WEBHOOK_BODY,
	WebhookEvent,
	WebhookRejected,
	event_state,
	parse_event,
	replay_key,
	sign,
	verify,
)
from whatsapp_crm.simulator import DEFAULT_PHONE, BaileysSimulator, qr_payload
from whatsapp_crm.simulator.baileys import webhook_auth

SECRET = "whsec-SENTINEL-9d2f71"
KEY = "sim-key-for-webhooks"
NOW = 1_700_000_000
BODY = json.dumps({"event": "qr", "sessionId": "sales-1", "id": "evt-1", "qr": "2@abc"}).encode()


def event_body(**fields: Any) -> bytes:
	return json.dumps({"event": "connection", "sessionId": "sales-1", **fields}).encode()


def rejected(call: Callable[[], object]) -> WebhookRejected:
	with pytest.raises(WebhookRejected) as e:
		call()
	assert SECRET not in str(e.value) and SECRET not in repr(e.value)
	return e.value


# -- verify --


def test_sign_matches_the_documented_scheme() -> None:
	headers = sign(BODY, SECRET, NOW)
	expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
	assert headers == {"X-Webhook-Timestamp": str(NOW), "X-Webhook-Signature": f"sha256={expected}"}
	with pytest.raises(ValueError):
		sign(BODY, "", NOW)


def test_verify_good_signature_and_good_secret() -> None:
	assert verify(sign(BODY, SECRET, NOW), BODY, SECRET, now=NOW) == "hmac"
	assert verify({"X-Webhook-Secret": SECRET}, BODY, SECRET, now=NOW) == "secret"


@pytest.mark.parametrize("given", ["wrong", SECRET + "x", SECRET[:-1], SECRET.upper(), "é" * 5])
def test_verify_bad_secret(given: str) -> None:
	e = rejected(lambda: verify({"X-Webhook-Secret": given}, BODY, SECRET, now=NOW))
	assert (e.code, e.http_status) == ("UNAUTHENTICATED", 401)


def test_verify_bad_signatures() -> None:
	good = sign(BODY, SECRET, NOW)
	other_key = sign(BODY, "another-secret", NOW)
	variants: list[dict[str, str]] = [
		other_key,
		sign(BODY + b" ", SECRET, NOW),  # signed another body
		{**good, "X-Webhook-Timestamp": str(NOW + 1)},  # timestamp changed after signing
		{**good, "X-Webhook-Signature": good["X-Webhook-Signature"][:-1]},
		{**good, "X-Webhook-Signature": good["X-Webhook-Signature"].removeprefix("sha256=")},
		{**good, "X-Webhook-Signature": good["X-Webhook-Signature"].replace("sha256=", "sha1=")},
		{**good, "X-Webhook-Signature": "sha256=" + "z" * 64},
		{"X-Webhook-Signature": good["X-Webhook-Signature"]},  # no timestamp
		{**good, "X-Webhook-Timestamp": "soon"},
		{**good, "X-Webhook-Timestamp": "-5"},
	]
	for headers in variants:
		e = rejected(lambda h=headers: verify(h, BODY, SECRET, now=NOW))
		assert e.code == "UNAUTHENTICATED", headers


def test_verify_missing_credentials() -> None:
	for headers in (
		{},
		{"X-Webhook-Timestamp": str(NOW)},
		{"X-Webhook-Secret": "", "X-Webhook-Signature": " "},
	):
		e = rejected(lambda h=headers: verify(h, BODY, SECRET, now=NOW))
		assert e.code == "UNAUTHENTICATED"


def test_verify_stale_and_future_timestamps() -> None:
	headers = sign(BODY, SECRET, NOW)
	assert verify(headers, BODY, SECRET, now=NOW + 300) == "hmac"  # the edges are inside the window
	assert verify(headers, BODY, SECRET, now=NOW - 300) == "hmac"
	for now in (NOW + 301, NOW - 301, NOW + 86_400):
		e = rejected(lambda n=now: verify(headers, BODY, SECRET, now=n))
		assert (e.code, e.http_status) == ("STALE", 401)
	assert verify(headers, BODY, SECRET, now=NOW + 1000, tolerance_s=1000) == "hmac"
	# an old request with a wrong signature is a forgery first: it learns nothing about the window
	forged = sign(BODY, "guess", NOW - 10_000)
	assert rejected(lambda: verify(forged, BODY, SECRET, now=NOW)).code == "UNAUTHENTICATED"


def test_verify_both_headers_the_signature_decides() -> None:
	good = sign(BODY, SECRET, NOW)
	bad = sign(BODY, "not-the-secret", NOW)
	# a right shared secret does not cover for a wrong signature
	e = rejected(lambda: verify({**bad, "X-Webhook-Secret": SECRET}, BODY, SECRET, now=NOW))
	assert e.code == "UNAUTHENTICATED"
	assert verify({**good, "X-Webhook-Secret": SECRET}, BODY, SECRET, now=NOW) == "hmac"
	assert verify({**good, "X-Webhook-Secret": "stale-secret"}, BODY, SECRET, now=NOW) == "hmac"
	# and a stale but genuine signature is not rescued by the shared secret either
	e = rejected(lambda: verify({**good, "X-Webhook-Secret": SECRET}, BODY, SECRET, now=NOW + 1000))
	assert e.code == "STALE"


def test_verify_header_names_are_case_insensitive() -> None:
	good = sign(BODY, SECRET, NOW)
	lower = {k.lower(): v for k, v in good.items()}
	upper = {k.upper(): v for k, v in good.items()}
	assert verify(lower, BODY, SECRET, now=NOW) == "hmac"
	assert verify(upper, BODY, SECRET, now=NOW) == "hmac"
	assert verify({"x-webhook-secret": SECRET}, BODY, SECRET, now=NOW) == "secret"
	# hex digits and the prefix are case-insensitive too
	sig = good["X-Webhook-Signature"]
	shouted = {**good, "X-Webhook-Signature": "SHA256=" + sig.removeprefix("sha256=").upper()}
	assert verify(shouted, BODY, SECRET, now=NOW) == "hmac"


def test_verify_body_size() -> None:
	big = b"x" * (MAX_WEBHOOK_BODY + 1)
	e = rejected(lambda: verify(sign(big, SECRET, NOW), big, SECRET, now=NOW))
	assert (e.code, e.http_status) == ("BODY_TOO_LARGE", 413)
	at_cap = b"x" * MAX_WEBHOOK_BODY
	assert verify(sign(at_cap, SECRET, NOW), at_cap, SECRET, now=NOW) == "hmac"
	assert rejected(lambda: verify({}, BODY, SECRET, now=NOW, max_body=10)).code == "BODY_TOO_LARGE"


def test_verify_empty_secret_is_not_configured() -> None:
	unset: Any = None  # a Password field never filled in
	for secret in ("", unset):
		e = rejected(lambda s=secret: verify({"X-Webhook-Secret": "x"}, BODY, s, now=NOW))
		assert (e.code, e.http_status) == ("NOT_CONFIGURED", 503)


def test_rejection_codes_and_statuses() -> None:
	expected = {
		"BODY_TOO_LARGE": 413,
		"UNAUTHENTICATED": 401,
		"STALE": 401,
		"MALFORMED": 400,
		"REPLAYED": 409,
		"NOT_CONFIGURED": 503,
	}
	for code, status in expected.items():
		e = WebhookRejected(code)
		assert (e.code, e.http_status, str(e)) == (code, status, code)
	with pytest.raises(ValueError):
		WebhookRejected("NOPE")


def test_secret_never_in_any_rejection() -> None:
	texts = []
	for headers in (
		{"X-Webhook-Secret": SECRET + "!"},
		{"X-Webhook-Secret": SECRET[:5]},
		sign(BODY, SECRET, NOW - 5000),
		{**sign(BODY, SECRET, NOW), "X-Webhook-Signature": "sha256=" + SECRET},
	):
		with pytest.raises(WebhookRejected) as e:
			verify(headers, BODY, SECRET, now=NOW)
		texts += [str(e.value), repr(e.value), e.value.detail, repr(e.value.args)]
	assert all(SECRET not in t and SECRET[:5] not in t for t in texts)


# -- parse_event --


@pytest.mark.parametrize(
	"name,kind",
	[
		("qr", "qr"),
		("qr.updated", "qr"),
		("qrcode.updated", "qr"),
		("QRCODE_UPDATED", "qr"),
		("QR.Updated", "qr"),
		("connection", "connection"),
		("connection.update", "connection"),
		("CONNECTION_UPDATE", "connection"),
		("session.status", "connection"),
		("Session.Status", "connection"),
		("logout", "logout"),
		("logged_out", "logout"),
		("LOGOUT", "logout"),
		("Logged_Out", "logout"),
	],
)
def test_parse_every_alias(name: str, kind: str) -> None:
	event = parse_event(json.dumps({"event": name, "sessionId": "s_1-A", "qr": "2@x"}).encode())
	assert event.kind == kind and event.session_id == "s_1-A"


def test_parse_full_events() -> None:
	assert parse_event(BODY) == WebhookEvent("qr", "sales-1", "evt-1", None, "2@abc", None, None)
	body = event_body(id="a.b:c_d-1", timestamp=NOW, status="connected", phone="34600111222:7@s.whatsapp.net")
	assert parse_event(body) == WebhookEvent(
		"connection", "sales-1", "a.b:c_d-1", NOW, None, "connected", "34600111222:7@s.whatsapp.net"
	)
	# optional fields may be null; unknown extra fields are ignored
	body = json.dumps(
		{"event": "logout", "sessionId": "x", "id": None, "timestamp": None, "reason": {"any": "thing"}}
	).encode()
	assert parse_event(body) == WebhookEvent("logout", "x", None, None, None, None, None)


def test_parse_keeps_markup_as_data() -> None:
	status = "<script>alert(1)</script>"
	assert parse_event(event_body(status=status)).status == status
	assert parse_event(event_body(phone="<b>34600</b>")).phone == "<b>34600</b>"


@pytest.mark.parametrize(
	"body",
	[
		b"",
		b"\xff\xfe{}",
		b"{not json",
		b"[1, 2]",
		b'"qr"',
		b"null",
		b"[" * 100_000 + b"]" * 100_000,  # nesting that would blow the recursion limit
		json.dumps({"sessionId": "s"}).encode(),  # no event
		json.dumps({"event": 5, "sessionId": "s"}).encode(),
		json.dumps({"event": "messages.upsert", "sessionId": "s"}).encode(),
		json.dumps({"event": "qr", "sessionId": "s"}).encode(),  # qr event without qr
		json.dumps({"event": "qr", "sessionId": "s", "qr": "   "}).encode(),
		json.dumps({"event": "qr", "sessionId": "s", "qr": 12}).encode(),
		json.dumps({"event": "logout"}).encode(),
		json.dumps({"event": "logout", "sessionId": ""}).encode(),
		json.dumps({"event": "logout", "sessionId": "a/b"}).encode(),
		json.dumps({"event": "logout", "sessionId": "../x"}).encode(),
		json.dumps({"event": "logout", "sessionId": "x" * 65}).encode(),
		json.dumps({"event": "logout", "sessionId": 7}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "id": "a/b"}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "id": "a b"}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "id": ""}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "id": 12}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "id": "x" * 129}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "timestamp": "1700000000"}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "timestamp": 1.5}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "timestamp": True}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "timestamp": -1}).encode(),
		json.dumps({"event": "logout", "sessionId": "s", "timestamp": NOW * 1000}).encode(),  # milliseconds
		event_body(status=["connected"]),
		event_body(status="<script>alert(1)</script>" + "x" * 40),  # markup is data, but not over 64
		event_body(phone=34600111222),
		event_body(phone="3" * 33),
		json.dumps({"event": "qr", "sessionId": "s", "qr": "x" * (600 * 1024 + 1)}).encode(),
	],
)
def test_parse_malformed(body: bytes) -> None:
	e = rejected(lambda: parse_event(body))
	assert (e.code, e.http_status) == ("MALFORMED", 400)
	assert len(str(e)) < 200  # never echoes big untrusted input


def test_parse_limits_are_inclusive() -> None:
	assert parse_event(event_body(id="x" * 128, status="s" * 64, phone="3" * 32)).event_id == "x" * 128
	assert parse_event(json.dumps({"event": "qr", "sessionId": "x" * 64, "qr": "q" * 600 * 1024}).encode())


# -- event_state, replay_key --


def test_event_state_mapping() -> None:
	qr = event_state(parse_event(BODY))
	assert (qr.kind, qr.qr, qr.has_qr, qr.qr_available) == (Kind.QR, "2@abc", True, True)

	connected = event_state(parse_event(event_body(status="open", phone="34600111222:3@s.whatsapp.net")))
	assert (connected.kind, connected.raw_status, connected.phone) == (Kind.CONNECTED, "open", "34600111222")

	for status, kind in (
		("connecting", Kind.WAITING),
		("qr", Kind.QR),
		("close", Kind.ENDED),
		("logged_out", Kind.ENDED),
	):
		state = event_state(parse_event(event_body(status=status, phone="34600111222")))
		assert state.kind == kind and state.phone is None  # the phone only counts once connected
		assert not state.unknown_status

	odd = event_state(parse_event(event_body(status="<script>x</script>")))
	assert (odd.kind, odd.unknown_status, odd.raw_status) == (Kind.WAITING, True, "<script>x</script>")
	assert event_state(parse_event(event_body())).kind == Kind.WAITING

	out = event_state(parse_event(json.dumps({"event": "LOGOUT", "sessionId": "s"}).encode()))
	assert (out.kind, out.raw_status) == (Kind.ENDED, "logged_out")


def test_replay_key() -> None:
	assert replay_key(parse_event(BODY), BODY) == "id:evt-1"
	body = event_body(status="connected")
	assert replay_key(parse_event(body), body) == "sha256:" + hashlib.sha256(body).hexdigest()
	other = event_body(status="connected", timestamp=NOW)
	assert replay_key(parse_event(other), other) != replay_key(parse_event(body), body)


# -- end to end with the simulator --


class _ReceiverServer(ThreadingHTTPServer):
	daemon_threads = True

	def server_bind(self) -> None:
		# HTTPServer.server_bind does a reverse DNS lookup that can take seconds in a sandbox.
		socketserver.TCPServer.server_bind(self)
		self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])


class Receiver:
	"""Collects every POST (headers and body) on an ephemeral loopback port; answers `answer_status`."""

	def __init__(self, answer_status: int = 200) -> None:
		self.received: list[tuple[dict[str, str], bytes]] = []
		self.answer_status = answer_status
		lock = threading.Lock()
		outer = self

		class Handler(BaseHTTPRequestHandler):
			def do_POST(self) -> None:
				body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
				with lock:
					outer.received.append((dict(self.headers.items()), body))
				data = b'{"ok": true}'
				self.send_response(outer.answer_status)
				self.send_header("Content-Length", str(len(data)))
				self.end_headers()
				self.wfile.write(data)

			def log_message(self, format: str, *args: Any) -> None:
				pass

		self.server = _ReceiverServer(("127.0.0.1", 0), Handler)
		self.url = (
			f"http://127.0.0.1:{self.server.server_address[1]}/api/method/whatsapp_crm.api.webhook.receive"
		)
		self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
		self.thread.start()

	def wait_for(self, n: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
		deadline = time.monotonic() + timeout
		while len(self.received) < n and time.monotonic() < deadline:
			time.sleep(0.01)
		assert len(self.received) >= n, f"got {len(self.received)} of {n} webhook requests"
		return list(self.received)

	def close(self) -> None:
		self.server.shutdown()
		self.server.server_close()
		self.thread.join(5)


class Clock:
	def __init__(self) -> None:
		self.t = 1000.0

	def now(self) -> float:
		return self.t


@pytest.fixture
def receiver() -> Iterator[Receiver]:
	r = Receiver()
	yield r
	r.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
	deadline = time.monotonic() + timeout
	while not predicate() and time.monotonic() < deadline:
		time.sleep(0.01)
	assert predicate()


def check_all(received: list[tuple[dict[str, str], bytes]], secret: str, method: str) -> list[WebhookEvent]:
	events = []
	for headers, body in received:
		lowered = {k.lower(): v for k, v in headers.items()}
		assert lowered["content-type"] == "application/json"
		assert verify(headers, body, secret, now=time.time()) == method
		events.append(parse_event(body))
	return events


def test_simulator_sends_signed_events_in_order(receiver: Receiver) -> None:
	clock = Clock()
	sid = "sales--qr_rotating"
	with BaileysSimulator(KEY, clock=clock.now, webhook_url=receiver.url, webhook_secret=SECRET) as sim:
		with BaileysClient(sim.url, KEY, Timeouts(1, 3)) as client:
			client.create_session(sid)
			receiver.wait_for(1)
			clock.t += 2.0  # rotate_s=2: the next generation
			receiver.wait_for(2)
			sim.scan(sid, phone="34999000111")
			receiver.wait_for(3)
			assert client.delete_session(sid) is True
			received = receiver.wait_for(4)
		wait_until(lambda: len(sim.webhook_log) == 4)
		log = sim.webhook_log
	time.sleep(0.1)
	assert len(receiver.received) == 4  # nothing more, nothing twice

	events = check_all(received, SECRET, "hmac")
	assert [e.kind for e in events] == ["qr", "qr", "connection", "logout"]
	assert {e.session_id for e in events} == {sid}
	assert [events[0].qr, events[1].qr] == [qr_payload(sid, 0), qr_payload(sid, 1)]
	assert (events[2].status, events[2].phone) == ("connected", "34999000111")
	assert event_state(events[2]).kind == Kind.CONNECTED and event_state(events[3]).kind == Kind.ENDED
	ids = [e.event_id for e in events]
	assert all(ids) and len(set(ids)) == 4
	assert len({replay_key(e, body) for e, (_h, body) in zip(events, received, strict=True)}) == 4
	assert all(e.timestamp is not None and abs(e.timestamp - time.time()) < 60 for e in events)
	assert all(SECRET not in json.dumps(h) + body.decode() for h, body in received)  # HMAC: never sent
	assert log == [
		{"event": kind, "session_id": sid, "status": 200, "error": None}
		for kind in ("qr", "qr", "connection", "logout")
	]
	assert sim.webhook_failures == 0


def test_simulator_shared_secret_mode_and_linked_timer(receiver: Receiver) -> None:
	clock = Clock()
	with BaileysSimulator(
		KEY,
		scenario="linked",
		clock=clock.now,
		webhook_url=receiver.url,
		webhook_secret=SECRET,
		webhook_mode="secret",
	) as sim:
		with BaileysClient(sim.url, KEY, Timeouts(1, 3)) as client:
			client.create_session("desk")
			receiver.wait_for(1)
			# the QR went out by webhook (no GET /qr at all): the scan timer runs from there
			clock.t += 3.0
			received = receiver.wait_for(2)
			assert sim.count("qr") == 0
			assert client.get_status("desk").kind == Kind.CONNECTED
	events = check_all(received, SECRET, "secret")
	assert [e.kind for e in events] == ["qr", "connection"]
	assert events[1].phone == DEFAULT_PHONE
	assert all({k.lower(): v for k, v in h.items()}["x-webhook-secret"] == SECRET for h, _b in received)


def test_set_webhook_on_a_running_simulator_and_control_route(receiver: Receiver) -> None:
	with BaileysSimulator(KEY, scenario="qr_now") as sim:
		with BaileysClient(sim.url, KEY, Timeouts(1, 3)) as client:
			client.create_session("early")  # before any webhook: announced once one is set
			time.sleep(0.15)
			assert sim.webhook_log == []
			sim.set_webhook(receiver.url, SECRET)
			assert parse_event(receiver.wait_for(1)[0][1]).session_id == "early"
			auth = {"X-API-Key": KEY}
			r = requests.post(sim.url + "/_sim/webhook", json={"url": None}, headers=auth, timeout=3)
			assert r.status_code == 200 and r.json() == {"success": True, "url": None, "mode": "hmac"}
			client.create_session("unheard")
			time.sleep(0.15)
			assert len(receiver.received) == 1

			body = {"url": receiver.url, "secret": SECRET, "mode": "secret"}
			r = requests.post(sim.url + "/_sim/webhook", json=body, headers=auth, timeout=3)
			assert r.status_code == 200 and SECRET not in r.text
			received = receiver.wait_for(2)
	event = check_all(received[1:], SECRET, "secret")[0]
	assert (event.kind, event.session_id) == ("qr", "unheard")


def test_failed_deliveries_are_logged_never_raised() -> None:
	refusing = Receiver(answer_status=401)
	try:
		with BaileysSimulator(KEY, scenario="qr_now", webhook_url=refusing.url) as sim:  # no secret: no auth
			with BaileysClient(sim.url, KEY, Timeouts(1, 3)) as client:
				client.create_session("a")
				headers, body = refusing.wait_for(1)[0]
				e = rejected(lambda: verify(headers, body, SECRET, now=time.time()))
				assert e.code == "UNAUTHENTICATED"
				wait_until(lambda: len(sim.webhook_log) == 1)
				assert sim.webhook_log == [
					{"event": "qr", "session_id": "a", "status": 401, "error": "HTTP 401"}
				]

				refusing.close()  # nothing listens there any more
				client.create_session("b")
				wait_until(lambda: len(sim.webhook_log) == 2)
				entry = sim.webhook_log[1]
				assert entry["status"] is None and entry["error"] and entry["session_id"] == "b"
				assert sim.webhook_failures == 2
				assert client.get_status("b").kind == Kind.QR  # the gateway carries on
	finally:
		refusing.server.server_close()


def test_simulator_signature_agrees_with_sign() -> None:
	headers = webhook_auth(BODY, SECRET, "hmac")
	assert headers == sign(BODY, SECRET, int(headers["X-Webhook-Timestamp"]))
	assert webhook_auth(BODY, SECRET, "secret") == {"X-Webhook-Secret": SECRET}
	assert webhook_auth(BODY, "", "hmac") == {}


def test_set_webhook_refuses_bad_settings() -> None:
	sim = BaileysSimulator(KEY)
	for args in (("ftp://x", SECRET, "hmac"), ("not a url", SECRET, "hmac"), ("http://h", SECRET, "plain")):
		with pytest.raises(ValueError):
			sim.set_webhook(*args)
	with pytest.raises(ValueError):
		BaileysSimulator(KEY, webhook_url="http://h", webhook_mode="md5")
