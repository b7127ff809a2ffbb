"""Reading back a gateway's message store: each adapter's read_messages against its own simulator's history
route, over real loopback HTTP (Evolution's findMessages, WAHA's chats/all/messages, the Baileys contract's
GET /messages), and the "receiver down" fault whose lost webhooks that route must make up for."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

import pytest

from whatsapp_crm.gateway.adapters import make_client, parse_webhook
from whatsapp_crm.gateway.adapters import waha as waha_adapter
from whatsapp_crm.gateway.client import GatewayClient, Timeouts, WebhookTarget
from whatsapp_crm.gateway.errors import HistoryUnavailable, SessionNotFound
from whatsapp_crm.gateway.messaging import (
	DELIVERED,
	READ,
	SENT,
	HistoryPage,
	checked_outgoing,
	message_id,
)
from whatsapp_crm.simulator import BaseSimulator, SessionOptions, make_simulator
from whatsapp_crm.simulator.webhooks import DROPPED

from .conftest import SENTINEL_KEY
from .test_contract import _Receiver

TYPES = ("baileys", "evolution", "waha")
AUTH = {"baileys": "X-API-Key", "evolution": "apikey", "waha": "X-Api-Key"}
SECRET = "history-secret"
SESSION = "sales-hist"
CUSTOMER = "34600999888"
OTHER = "34600777666"
BASE = 1_790_000_000  # unix s: the first message of the scripted windows
WAIT_S = 8.0
PDF = b"%PDF-1.4\n% missed while the receiver was down\n"


class Clock:
	def __init__(self) -> None:
		self.t = 1000.0

	def __call__(self) -> float:
		return self.t


@pytest.fixture(autouse=True)
def _fresh_waha_versions():
	# The WAHA adapter keeps each base URL's version for minutes; a later simulator may reuse a port.
	waha_adapter._versions.clear()
	yield
	waha_adapter._versions.clear()


@pytest.fixture(params=TYPES)
def gateway_type(request) -> str:
	return request.param


@pytest.fixture
def receiver():
	r = _Receiver()
	yield r
	r.close()


def _sim(gateway_type: str, receiver: _Receiver | None, **kwargs: Any) -> BaseSimulator:
	extra: dict[str, Any] = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	if gateway_type == "baileys" and receiver is not None:
		extra |= {"webhook_url": receiver.url, "webhook_secret": SECRET, "webhook_mode": "hmac"}
	return make_simulator(
		gateway_type,
		api_key=SENTINEL_KEY,
		scenario=SessionOptions(qr_after_s=0, rotate_s=0),
		ack_delay_s=1.0,
		**extra,
		**kwargs,
	)


@pytest.fixture
def linked(gateway_type, receiver):
	"""(simulator, client): a session linked to a phone, its webhooks going to the receiver."""
	with _sim(gateway_type, receiver, clock=Clock()) as sim:
		target = WebhookTarget(url=receiver.url, secret=SECRET)
		with make_client(gateway_type, sim.url, SENTINEL_KEY, Timeouts(1, 5), webhook=target) as client:
			client.create_session(SESSION)
			sim.scan(SESSION, "34911222333")
			yield sim, client


def call(sim: BaseSimulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
	"""A raw request to the simulator, its JSON answer."""
	data = json.dumps(body).encode() if body is not None else None
	headers = {AUTH[sim.gateway_type]: SENTINEL_KEY, "Content-Type": "application/json"}
	request = urllib.request.Request(sim.url + path, data=data, method=method, headers=headers)
	opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
	try:
		with opener.open(request, timeout=10) as resp:
			return resp.status, json.loads(resp.read() or b"null")
	except urllib.error.HTTPError as exc:
		with exc:
			return exc.code, json.loads(exc.read() or b"null")


def read_all(
	client: GatewayClient, since: int, until: int, limit: int = 50, session: str = SESSION
) -> list[HistoryPage]:
	"""Every page of the window, following next_cursor (never more than 20)."""
	pages: list[HistoryPage] = []
	cursor: str | None = None
	for _ in range(20):
		page = client.read_messages(session, since=since, until=until, cursor=cursor, limit=limit)
		pages.append(page)
		cursor = page.next_cursor
		if cursor is None:
			return pages
	pytest.fail(f"the history never ended: {len(pages)} pages")


def iso(ts: int) -> str:
	return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def script_window(sim: BaseSimulator, count: int = 120) -> dict[str, int]:
	"""`count` messages at BASE, BASE+1, ... (every third typed on the phone), one just before and one just
	after the window; the in-window ids (as the app names them) with their timestamps."""
	inside: dict[str, int] = {}
	for i in range(count):
		chat = CUSTOMER if i % 2 else OTHER
		mid = sim.inbound(SESSION, chat, f"m{i}", from_me=i % 3 == 0, timestamp=BASE + i)
		inside[message_id(mid)] = BASE + i
	sim.inbound(SESSION, CUSTOMER, "too early", timestamp=BASE - 1)
	sim.inbound(SESSION, CUSTOMER, "too late", timestamp=BASE + count)
	return inside


def wait_until(found, what: str) -> Any:
	deadline = time.monotonic() + WAIT_S
	while True:
		result = found()
		if result:
			return result
		if time.monotonic() > deadline:
			pytest.fail(f"never happened: {what}")
		time.sleep(0.05)


def delivered_ids(receiver: _Receiver) -> set[str]:
	"""Ids of every message and ack event the receiver got."""
	ids = set()
	for _headers, body, _path in list(receiver.bodies):
		event = parse_webhook(body)
		if event.kind == "message" and event.message is not None:
			ids.add(event.message.id)
		elif event.kind == "ack" and event.ack is not None:
			ids.add(event.ack.message_id)
	return ids


# -- paging and bounds, every type --


def test_paging_returns_every_message_in_the_window_once(linked, gateway_type):
	sim, client = linked
	inside = script_window(sim)
	pages = read_all(client, BASE, BASE + 119, limit=50)
	assert [len(p.messages) for p in pages] == [50, 50, 20]
	got = [m for p in pages for m in p.messages]
	assert sorted(m.id for m in got) == sorted(inside)  # each exactly once, nothing else
	assert all(BASE <= (m.timestamp or 0) <= BASE + 119 for m in got)
	assert all(m.timestamp == inside[m.id] for m in got)
	stamps = [m.timestamp for m in got]
	# Evolution and WAHA answer newest first, the Baileys contract oldest first
	assert stamps == sorted(stamps, reverse=gateway_type != "baileys")
	by_text = {m.text: m for m in got}
	assert by_text["m3"].from_me and not by_text["m4"].from_me
	assert (by_text["m4"].chat, by_text["m5"].chat) == (OTHER, CUSTOMER)
	assert sum(p.skipped for p in pages) == 0


def test_a_narrow_window_and_an_empty_one(linked):
	sim, client = linked
	inside = script_window(sim, count=30)
	pages = read_all(client, BASE + 10, BASE + 14, limit=50)
	assert len(pages) == 1 and pages[0].next_cursor is None
	assert sorted(m.timestamp for m in pages[0].messages) == list(range(BASE + 10, BASE + 15))
	assert {m.id for m in pages[0].messages} <= set(inside)
	empty = read_all(client, BASE + 1000, BASE + 2000)
	assert [p.messages for p in empty] == [()]


def test_an_unknown_session_is_session_not_found(linked):
	_sim, client = linked
	with pytest.raises(SessionNotFound):
		client.read_messages("never-made", since=BASE, until=BASE + 10)


# -- Evolution's quirks --


@pytest.mark.parametrize("gateway_type", ["evolution"])
def test_evolution_filters_only_with_both_bounds(linked):
	sim, _client = linked
	for i in range(10):
		sim.inbound(SESSION, CUSTOMER, f"e{i}", timestamp=BASE + i * 100)
	path = f"/chat/findMessages/{SESSION}"
	one_sided = [
		{"where": {"messageTimestamp": {"gte": iso(BASE + 500)}}},
		{"where": {"messageTimestamp": {"lte": iso(BASE + 100)}}},
		{"where": {"messageTimestamp": {"gte": 0, "lte": iso(BASE + 100)}}},  # 0 is falsy in JS
	]
	for body in one_sided:
		status, answer = call(sim, "POST", path, body)
		assert status == 200
		records = answer["messages"]["records"]
		assert answer["messages"]["total"] == 10 and len(records) == 10  # the filter was silently dropped
		stamps = [r["messageTimestamp"] for r in records]
		assert stamps == sorted(stamps, reverse=True) and stamps[0] == BASE + 900  # newest first
	both = {"where": {"messageTimestamp": {"gte": iso(BASE + 200), "lte": iso(BASE + 400)}}}
	status, answer = call(sim, "POST", path, both)
	assert status == 200
	assert [r["messageTimestamp"] for r in answer["messages"]["records"]] == [
		BASE + 400,
		BASE + 300,
		BASE + 200,
	]
	# numbers are milliseconds to new Date(): seconds would mean January 1970 and match nothing
	as_ms = {"where": {"messageTimestamp": {"gte": (BASE + 800) * 1000, "lte": (BASE + 900) * 1000}}}
	assert call(sim, "POST", path, as_ms)[1]["messages"]["total"] == 2
	as_s = {"where": {"messageTimestamp": {"gte": BASE + 800, "lte": BASE + 900}}}
	assert call(sim, "POST", path, as_s)[1]["messages"]["total"] == 0
	paged = call(sim, "POST", path, {"offset": 4, "page": 3})[1]["messages"]
	assert (paged["total"], paged["pages"], paged["currentPage"]) == (10, 3, 3)
	assert [r["messageTimestamp"] for r in paged["records"]] == [BASE + 100, BASE]
	record = paged["records"][0]
	assert record["key"]["remoteJid"] == f"{CUSTOMER}@s.whatsapp.net" and record["MessageUpdate"] == []
	assert record["message"] == {"conversation": "e1"} and record["id"].startswith("cm")
	status, answer = call(sim, "POST", "/chat/findMessages/nobody", {})
	assert status == 404 and answer["response"]["message"] == ['The "nobody" instance does not exist']


# -- WAHA's store switch and old versions --


def test_waha_store_off_then_on():
	with _sim("waha", None) as sim:
		with make_client("waha", sim.url, SENTINEL_KEY, Timeouts(1, 5)) as client:
			status, _ = call(sim, "POST", "/api/sessions", {"name": "nostore"})  # no config.noweb
			assert status == 201
			sim.scan("nostore")
			sim.inbound("nostore", CUSTOMER, "kept where nobody can read it", timestamp=BASE)
			with pytest.raises(HistoryUnavailable) as caught:
				client.read_messages("nostore", since=BASE - 10, until=BASE + 10)
			assert caught.value.reason == "store_off"
			status, answer = call(sim, "GET", "/api/nostore/chats/all/messages")
			assert status == 400 and "config.noweb.store.enabled=True" in answer["message"]
			# create on an existing session PUTs the app's config, store on, and the sim keeps it
			client.create_session("nostore")
			assert call(sim, "GET", "/api/sessions/nostore")[1]["config"]["noweb"]["store"]["enabled"] is True
			page = client.read_messages("nostore", since=BASE - 10, until=BASE + 10)
			assert [m.text for m in page.messages] == ["kept where nobody can read it"]


def test_waha_2024_has_no_history_route():
	with _sim("waha", None, core_2024=True) as sim:
		with make_client("waha", sim.url, SENTINEL_KEY, Timeouts(1, 5)) as client:
			assert call(sim, "GET", "/api/server/version")[1]["version"] == "2024.10.8"
			client.create_session("default")
			sim.scan("default")
			sim.inbound("default", CUSTOMER, "hola", timestamp=BASE)
			with pytest.raises(HistoryUnavailable) as caught:
				client.read_messages("default", since=BASE - 10, until=BASE + 10)
			assert caught.value.reason == "route_missing"
			# what the route answers there: "all" is read as a chat id, which has no messages
			assert call(sim, "GET", "/api/default/chats/all/messages?limit=10") == (200, [])
			status, rows = call(sim, "GET", f"/api/default/chats/{CUSTOMER}@c.us/messages")
			assert status == 200 and [r["body"] for r in rows] == ["hola"]


@pytest.mark.parametrize("gateway_type", ["waha"])
def test_waha_rows_are_the_webhook_payload_with_the_latest_ack(linked):
	sim, client = linked
	assert call(sim, "GET", "/api/server/version")[1]["version"].startswith("2026.")
	sent = client.send_message(SESSION, checked_outgoing(CUSTOMER, "ours"))
	sim.ack(SESSION, sent.message_id, "delivered")
	sim.inbound(SESSION, CUSTOMER, "theirs")
	status, rows = call(sim, "GET", f"/api/{SESSION}/chats/all/messages?limit=5&downloadMedia=false")
	assert status == 200
	by_body = {r["body"]: r for r in rows}
	ours, theirs = by_body["ours"], by_body["theirs"]
	assert (ours["fromMe"], ours["ack"], ours["ackName"]) == (True, 2, "DEVICE")
	assert ours["_data"]["status"] == "DELIVERY_ACK" and ours["id"].endswith(sent.message_id)
	assert (theirs["fromMe"], theirs["ack"]) == (False, None) and theirs["from"] == f"{CUSTOMER}@c.us"
	status, _ = call(sim, "GET", "/api/not-started/chats/all/messages")
	assert status == 404


# -- Baileys REST: the cursor --


@pytest.mark.parametrize("gateway_type", ["baileys"])
def test_baileys_cursor_pages_never_shift(linked):
	sim, client = linked
	inside = script_window(sim)
	first = client.read_messages(SESSION, since=BASE, until=BASE + 119, limit=50)
	assert len(first.messages) == 50 and first.next_cursor
	# a message stored between two reads, inside the window: later pages take it, nothing repeats
	late = sim.inbound(SESSION, CUSTOMER, "arrived while paging", timestamp=BASE + 100)
	pages = [first]
	cursor: str | None = first.next_cursor
	while cursor is not None:
		pages.append(client.read_messages(SESSION, since=BASE, until=BASE + 119, cursor=cursor, limit=50))
		cursor = pages[-1].next_cursor
		assert len(pages) <= 4
	ids = [m.id for p in pages for m in p.messages]
	assert len(ids) == len(set(ids)) == 121 and set(ids) == {*inside, late}
	status, answer = call(sim, "GET", f"/api/sessions/{SESSION}/messages?cursor=bm9wZQ")
	assert (status, answer["error"]) == (400, "INVALID_CURSOR")
	status, answer = call(sim, "GET", f"/api/sessions/{SESSION}/messages?limit=500")
	assert (status, answer["error"]) == (400, "INVALID_QUERY")
	status, answer = call(sim, "GET", f"/api/sessions/{SESSION}/messages?since={BASE}&until={BASE + 1}")
	assert status == 200 and answer["nextCursor"] is None
	assert [m["text"] for m in answer["messages"]] == ["m0", "m1"] and answer["messages"][0][
		"status"
	] == "sent"


# -- the receiver-down fault, and what history makes up for --


def test_receiver_down_history_recovers_each_lost_message_once(linked, receiver, gateway_type):
	sim, client = linked
	status, answer = call(sim, "POST", "/_sim/receiver", {"down": True})
	assert (status, answer["success"], answer["down"]) == (200, True, True) and sim.receiver_down
	assert call(sim, "POST", "/_sim/receiver", {"down": "yes"})[0] == 400
	lost = [
		sim.inbound(SESSION, CUSTOMER, "lost 1"),
		sim.inbound(SESSION, CUSTOMER, "lost twice", repeat=2),
		sim.inbound(SESSION, OTHER, "typed on the phone", from_me=True),
		sim.inbound(
			SESSION,
			CUSTOMER,
			None,
			media={"data": PDF, "mimetype": "application/pdf", "filename": "bill.pdf"},
		),
	]
	sent = client.send_message(SESSION, checked_outgoing(CUSTOMER, "sent while down"))
	sim.ack(SESSION, sent.message_id, "read")
	lost_ids = {message_id(mid) for mid in lost} | {sent.message_id}

	sim.set_receiver_down(False)
	marker = message_id(sim.inbound(SESSION, CUSTOMER, "after the receiver came back"))
	# one queue, each session's events in order: once the marker arrived, every earlier event was handled
	wait_until(lambda: marker in delivered_ids(receiver), "the marker reached the receiver")
	assert not lost_ids & delivered_ids(receiver)
	dropped = [e for e in sim.webhook_log if e.get("dropped")]
	assert len(dropped) == sim.webhook_dropped >= len(lost_ids)
	assert all(e["error"] == DROPPED and e["status"] is None for e in dropped)

	now = int(time.time())
	got = [m for p in read_all(client, now - 3600, now + 3600, limit=3) for m in p.messages]
	ids = [m.id for m in got]
	assert sorted(ids) == sorted({*lost_ids, marker})  # each once: the repeated webhook is one message
	by_id = {m.id: m for m in got}
	pdf = by_id[message_id(lost[3])]
	assert pdf.media is not None and client.download_media(SESSION, pdf).data == PDF
	assert by_id[sent.message_id].from_me and by_id[sent.message_id].text == "sent while down"
	typed = by_id[message_id(lost[2])]
	assert typed.from_me and typed.chat == OTHER
	acks = {a.message_id: a.status for p in read_all(client, now - 3600, now + 3600) for a in p.acks}
	assert acks.get(sent.message_id) == READ


def test_acks_of_our_own_messages_come_back(linked):
	sim, client = linked
	read = client.send_message(SESSION, checked_outgoing(CUSTOMER, "read it"))
	delivered = client.send_message(SESSION, checked_outgoing(CUSTOMER, "got it"))
	only_sent = client.send_message(SESSION, checked_outgoing(OTHER, "on its way"))
	sim.ack(SESSION, read.message_id, "delivered")
	sim.ack(SESSION, read.message_id, "read")
	sim.ack(SESSION, delivered.message_id, "delivered")
	theirs = message_id(sim.inbound(SESSION, CUSTOMER, "a reply"))
	now = int(time.time())
	pages = read_all(client, now - 3600, now + 3600)
	acks = {a.message_id: a.status for p in pages for a in p.acks}
	assert acks == {read.message_id: READ, delivered.message_id: DELIVERED, only_sent.message_id: SENT}
	assert theirs in {m.id for p in pages for m in p.messages} and theirs not in acks
