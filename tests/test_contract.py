"""One contract, three gateway types: every adapter against its own simulator over real loopback HTTP.

The adapters (gateway/adapters) and the simulators (simulator/) were written apart from the same public
descriptions of Baileys REST, Evolution API v2 and WAHA; each test below runs unchanged for every type, so the
rest of the app can stay gateway-agnostic: the same SessionState kinds, QR answers and typed errors.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from whatsapp_crm.gateway import errors
from whatsapp_crm.gateway.acquire import QrPolicy, acquire_qr, build_payload
from whatsapp_crm.gateway.adapters import detect, make_client, parse_webhook
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.gateway.doctor import diagnose
from whatsapp_crm.gateway.qr import to_data_uri
from whatsapp_crm.gateway.status import Kind
from whatsapp_crm.gateway.webhook import event_state, verify
from whatsapp_crm.simulator import DEFAULT_PHONE, SessionOptions, make_simulator

from .conftest import SENTINEL_KEY

TYPES = ("baileys", "evolution", "waha")
SECRET = "contract-webhook-secret"


@pytest.fixture(params=TYPES)
def gateway_type(request) -> str:
	return request.param


@pytest.fixture
def gsim(gateway_type, clock):
	extra = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	with make_simulator(gateway_type, api_key=SENTINEL_KEY, scenario="qr_now", clock=clock.now, **extra) as s:
		yield s


@pytest.fixture
def gclient(gateway_type, gsim):
	with make_client(gateway_type, gsim.url, SENTINEL_KEY, Timeouts(connect=1.0, read=2.0)) as c:
		yield c


def acquire(client, clock, session_id: str, **policy):
	return acquire_qr(client, session_id, QrPolicy(**policy), clock=clock.now, sleep=clock.sleep)


def test_create_is_idempotent(gclient):
	assert gclient.create_session("alpha").created is True
	assert gclient.create_session("alpha").created is False


def test_qr_at_once_is_an_image(gclient, clock):
	gclient.create_session("alpha")
	outcome = acquire(gclient, clock, "alpha")
	assert outcome.state == "qr"
	assert outcome.qr_code.startswith(("data:image/svg+xml;base64,", "data:image/png;base64,"))
	assert to_data_uri(outcome.qr_payload) == outcome.qr_code


def test_waits_then_qr(gclient, gsim, clock):
	gsim.set_scenario("late", SessionOptions(qr_after_s=3.0))
	gclient.create_session("late")
	state = gclient.get_status("late")
	assert state.kind == Kind.WAITING and not state.qr_available
	clock.t += 3.5
	assert acquire(gclient, clock, "late").state == "qr"


def test_qr_generation_errors_are_retried(gclient, gsim, clock):
	gsim.set_scenario("flaky", SessionOptions(qr_errors=2, rotate_s=0))
	gclient.create_session("flaky")
	outcome = acquire(gclient, clock, "flaky")
	assert outcome.state == "qr"
	assert [a.outcome for a in outcome.attempts].count(errors.QR_GENERATION_ERROR) == 2
	assert clock.sleeps[:2] == [5.0, 5.0]  # the §4 wait after a generation error, for every type


def test_rotation_changes_the_payload(gclient, gsim, clock):
	gsim.set_scenario("rot", SessionOptions(rotate_s=2.0))
	gclient.create_session("rot")
	first = acquire(gclient, clock, "rot").qr_payload
	clock.t += 2.5
	assert acquire(gclient, clock, "rot").qr_payload != first


def test_linked_reads_connected_with_the_phone(gclient, gsim, clock):
	gclient.create_session("link")
	acquire(gclient, clock, "link")
	gsim.scan("link")
	state = gclient.get_status("link")
	assert state.kind == Kind.CONNECTED and state.phone == DEFAULT_PHONE
	outcome = acquire(gclient, clock, "link")
	assert (outcome.state, outcome.phone, outcome.doc_status) == ("connected", DEFAULT_PHONE, "Connected")


def test_delete_then_gone(gclient, clock):
	gclient.create_session("bye")
	assert gclient.delete_session("bye") is True
	clock.t += 1.0  # Evolution deletes asynchronously
	with pytest.raises(errors.SessionNotFound):
		gclient.get_status("bye")
	assert gclient.delete_session("bye") is False


def test_unknown_session_and_recreate(gclient, clock):
	with pytest.raises(errors.SessionNotFound):
		gclient.get_status("never")
	outcome = acquire(gclient, clock, "never")  # the gateway forgot it: created again, once
	assert outcome.recreated and outcome.state == "qr"


def test_gateway_restart_is_survived(gclient, gsim, clock):
	gclient.create_session("rs")
	gsim.restart()
	assert acquire(gclient, clock, "rs").state == "qr"


def test_wrong_key_is_a_wrong_key(gateway_type, gsim):
	with make_client(gateway_type, gsim.url, "not-the-key", Timeouts(1, 1)) as bad:
		with pytest.raises(errors.Unauthorized) as e:
			bad.create_session("nokey")
	assert "not-the-key" not in str(e.value) and "not-the-key" not in e.value.body_excerpt


@pytest.mark.parametrize(
	"fault,code",
	[
		("html_502", errors.SERVER_ERROR),
		("success_false", errors.SERVER_ERROR),
		("not_json", errors.BAD_RESPONSE),
		("huge_body", errors.BAD_RESPONSE),
	],
)
def test_broken_answers_are_typed(gclient, gsim, fault, code):
	gclient.create_session(f"f-{fault}")
	gsim.set_scenario(f"f-{fault}", fault)
	with pytest.raises(errors.GatewayError) as e:
		gclient.get_status(f"f-{fault}")
	assert e.value.code == code
	assert SENTINEL_KEY not in str(e.value) and SENTINEL_KEY not in e.value.body_excerpt


def test_script_in_a_server_message_never_reaches_the_user(gclient, gsim, clock):
	gclient.create_session("xss")
	gsim.set_scenario("xss", "success_false")
	outcome = acquire(gclient, clock, "xss", max_attempts=1)
	payload = build_payload(outcome, message="translated text")
	assert "<script>" not in json.dumps({k: v for k, v in payload.items() if k != "debug"})


@pytest.mark.parametrize("fault", ["hang", "trickle"])
def test_a_gateway_that_stalls_is_bounded(gateway_type, fault):
	extra = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	with make_simulator(gateway_type, api_key=SENTINEL_KEY, scenario=fault, hang_max_s=30, **extra) as s:
		with make_client(gateway_type, s.url, SENTINEL_KEY, Timeouts(connect=0.5, read=0.5)) as c:
			with pytest.raises(errors.GatewayTimeout):
				c.get_status("stall")


def test_ids_are_checked_before_any_request(gclient, gsim):
	for bad in ("a/b", "../x", "", "x" * 65, "a b", "<script>"):
		with pytest.raises(errors.InvalidSessionId):
			gclient.get_status(bad)
	assert gsim.count() == 0


def test_pairing_code(gclient, clock):
	gclient.create_session("pair")
	code = gclient.request_pairing_code("pair", "+34 600 111 222")
	assert len(code) == 8 and code.isalnum() and code.upper() == code
	with pytest.raises(errors.InvalidPhone):
		gclient.request_pairing_code("pair", "12")


def test_health_detect_and_doctor_name_the_type(gateway_type, gsim, gclient):
	health = gclient.health(timeout=2)
	assert health.reachable and health.key_accepted is True and health.gateway_type == gateway_type
	found = detect(gsim.url, SENTINEL_KEY, Timeouts(1, 2), timeout=2)
	assert found.gateway_type == gateway_type
	report = diagnose(gsim.url, SENTINEL_KEY, "auto", Timeouts(1, 2), timeout=2)
	assert report.ok and report.gateway_type == gateway_type
	assert [c.name for c in report.checks] == ["reachable", "type", "key", "history"]
	assert report.checks[-1].result == "ok"  # every simulator of today's versions lists past messages
	wrong = diagnose(gsim.url, "wrong-key", gateway_type, Timeouts(1, 2), timeout=2)
	assert not wrong.ok and wrong.checks[-1].code == errors.UNAUTHORIZED


def test_doctor_probe_sees_the_qr(gateway_type, gsim, clock):
	report = diagnose(
		gsim.url, SENTINEL_KEY, gateway_type, Timeouts(1, 2), probe=True, clock=clock.now, sleep=clock.sleep
	)
	assert report.ok and report.checks[-1].name == "probe" and report.checks[-1].result == "ok"
	assert not [
		s for s in gsim.requests if s["endpoint"] == "create" and s["status"] != 201 and s["status"] != 200
	]


# -- webhooks: each simulator's sender, read by the adapters' parsers -------------------------------------------


class _Receiver:
	def __init__(self) -> None:
		self.bodies: list[tuple[dict, bytes, str]] = []
		receiver = self

		class Handler(BaseHTTPRequestHandler):
			def do_POST(self) -> None:
				body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
				receiver.bodies.append((dict(self.headers), body, self.path))
				self.send_response(200)
				self.send_header("Content-Length", "0")
				self.end_headers()

			def log_message(self, *args) -> None:
				pass

		self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
		threading.Thread(
			target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
		).start()
		self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

	def close(self) -> None:
		self.server.shutdown()
		self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
	r = _Receiver()
	yield r
	r.close()


def test_webhooks_of_every_type_read_as_the_same_states(gateway_type, receiver):
	import time

	mode = {"baileys": "hmac", "evolution": "secret", "waha": "hmac"}[gateway_type]
	extra = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	with make_simulator(
		gateway_type,
		api_key=SENTINEL_KEY,
		scenario=SessionOptions(rotate_s=0),
		webhook_url=receiver.url,
		webhook_secret=SECRET,
		webhook_mode=mode,
		**extra,
	) as s:
		with make_client(gateway_type, s.url, SENTINEL_KEY, Timeouts(1, 2)) as c:
			c.create_session("hooked")
			deadline = time.monotonic() + 10
			while time.monotonic() < deadline and not any(b"hooked" in b for _h, b, _p in receiver.bodies):
				time.sleep(0.05)
			s.scan("hooked")
			time.sleep(0.5)
			while time.monotonic() < deadline:
				kinds = {
					parse_webhook(b).state_kind or event_state(parse_webhook(b)).kind
					for _h, b, _p in receiver.bodies
				}
				if Kind.CONNECTED in kinds:
					break
				time.sleep(0.05)
	assert receiver.bodies
	states = []
	for headers, body, _path in receiver.bodies:
		assert verify(headers, body, SECRET, now=time.time()) in ("hmac", "hmac-sha512", "secret")
		event = parse_webhook(body)
		assert event.session_id == "hooked"
		assert SENTINEL_KEY not in repr(event)  # Evolution's bodies carry a key: never kept
		if event.kind != "ignored":
			states.append(event_state(event).kind)
	assert Kind.CONNECTED in states
	assert Kind.QR in states


@pytest.mark.parametrize("gateway_type,core_2024", [("evolution", False), ("waha", False), ("waha", True)])
def test_zero_setup_webhooks_authenticate(gateway_type, core_2024, receiver):
	"""With a public site URL, create registers the app's webhook on the gateway; what the gateway then
	sends passes verify(), whichever way that gateway can prove the secret (header, URL, HMAC)."""
	import time
	from urllib.parse import parse_qs, urlsplit

	from whatsapp_crm.gateway.client import WebhookTarget

	extra = {"qr_route_wait_s": 0.2, "core_2024": core_2024} if gateway_type == "waha" else {}
	session = "default" if core_2024 else "zero"
	with make_simulator(
		gateway_type, api_key=SENTINEL_KEY, scenario=SessionOptions(rotate_s=0), **extra
	) as s:
		target = WebhookTarget(url=receiver.url, secret=SECRET)
		with make_client(gateway_type, s.url, SENTINEL_KEY, Timeouts(1, 2), webhook=target) as c:
			c.create_session(session)
			deadline = time.monotonic() + 10
			while time.monotonic() < deadline and not receiver.bodies:
				time.sleep(0.05)
	assert receiver.bodies
	for headers, body, path in receiver.bodies:
		query = parse_qs(urlsplit(path).query).get("secret", [None])[0]
		assert verify(headers, body, SECRET, now=time.time(), query_secret=query) in ("hmac-sha512", "secret")
		assert parse_webhook(body).session_id == session
		with pytest.raises(Exception):  # and a forged one does not
			verify(headers, body, "another-secret", now=time.time(), query_secret=query)
