"""Pacing calls (mark read, typing, number checks) for the three gateway types: each adapter against its own
simulator over real loopback HTTP, and the simulators' pacing log (``GET /_sim/sessions/{id}/pacing``).

The simulators' answers follow the real servers (Evolution API 2.3.6, WAHA 2024.10.8 NOWEB, both read from
their sources and tried as running servers) and the Baileys REST contract's pacing extension.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from whatsapp_crm.gateway.adapters import make_client
from whatsapp_crm.gateway.client import GatewayClient, Timeouts
from whatsapp_crm.gateway.errors import (
	NOT_SUPPORTED,
	GatewayTimeout,
	InvalidMessage,
	InvalidPhone,
	NotConnected,
	NotOnWhatsApp,
	NotSupported,
	SessionNotAllowed,
	SessionNotFound,
)
from whatsapp_crm.gateway.messaging import (
	FAILED,
	MAX_CHECK_NUMBERS,
	NumberCheck,
	checked_outgoing,
)
from whatsapp_crm.simulator import NOT_ON_WHATSAPP, BaseSimulator, SessionOptions, make_simulator
from whatsapp_crm.simulator.model import PACING_LOG_MAX, PacingLog, on_whatsapp

from .conftest import SENTINEL_KEY

TYPES = ("baileys", "evolution", "waha")
AUTH = {"baileys": "X-API-Key", "evolution": "apikey", "waha": "X-Api-Key"}
SESSION = "pace-1"
CUSTOMER = "34600999888"
NO_WHATSAPP = "34600111000"  # ends in 000: no WhatsApp in the simulators
IDS = ["3EB0AA11BB22CC33", "3EB0AA11BB22CC44"]
TIMEOUTS = Timeouts(connect=1.0, read=3.0)


def simulator(gateway_type: str, **kwargs: Any) -> BaseSimulator:
	extra: dict[str, Any] = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	return make_simulator(
		gateway_type,
		api_key=SENTINEL_KEY,
		scenario=SessionOptions(qr_after_s=0, rotate_s=0),
		start=True,
		**extra,
		**kwargs,
	)


@pytest.fixture(params=TYPES)
def gateway_type(request) -> str:
	return request.param


@pytest.fixture
def created(gateway_type) -> Iterator[tuple[BaseSimulator, GatewayClient]]:
	"""(simulator, client) with the session created, not linked yet."""
	sim = simulator(gateway_type)
	try:
		with make_client(gateway_type, sim.url, SENTINEL_KEY, TIMEOUTS) as client:
			client.create_session(SESSION)
			yield sim, client
	finally:
		sim.stop()


@pytest.fixture
def linked(created) -> tuple[BaseSimulator, GatewayClient]:
	sim, client = created
	sim.scan(SESSION, "34911222333")
	return sim, client


def control(sim: BaseSimulator, path: str) -> tuple[int, Any]:
	request = urllib.request.Request(
		sim.url + path, method="GET", headers={AUTH[sim.gateway_type]: SENTINEL_KEY}
	)
	opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
	with opener.open(request, timeout=5) as resp:
		return resp.status, json.loads(resp.read())


# -- the three calls on a linked session ---------------------------------------------------------------------


def test_mark_read_is_told_to_the_chat(linked):
	sim, client = linked
	client.mark_read(SESSION, CUSTOMER, IDS)
	reads = sim.pacing(SESSION)["reads"]
	assert [i for r in reads for i in r["ids"]] == IDS
	assert {r["chat"] for r in reads} == {CUSTOMER}
	assert all(time.time() - 5 < r["at"] <= time.time() for r in reads)
	# WAHA 2024's NOWEB marks one message a request; the others take the list at once
	assert sim.count("read", None) == (len(IDS) if sim.gateway_type == "waha" else 1)


def test_mark_read_takes_waha_serialized_ids_and_drops_repeats(linked):
	sim, client = linked
	serialized = f"false_{CUSTOMER}@c.us_{IDS[0]}"
	client.mark_read(SESSION, CUSTOMER, [serialized, IDS[0], IDS[1]])
	assert [i for r in sim.pacing(SESSION)["reads"] for i in r["ids"]] == IDS


def test_typing_starts_and_stops(linked):
	sim, client = linked
	client.start_typing(SESSION, CUSTOMER, timeout=1.3)
	client.stop_typing(SESSION, CUSTOMER)
	told = [(p["chat"], p["presence"]) for p in sim.pacing(SESSION)["presence"]]
	assert told[0] == (CUSTOMER, "composing")
	assert told[-1] == (CUSTOMER, "paused")
	if sim.gateway_type == "evolution":
		# sendPresence: composing, its delay, then its own paused; a paused request says paused twice
		assert [p for _, p in told] == ["composing", "paused", "paused", "paused"]
	else:
		assert [p for _, p in told] == ["composing", "paused"]


def test_evolution_typing_lasts_the_delay_within_the_callers_time():
	with simulator("evolution") as sim, make_client("evolution", sim.url, SENTINEL_KEY, TIMEOUTS) as client:
		client.create_session(SESSION)
		sim.scan(SESSION)
		started = time.monotonic()
		client.start_typing(SESSION, CUSTOMER, timeout=1.4)  # a second kept for the answer: 0.4 s of typing
		took = time.monotonic() - started
		composing, paused = sim.pacing(SESSION)["presence"][:2]
		shown = paused["at"] - composing["at"]
		assert 0.3 <= shown <= 0.9 and took >= shown
		# without a shorter time of the caller's, "typing..." lasts the adapter's second
		client.start_typing(SESSION, CUSTOMER)
		composing, paused = sim.pacing(SESSION)["presence"][2:4]
		assert 0.9 <= paused["at"] - composing["at"] < 2.0


def test_check_numbers_names_who_has_whatsapp(linked):
	sim, client = linked
	found = client.check_numbers(SESSION, [CUSTOMER, NO_WHATSAPP, NOT_ON_WHATSAPP, CUSTOMER])
	assert list(found) == [CUSTOMER, NO_WHATSAPP, NOT_ON_WHATSAPP]  # repeats asked once
	suffix = "@c.us" if sim.gateway_type == "waha" else "@s.whatsapp.net"
	assert found[CUSTOMER] == NumberCheck(CUSTOMER, True, CUSTOMER + suffix)
	assert found[NO_WHATSAPP] == NumberCheck(NO_WHATSAPP, False, None)
	assert found[NOT_ON_WHATSAPP].exists is False
	# WAHA checks one number a request
	assert sim.count("numbers", None) == (3 if sim.gateway_type == "waha" else 1)


def test_check_numbers_of_fifty_and_of_none(linked):
	_sim, client = linked
	numbers = [f"3460055{i:04d}" for i in range(1, MAX_CHECK_NUMBERS + 1)]
	found = client.check_numbers(SESSION, numbers)
	assert list(found) == numbers and all(c.exists for c in found.values())
	assert client.check_numbers(SESSION, []) == {}


def test_more_than_fifty_numbers_are_refused_before_any_request(linked):
	sim, client = linked
	sim.reset_log()
	numbers = [f"3460055{i:04d}" for i in range(MAX_CHECK_NUMBERS + 1)]
	with pytest.raises(InvalidMessage):
		client.check_numbers(SESSION, numbers)
	with pytest.raises(InvalidPhone):
		client.check_numbers(SESSION, [CUSTOMER, "12ab"])
	with pytest.raises(InvalidMessage):
		client.check_numbers(SESSION, CUSTOMER)  # a string is not a list of numbers
	with pytest.raises(InvalidPhone):
		client.mark_read(SESSION, "not a number", IDS)
	with pytest.raises(InvalidMessage):
		client.mark_read(SESSION, CUSTOMER, [])
	with pytest.raises(InvalidMessage):
		client.mark_read(SESSION, CUSTOMER, ["has spaces in it"])
	with pytest.raises(InvalidPhone):
		client.start_typing(SESSION, "+34 6")
	assert sim.count() == 0


# -- refusals ------------------------------------------------------------------------------------------------


def test_a_session_without_a_phone_is_not_connected(created):
	sim, client = created
	calls = (
		lambda: client.mark_read(SESSION, CUSTOMER, IDS[:1]),
		lambda: client.start_typing(SESSION, CUSTOMER),
		lambda: client.stop_typing(SESSION, CUSTOMER),
		lambda: client.check_numbers(SESSION, [CUSTOMER]),
	)
	for call in calls:
		with pytest.raises(NotConnected) as refused:
			call()
		assert refused.value.body_excerpt == ""  # an answer may name the number: never into the logs
	assert sim.pacing(SESSION) == {"sends": [], "presence": [], "reads": []}


def test_an_unknown_session_stays_session_not_found(linked):
	_sim, client = linked
	with pytest.raises(SessionNotFound):
		client.mark_read("nobody-here", CUSTOMER, IDS)
	with pytest.raises(SessionNotFound):
		client.start_typing("nobody-here", CUSTOMER)
	with pytest.raises(SessionNotFound):
		client.check_numbers("nobody-here", [CUSTOMER])


def test_a_gateway_without_the_routes_is_not_supported(gateway_type):
	with (
		simulator(gateway_type, pacing_routes=False) as sim,
		make_client(gateway_type, sim.url, SENTINEL_KEY, TIMEOUTS) as client,
	):
		client.create_session(SESSION)
		sim.scan(SESSION)
		for call in (
			lambda: client.mark_read(SESSION, CUSTOMER, IDS),
			lambda: client.start_typing(SESSION, CUSTOMER),
			lambda: client.stop_typing(SESSION, CUSTOMER),
			lambda: client.check_numbers(SESSION, [CUSTOMER, NO_WHATSAPP]),
		):
			with pytest.raises(NotSupported) as refused:
				call()
			assert refused.value.code == NOT_SUPPORTED == "NOT_SUPPORTED"
			assert refused.value.http_status == 404
		# the app still sends, paced
		result = client.send_message(SESSION, checked_outgoing(CUSTOMER, "hola"))
		assert [s["id"] for s in sim.pacing(SESSION)["sends"]] == [result.message_id]
		assert sim.pacing(SESSION)["reads"] == sim.pacing(SESSION)["presence"] == []


class _Refusing(BaseHTTPRequestHandler):
	"""A server that has no pacing routes and says so with 405 (a proxy in front of an older gateway)."""

	def do_POST(self) -> None:
		self.rfile.read(int(self.headers.get("Content-Length", "0")))
		body = json.dumps({"error": "Method Not Allowed"}).encode()
		self.send_response(405)
		self.send_header("Content-Type", "application/json")
		self.send_header("Content-Length", str(len(body)))
		self.end_headers()
		self.wfile.write(body)

	def log_message(self, *args: object) -> None:
		pass


def test_a_405_for_the_route_is_not_supported():
	server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
	threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
	try:
		url = f"http://127.0.0.1:{server.server_address[1]}"
		for gateway_type in TYPES:
			with make_client(gateway_type, url, SENTINEL_KEY, TIMEOUTS) as client:
				with pytest.raises(NotSupported) as refused:
					client.start_typing("default", CUSTOMER)
				assert refused.value.http_status == 405
	finally:
		server.shutdown()
		server.server_close()


def test_the_interface_defaults_are_not_supported(linked):
	sim, client = linked
	sim.reset_log()
	for call in (
		lambda: GatewayClient.mark_read(client, SESSION, CUSTOMER, IDS),
		lambda: GatewayClient.start_typing(client, SESSION, CUSTOMER),
		lambda: GatewayClient.stop_typing(client, SESSION, CUSTOMER),
		lambda: GatewayClient.check_numbers(client, SESSION, [CUSTOMER]),
	):
		with pytest.raises(NotSupported):
			call()
	assert sim.count() == 0


def test_evolution_typing_to_a_number_without_whatsapp():
	with simulator("evolution") as sim, make_client("evolution", sim.url, SENTINEL_KEY, TIMEOUTS) as client:
		client.create_session(SESSION)
		sim.scan(SESSION)
		with pytest.raises(NotOnWhatsApp):
			client.start_typing(SESSION, NO_WHATSAPP)
		assert sim.pacing(SESSION)["presence"] == []


def test_waha_core_runs_only_default():
	with (
		simulator("waha", version="2024.10.8") as sim,
		make_client("waha", sim.url, "", TIMEOUTS) as client,
	):
		with pytest.raises(SessionNotAllowed):
			client.check_numbers("sales", [CUSTOMER])
		client.create_session("default")
		sim.scan("default")
		client.mark_read("default", CUSTOMER, IDS)
		client.start_typing("default", CUSTOMER)
		assert client.check_numbers("default", [NO_WHATSAPP])[NO_WHATSAPP].exists is False
		pacing = sim.pacing("default")
		assert [i for r in pacing["reads"] for i in r["ids"]] == IDS
		assert [p["presence"] for p in pacing["presence"]] == ["composing"]


def test_waha_checks_stay_within_the_callers_time():
	slow = SessionOptions(qr_after_s=0, rotate_s=0, delay_s=0.6)  # every answer takes 0.6 s
	with simulator("waha") as sim, make_client("waha", sim.url, SENTINEL_KEY, TIMEOUTS) as client:
		client.create_session(SESSION)
		sim.scan(SESSION)
		sim.set_scenario(SESSION, slow)
		started = time.monotonic()
		with pytest.raises(GatewayTimeout):
			client.check_numbers(SESSION, [f"3460055{i:04d}" for i in range(10)], timeout=1.0)
		assert time.monotonic() - started < 2.5
		assert sim.count("numbers", SESSION) <= 2


def test_a_hanging_pacing_route_times_out(gateway_type):
	with (
		simulator(gateway_type, hang_max_s=10) as sim,
		make_client(gateway_type, sim.url, SENTINEL_KEY, Timeouts(connect=1.0, read=0.5)) as client,
	):
		client.create_session(SESSION)
		sim.scan(SESSION)
		sim.set_scenario(SESSION, SessionOptions(fault="hang"))
		started = time.monotonic()
		with pytest.raises(GatewayTimeout):
			client.check_numbers(SESSION, [CUSTOMER])
		assert time.monotonic() - started < 3


# -- numbers without WhatsApp, and the pacing log ------------------------------------------------------------


def test_numbers_ending_in_000_have_no_whatsapp():
	assert not on_whatsapp(NO_WHATSAPP) and not on_whatsapp(NOT_ON_WHATSAPP)
	assert on_whatsapp(CUSTOMER) and on_whatsapp("34600100001")


def test_a_send_to_a_number_without_whatsapp_fails_the_gateways_way(linked):
	sim, client = linked
	if sim.gateway_type != "waha":
		with pytest.raises(NotOnWhatsApp):
			client.send_message(SESSION, checked_outgoing(NO_WHATSAPP, "hola"))
		assert sim.pacing(SESSION)["sends"] == []
		return
	# NOWEB checks no number: the send is accepted, its receipt says it failed
	result = client.send_message(SESSION, checked_outgoing(NO_WHATSAPP, "hola"))
	now = int(time.time())
	page = client.read_messages(SESSION, since=now - 60, until=now + 60)
	assert [(a.message_id, a.status) for a in page.acks] == [(result.message_id, FAILED)]


def test_the_control_route_lists_each_send_with_its_receive_time(linked):
	sim, client = linked
	before = time.time()
	first = client.send_message(SESSION, checked_outgoing(CUSTOMER, "uno"))
	time.sleep(0.05)
	second = client.send_message(SESSION, checked_outgoing("34600999777", "dos"))
	after = time.time()
	client.start_typing(SESSION, CUSTOMER, timeout=1.1)
	client.mark_read(SESSION, CUSTOMER, IDS[:1])
	status, answer = control(sim, f"/_sim/sessions/{SESSION}/pacing")
	assert status == 200 and answer["success"] is True and answer["sessionId"] == SESSION
	sends = answer["sends"]
	assert [(s["id"], s["to"]) for s in sends] == [
		(first.message_id, CUSTOMER),
		(second.message_id, "34600999777"),
	]
	assert before <= sends[0]["at"] < sends[1]["at"] <= after
	assert sends[1]["at"] - sends[0]["at"] >= 0.05
	assert answer["presence"][0]["presence"] == "composing"
	assert answer["reads"][0]["ids"] == IDS[:1]
	assert answer == {"success": True, "sessionId": SESSION, **sim.pacing(SESSION)}
	status, other = control(sim, "/_sim/sessions/someone-else/pacing")
	assert (status, other["sends"], other["presence"], other["reads"]) == (200, [], [], [])


def test_the_pacing_log_keeps_the_newest_entries():
	log = PacingLog()
	for i in range(PACING_LOG_MAX + 7):
		log.sends.append({"id": f"m{i}", "to": CUSTOMER, "at": float(i)})
		log.presence.append({"chat": CUSTOMER, "presence": "composing", "at": float(i)})
		log.reads.append({"chat": CUSTOMER, "ids": [f"m{i}"], "at": float(i)})
	shown = log.as_dict()
	assert PACING_LOG_MAX == 5000
	assert all(len(shown[kind]) == PACING_LOG_MAX for kind in ("sends", "presence", "reads"))
	assert shown["sends"][0]["id"] == "m7" and shown["sends"][-1]["id"] == f"m{PACING_LOG_MAX + 6}"
