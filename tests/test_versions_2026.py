"""The gateway versions of 2025-2026, each simulated and read by its adapter over real loopback HTTP.

Evolution API 2.3.7 swaps the privacy-id fields of a message's key, 2.4.0 refuses business routes until it is
activated; WAHA 2025.10.3 wants a key and names its events, 2026.6.1 Core runs any number of sessions, a
group's receipts come as ``message.ack.group`` and GOWS asks the phone for a passkey.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from whatsapp_crm.gateway import errors, texts
from whatsapp_crm.gateway.acquire import QrOutcome, QrPolicy, acquire_qr, build_payload
from whatsapp_crm.gateway.adapters import Detection, detect, make_client, parse_webhook
from whatsapp_crm.gateway.adapters import waha as waha_adapter
from whatsapp_crm.gateway.adapters.evolution import EvolutionClient
from whatsapp_crm.gateway.adapters.waha import WahaClient
from whatsapp_crm.gateway.client import GatewayClient, Timeouts, WebhookTarget
from whatsapp_crm.gateway.doctor import diagnose
from whatsapp_crm.gateway.messaging import checked_outgoing
from whatsapp_crm.gateway.status import Kind, parse_status
from whatsapp_crm.gateway.webhook import WebhookEvent, event_state, replay_key
from whatsapp_crm.simulator import BaseSimulator, make_simulator
from whatsapp_crm.simulator import evolution as sim_evolution
from whatsapp_crm.simulator import waha as sim_waha

from .conftest import FakeClock

KEY = "versions-key-2026"
SECRET = "versions-webhook-secret"
CHAT = "34600999888"
LID = "207360348127435"
GROUP = "120363021234567890"
TIMEOUTS = Timeouts(connect=1.0, read=3.0)
WAIT_S = 8.0
ULID_ID = re.compile(r"evt_[0-9a-hjkmnp-tv-z]{26}")


class Receiver:
	"""A webhook sink on loopback: every POSTed body, in arrival order."""

	def __init__(self) -> None:
		self.bodies: list[bytes] = []
		self._cond = threading.Condition()
		receiver = self

		class Handler(BaseHTTPRequestHandler):
			def do_POST(self) -> None:
				body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
				with receiver._cond:
					receiver.bodies.append(body)
					receiver._cond.notify_all()
				self.send_response(200)
				self.send_header("Content-Length", "0")
				self.end_headers()

			def log_message(self, *args: Any) -> None:
				pass

		self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
		threading.Thread(
			target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
		).start()
		self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

	def wait_for(self, found: Callable[[list[bytes]], Any]) -> Any:
		deadline = time.monotonic() + WAIT_S
		with self._cond:
			while not (result := found(list(self.bodies))):
				left = deadline - time.monotonic()
				if left <= 0:
					pytest.fail(
						f"webhook never came; got {[json.loads(b).get('event') for b in self.bodies]}"
					)
				self._cond.wait(left)
			return result

	def events(self, kind: str) -> list[WebhookEvent]:
		return [e for e in map(parse_webhook, list(self.bodies)) if e.kind == kind]

	def close(self) -> None:
		self.server.shutdown()
		self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
	r = Receiver()
	yield r
	r.close()


@pytest.fixture(autouse=True)
def _fresh_waha_versions():
	# The WAHA adapter keeps each base URL's version for minutes; a later simulator may reuse a port.
	waha_adapter._versions.clear()
	yield
	waha_adapter._versions.clear()


def simulator(gateway_type: str, **kwargs: Any) -> BaseSimulator:
	if gateway_type == "waha":
		kwargs.setdefault("qr_route_wait_s", 0.2)
	return make_simulator(gateway_type, api_key=KEY, scenario="qr_now", start=True, **kwargs)


def linked(sim: BaseSimulator, session_id: str, receiver: Receiver | None = None) -> GatewayClient:
	"""A client whose session is created (with the app's webhook, when there is a receiver) and linked."""
	target = WebhookTarget(receiver.url, SECRET) if receiver is not None else None
	client = make_client(sim.gateway_type, sim.url, KEY, TIMEOUTS, webhook=target)
	client.create_session(session_id)
	sim.scan(session_id)
	return client


# -- 1. Evolution 2.3.7: the phone in remoteJid, the @lid in remoteJidAlt ------------------------------------------


@pytest.mark.parametrize("version", ["2.3.6", "2.3.7"])
def test_evolution_simulator_orders_the_lid_fields_by_version(version: str, receiver: Receiver) -> None:
	with simulator("evolution", version=version) as sim, linked(sim, "lid-shape", receiver):
		sim.inbound("lid-shape", CHAT, "con lid", lid=LID)
		sim.inbound("lid-shape", CHAT, "solo lid", lid=LID, lid_only=True)
		upserts = receiver.wait_for(
			lambda bodies: (
				len(found := [b for b in map(json.loads, bodies) if b["event"] == "messages.upsert"]) >= 2
				and found
			)
		)
	both, only = (u["data"]["key"] for u in upserts)
	phone, lid = f"{CHAT}@s.whatsapp.net", f"{LID}@lid"
	if version == "2.3.7":
		assert (both["remoteJid"], both["remoteJidAlt"], both["addressingMode"]) == (phone, lid, "pn")
	else:
		assert (both["remoteJid"], both["remoteJidAlt"], both["addressingMode"]) == (lid, phone, "lid")
	assert (only["remoteJid"], only["addressingMode"]) == (lid, "lid") and "remoteJidAlt" not in only


@pytest.mark.parametrize("version", ["2.3.6", "2.3.7"])
def test_evolution_messages_pair_number_and_lid_in_either_order(version: str, receiver: Receiver) -> None:
	with simulator("evolution", version=version) as sim, linked(sim, "lid-pair", receiver):
		first = sim.inbound("lid-pair", CHAT, "con lid", lid=LID)
		later = sim.inbound("lid-pair", CHAT, "solo lid", lid=LID, lid_only=True)
		receiver.wait_for(lambda _b: len(receiver.events("message")) >= 2)
		by_id = {e.message.id: e.message for e in receiver.events("message")}
	# The first names both: the app remembers the pair, and so knows whose the lid-only one is.
	assert (by_id[first].chat, by_id[first].lid) == (CHAT, LID)
	assert (by_id[later].chat, by_id[later].lid) == (None, LID)


def test_evolution_237_receipts_take_the_phone_jid(receiver: Receiver) -> None:
	with simulator("evolution", version="2.3.7") as sim, linked(sim, "lid-ack", receiver):
		mid = sim.inbound("lid-ack", CHAT, "léeme", lid=LID)
		sim.ack("lid-ack", mid, "read")
		[ack] = receiver.wait_for(lambda _b: receiver.events("ack"))
		raw = next(json.loads(b) for b in receiver.bodies if b"messages.update" in b)["data"]
	assert raw["remoteJid"] == f"{LID}@lid" and raw["remoteJidAlt"] == f"{CHAT}@s.whatsapp.net"
	assert (ack.ack.message_id, ack.ack.status, ack.ack.chat) == (mid, "read", CHAT)


def test_evolution_237_history_records_pair_number_and_lid() -> None:
	with simulator("evolution", version="2.3.7") as sim, linked(sim, "lid-hist") as client:
		now = int(time.time())
		mid = sim.inbound("lid-hist", CHAT, "guardado", lid=LID, timestamp=now)
		page = client.read_messages("lid-hist", since=now - 60, until=now + 60)
	[message] = page.messages
	assert (message.id, message.chat, message.lid) == (mid, CHAT, LID)


# -- 2. Evolution 2.4.0 before activation: LICENSE_REQUIRED, final -------------------------------------------------


def test_evolution_24_simulator_answers_license_required_until_activated() -> None:
	with simulator("evolution", version="2.4.0", activated=False) as sim:
		welcome = requests.get(sim.url + "/", timeout=3)
		refused = requests.post(sim.url + "/instance/create", json={"instanceName": "x"}, timeout=3)
		assert welcome.status_code == 200 and welcome.json()["version"] == "2.4.0"
		assert refused.status_code == 503 and refused.json()["code"] == "LICENSE_REQUIRED"
		sim.activate()
		headers = {"apikey": KEY}
		assert requests.post(sim.url + "/instance/create", json={"instanceName": "x"}, headers=headers).ok


def test_evolution_24_license_required_is_a_final_typed_error() -> None:
	assert errors.LICENSE_REQUIRED in errors.ALL_CODES and not errors.LicenseRequired.retryable
	with simulator("evolution", version="2.4.0", activated=False) as sim:
		with make_client("evolution", sim.url, KEY, TIMEOUTS) as client:
			with pytest.raises(errors.LicenseRequired) as created:
				client.create_session("lic")
			with pytest.raises(errors.LicenseRequired):
				client.send_message("lic", checked_outgoing(CHAT, "hola"))
			clock = FakeClock()
			sim.reset_log()
			outcome = acquire_qr(client, "lic", QrPolicy(), clock=clock.now, sleep=clock.sleep)
	assert created.value.http_status == 503 and created.value.code == "LICENSE_REQUIRED"
	# Said once, never retried: one status read, no waits, the form stops polling.
	assert (outcome.state, outcome.error_code, clock.sleeps) == ("failed", "LICENSE_REQUIRED", [])
	assert sim.count("status") == 1 and build_payload(outcome)["keep_polling"] is False
	assert texts.for_outcome(outcome.state, outcome.error_code)[0] == (
		"This Evolution API server is not activated: open its manager to register it."
	)


def test_doctor_names_an_evolution_24_that_is_not_activated() -> None:
	with simulator("evolution", version="2.4.0", activated=False) as sim:
		assert detect(sim.url, KEY, TIMEOUTS).description == "Evolution API 2.4.0"
		report = diagnose(sim.url, KEY, timeouts=TIMEOUTS)
		sim.activate()
		after = diagnose(sim.url, KEY, timeouts=TIMEOUTS)
	checks = {c.name: c for c in report.checks}
	assert checks["type"].result == "ok" and report.description == "Evolution API 2.4.0"
	assert (checks["key"].result, checks["key"].code) == ("fail", "LICENSE_REQUIRED")
	assert checks["key"].text == texts.BY_CODE["LICENSE_REQUIRED"]
	assert not report.ok and after.ok


# -- 3. WAHA 2025.10.3+: a key is required, and "none set" is said apart from "wrong" ------------------------------


@pytest.mark.parametrize("version", ["2025.10.3", "2026.6.1"])
def test_waha_without_a_key_is_told_it_needs_one(version: str) -> None:
	with simulator("waha", version=version) as sim:
		bare = requests.get(sim.url + "/api/sessions", timeout=3)
		none, wrong, right = (diagnose(sim.url, key, "waha", TIMEOUTS) for key in ("", "not-the-key", KEY))
	assert bare.status_code == 401 and bare.json() == {"message": "Unauthorized", "statusCode": 401}
	key_checks = [next(c for c in r.checks if c.name == "key") for r in (none, wrong, right)]
	assert [(c.result, c.code) for c in key_checks[:2]] == [("fail", "UNAUTHORIZED")] * 2
	assert key_checks[0].text == "This WAHA gateway needs an API key: set WAHA_API_KEY's value in API Key."
	assert key_checks[1].text == texts.BY_CODE["UNAUTHORIZED"]
	assert key_checks[2].result == "ok" and right.version == version


def test_waha_2024_still_needs_no_key() -> None:
	with simulator("waha", version="2024.10.8") as sim:
		report = diagnose(sim.url, "", "waha", TIMEOUTS)
	assert report.ok and next(c for c in report.checks if c.name == "key").result == "skip"


# -- 4. WAHA 2026.6.1 Core: any session name; "only default" only from a server that refuses -----------------------


def test_waha_2026_runs_other_sessions_and_the_probe_runs() -> None:
	with simulator("waha", version="2026.6.1") as sim:
		with make_client("waha", sim.url, KEY, TIMEOUTS) as client:
			assert client.create_session("sales").created is True
		report = diagnose(sim.url, KEY, "waha", TIMEOUTS, probe=True, probe_s=5)
	probe = report.checks[-1]
	assert (probe.name, probe.result, probe.code) == ("probe", "ok", None)


def test_waha_2025_refuses_other_sessions_by_its_own_answer() -> None:
	with simulator("waha", version="2025.10.3") as sim:
		with make_client("waha", sim.url, KEY, TIMEOUTS) as client:
			with pytest.raises(errors.SessionNotAllowed) as refused:
				client.create_session("sales")
			assert client.create_session("default").created is True  # the name alone decides nothing
		report = diagnose(sim.url, KEY, "waha", TIMEOUTS, probe=True, probe_s=5)
	assert refused.value.http_status == 422
	probe = report.checks[-1]
	assert (probe.name, probe.result, probe.code) == ("probe", "skip", "SESSION_NOT_ALLOWED")


# -- 5. WAHA's envelope id is the event id the receiver de-duplicates by -------------------------------------------


@pytest.mark.parametrize("version", ["2025.10.3", "2026.6.1"])
def test_waha_envelope_id_is_the_event_id(version: str, receiver: Receiver) -> None:
	with simulator("waha", version=version) as sim, linked(sim, "default", receiver):
		sim.inbound("default", CHAT, "dos veces", repeat=2)
		bodies = receiver.wait_for(
			lambda bodies: len(found := [b for b in bodies if b'"event": "message.any"' in b]) >= 2 and found
		)
	ids = [json.loads(b)["id"] for b in bodies]
	events = [parse_webhook(b) for b in bodies]
	assert all(ULID_ID.fullmatch(i) for i in ids) and ids[0] != ids[1]
	assert [e.event_id for e in events] == ids
	# A redelivery of one body is one event; two events of one message are two (stored once by message id).
	assert [replay_key(e, b"another body") for e in events] == [f"id:{i}" for i in ids]
	assert events[0].message.id == events[1].message.id


def test_waha_2024_envelopes_carry_no_id(receiver: Receiver) -> None:
	with simulator("waha", version="2024.10.8") as sim, linked(sim, "default", receiver):
		sim.inbound("default", CHAT, "sin id")
		[body] = receiver.wait_for(lambda bodies: [b for b in bodies if b'"event": "message.any"' in b])
	event = parse_webhook(body)
	assert "id" not in json.loads(body) and event.event_id is None
	assert replay_key(event, body).startswith("sha256:")


# -- 6. message.ack.group is a receipt like message.ack ------------------------------------------------------------


@pytest.mark.parametrize(
	"version,event_name", [("2026.6.1", "message.ack.group"), ("2024.10.8", "message.ack")]
)
def test_waha_group_receipts_are_read(version: str, event_name: str, receiver: Receiver) -> None:
	with simulator("waha", version=version, webhook_url=receiver.url, webhook_secret=SECRET) as sim:
		linked(sim, "default").close()
		body = {"session": "default", "chatId": f"{GROUP}@g.us", "text": "al grupo"}
		sent = requests.post(sim.url + "/api/sendText", json=body, headers={"X-Api-Key": KEY}, timeout=5)
		key_id = sent.json()["key"]["id"]
		raw = receiver.wait_for(
			lambda bodies: [b for b in bodies if f'"event": "{event_name}"'.encode() in b]
		)[0]
	ack = parse_webhook(raw)
	assert json.loads(raw)["payload"]["from"] == f"{GROUP}@g.us"
	assert ack.kind == "ack" and (ack.ack.message_id, ack.ack.status, ack.ack.chat) == (key_id, "sent", None)


# -- 7. GOWS passkey statuses: waiting, and the user is told to confirm on the phone -------------------------------


@pytest.mark.parametrize("confirmation", [False, True])
def test_gows_passkey_is_waiting_with_its_own_message(confirmation: bool, receiver: Receiver) -> None:
	word = "PASSKEY_CONFIRMATION_REQUIRED" if confirmation else "PASSKEY_REQUIRED"
	target = WebhookTarget(receiver.url, SECRET)
	with simulator("waha", engine="GOWS") as sim:
		with make_client("waha", sim.url, KEY, TIMEOUTS, webhook=target) as client:
			client.create_session("pk")
			sim.ask_passkey("pk", confirmation=confirmation)
			state = client.get_status("pk")
			clock = FakeClock()
			outcome = acquire_qr(client, "pk", QrPolicy(max_attempts=2), clock=clock.now, sleep=clock.sleep)
			[hook] = receiver.wait_for(
				lambda _b: [e for e in receiver.events("connection") if e.status == word]
			)
			sim.scan("pk")
			assert client.get_status("pk").kind == Kind.CONNECTED
	assert (state.kind, state.raw_status, state.unknown_status, state.qr_available) == (
		Kind.WAITING,
		word,
		False,
		False,
	)
	assert (outcome.state, outcome.error_code, outcome.keep_polling) == ("waiting", "CONFIRM_ON_PHONE", True)
	assert sim.count("qr", "pk") == 0  # no QR is asked for while the phone must approve
	said = texts.for_outcome(outcome.state, outcome.error_code)[0]
	assert "phone" in said and said == texts.BY_CODE["CONFIRM_ON_PHONE"]
	assert not hook.needs_qr and event_state(hook).kind == Kind.WAITING
	# The webhook's word alone (no read, no error) says so too.
	assert QrOutcome("pk", "waiting", gateway_status=hook.status).error_code == "CONFIRM_ON_PHONE"


def test_passkey_words_are_known_waiting_words() -> None:
	for word in ("PASSKEY_REQUIRED", "passkey_confirmation_required"):
		state = parse_status({"status": word})
		assert (state.kind, state.unknown_status, state.confirm_on_phone) == (Kind.WAITING, False, True)


# -- 8. Auto-detect, doctor and the README name the versions each type was checked against -------------------------


def test_adapters_list_the_versions_their_simulators_speak() -> None:
	assert EvolutionClient.simulated_versions == sim_evolution.VERSIONS
	assert WahaClient.simulated_versions == sim_waha.VERSIONS
	assert EvolutionClient.real_versions == ("2.3.6",) and WahaClient.real_versions == ("2024.10.8",)


@pytest.mark.parametrize(
	"gateway_type,version",
	[
		(t, v)
		for t, cls in (("evolution", EvolutionClient), ("waha", WahaClient))
		for v in cls.simulated_versions
	],
)
def test_detect_and_doctor_name_the_checked_versions(gateway_type: str, version: str) -> None:
	with simulator(gateway_type, version=version) as sim:
		found = detect(sim.url, KEY, TIMEOUTS)
		report = diagnose(sim.url, KEY, timeouts=TIMEOUTS)
	simulated, real = found.checked
	assert (found.version, found.version_checked) == (version, True)
	assert found.checked_text == f"checked against {', '.join(simulated)} simulated; {', '.join(real)} real"
	type_check = next(c for c in report.checks if c.name == "type")
	assert (type_check.result, type_check.template) == ("ok", texts.DOCTOR_TYPE_CHECKED)
	assert type_check.text == (
		f"Gateway: {found.description}. This app was checked against versions "
		f"{', '.join(simulated)} (simulated) and {', '.join(real)} (real)."
	)


def test_doctor_says_when_the_version_was_not_checked() -> None:
	with simulator("evolution") as sim:
		sim.version = "2.9.0"  # a newer server than any checked: its welcome says so
		report = diagnose(sim.url, KEY, timeouts=TIMEOUTS)
	type_check = next(c for c in report.checks if c.name == "type")
	assert type_check.template == texts.DOCTOR_TYPE_NOT_CHECKED and type_check.result == "ok"
	assert type_check.args == ["Evolution API 2.9.0", "2.3.6, 2.3.7, 2.4.0", "2.3.6"]
	assert Detection("baileys", "Baileys REST", "1.0").version_checked is None  # the contract has no versions


def test_readme_gateways_table_names_the_checked_versions() -> None:
	readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
	section = readme.split("\n## Gateways\n", 1)[1].split("\n## ", 1)[0]
	row = next(line for line in section.splitlines() if line.startswith("| Versions checked |"))
	_, _baileys, evolution, waha = (cell.strip() for cell in row.strip("|").split("|"))
	for cell, cls in ((evolution, EvolutionClient), (waha, WahaClient)):
		assert cell == f"simulated {', '.join(cls.simulated_versions)}; real {', '.join(cls.real_versions)}"
