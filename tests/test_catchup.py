"""The catch-up (gateway/catchup.py) against each simulator over loopback: a window read page by page, bounded
runs that resume where they stopped, a watermark moved only by finished windows, every missed message stored
once however often windows overlap, order kept, and bad gateway pages (endless, not JSON, huge) bounded."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from whatsapp_crm.gateway import texts
from whatsapp_crm.gateway.adapters import make_client
from whatsapp_crm.gateway.catchup import DUPLICATE, MARGIN_S, STORED, Reconciler, SyncState
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.gateway.errors import BAD_RESPONSE, HISTORY_UNAVAILABLE, HistoryUnavailable
from whatsapp_crm.gateway.messaging import Ack, InboundMessage, message_id
from whatsapp_crm.simulator import SessionOptions, make_simulator

from .conftest import SENTINEL_KEY
from .test_sim_history import SESSION, TYPES, Clock, _fresh_waha_versions

NOW = int(time.time())  # the simulators stamp sends with the real clock
CUSTOMER = "34600999888"


class Store:
	"""The app's once-only path, as the Frappe side keeps it: one record per message id."""

	def __init__(self) -> None:
		self.rows: dict[str, InboundMessage] = {}
		self.order: list[str] = []
		self.acks: list[Ack] = []
		self.calls = 0

	def store(self, message: InboundMessage) -> str:
		self.calls += 1
		if message.id in self.rows:
			return DUPLICATE
		self.rows[message.id] = message
		self.order.append(message.id)
		return STORED

	def ack(self, ack: Ack) -> None:
		self.acks.append(ack)

	def known(self, page: list[InboundMessage]) -> set[str]:
		return {m.id for m in page if m.id in self.rows}


@pytest.fixture(params=TYPES)
def linked(request):
	gateway_type = request.param
	clock = Clock()
	clock.t = NOW
	extra: dict[str, Any] = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	sim = make_simulator(
		gateway_type,
		api_key=SENTINEL_KEY,
		scenario=SessionOptions(qr_after_s=0, rotate_s=0),
		clock=clock,
		**extra,
	)
	with sim:
		with make_client(gateway_type, sim.url, SENTINEL_KEY) as client:
			client.create_session(SESSION)
			sim.scan(SESSION, "34911222333")
			sim.set_receiver_down(True)
			yield sim, client, clock


def missed(sim, count: int, start: int) -> list[str]:
	return [
		message_id(sim.inbound(SESSION, CUSTOMER, f"m{i}", timestamp=start + i // 3)) for i in range(count)
	]


def reconciler(client, clock, **kwargs) -> Reconciler:
	return Reconciler(client, SESSION, clock=clock, **kwargs)


def test_one_run_recovers_every_missed_message_once_in_order(linked):
	sim, client, clock = linked
	ids = missed(sim, 120, NOW - 2000)
	store = Store()
	progress: list[SyncState] = []
	result = reconciler(client, clock).run(
		SyncState(watermark=NOW - 3000), store.store, store.ack, after_page=progress.append
	)
	assert (result.complete, result.error, result.stored, result.pages) == (True, None, 120, 3)
	# Each page but the last left a resumable state (its cursor) for the caller to keep.
	assert [p.window_pages for p in progress] == [1, 2] and all(p.cursor for p in progress)
	assert sorted(store.order) == sorted(ids) and len(store.order) == 120
	# Each page is stored oldest first (the Frappe side gives each message its gateway time, which is what
	# CRM orders by; Evolution and WAHA page newest first, so their pages come newest page first).
	stamps = [store.rows[i].timestamp for i in store.order]
	assert all(stamps[i : i + 50] == sorted(stamps[i : i + 50]) for i in range(0, 120, 50))
	if client.gateway_type == "baileys":
		assert store.order == ids
	assert result.state == SyncState(watermark=NOW)  # the window's end, not the newest message
	# Ten minutes on, nothing missing: the next run asks the gateway once and stores nothing.
	clock.t = NOW + 600
	sim.reset_log()
	again = reconciler(client, clock).run(result.state, store.store, store.ack, known=store.known)
	assert (again.complete, again.stored, again.pages) == (True, 0, 1)
	assert len(sim.requests) <= 2
	# Windows overlap by the margin: what was stored in the overlap counts as a duplicate, never twice.
	overlap = reconciler(client, clock).run(SyncState(watermark=NOW - 1400), store.store, store.ack)
	assert (overlap.stored, overlap.duplicates) == (0, 120) and len(store.rows) == 120


def test_a_bounded_run_resumes_where_it_stopped(linked):
	sim, client, clock = linked
	ids = missed(sim, 130, NOW - 100)
	store = Store()
	state = SyncState(watermark=NOW - 200)
	runs = []
	for _ in range(5):
		result = reconciler(client, clock, max_pages=1).run(state, store.store, store.ack)
		runs.append(result)
		state = result.state
		if result.complete:
			break
	assert [r.complete for r in runs] == [False, False, True]
	assert runs[0].state.in_window and runs[0].state.cursor  # the window and its cursor are kept
	assert runs[0].state.watermark == NOW - 200  # an unfinished window does not move the watermark
	assert sorted(store.order) == sorted(ids) and len(store.order) == 130


def test_messages_arriving_during_a_window_wait_for_the_next_one(linked):
	sim, client, clock = linked
	missed(sim, 60, NOW - 100)
	store = Store()
	first = reconciler(client, clock, max_pages=1).run(SyncState(watermark=NOW - 200), store.store, store.ack)
	assert not first.complete
	clock.t = NOW + MARGIN_S + 60  # later than the window's end
	late = message_id(sim.inbound(SESSION, CUSTOMER, "after the window", timestamp=int(clock.t)))
	done = reconciler(client, clock).run(first.state, store.store, store.ack)
	assert done.complete and late not in store.rows and len(store.rows) == 60
	nxt = reconciler(client, clock).run(done.state, store.store, store.ack, known=store.known)
	assert late in store.rows and nxt.stored == 1


def test_a_gateway_clock_ahead_of_the_site_loses_nothing(linked):
	sim, client, clock = linked
	# The gateway stamps messages 5 minutes ahead of the site's clock (within the safety margin).
	ahead = message_id(sim.inbound(SESSION, CUSTOMER, "from the future", timestamp=NOW + 300))
	store = Store()
	result = reconciler(client, clock).run(SyncState(watermark=NOW - 100), store.store, store.ack)
	assert ahead in store.rows and result.complete


def test_by_hand_since_reads_an_older_window(linked):
	sim, client, clock = linked
	old = message_id(sim.inbound(SESSION, CUSTOMER, "yesterday", timestamp=NOW - 86_000))
	store = Store()
	usual = reconciler(client, clock).run(SyncState(watermark=NOW - 100), store.store, store.ack)
	assert old not in store.rows
	by_hand = reconciler(client, clock).run(usual.state, store.store, store.ack, since=NOW - 86_400)
	assert old in store.rows and by_hand.stored == 1


def test_receipts_come_back_with_the_messages(linked):
	sim, client, clock = linked
	from whatsapp_crm.gateway.messaging import checked_outgoing

	sent = client.send_message(SESSION, checked_outgoing(CUSTOMER, "hola"))
	sim.ack(SESSION, sent.message_id, "read")
	store = Store()
	reconciler(client, clock).run(SyncState(watermark=NOW - 100), store.store, store.ack)
	assert [(a.message_id, a.status) for a in store.acks if a.message_id == sent.message_id] == [
		(sent.message_id, "read")
	]


def test_waha_without_a_store_says_so_and_does_not_loop():
	with make_simulator(
		"waha", api_key=SENTINEL_KEY, scenario=SessionOptions(qr_after_s=0), core_2024=True
	) as sim:
		with make_client("waha", sim.url, SENTINEL_KEY) as client:
			client.create_session("default")
			sim.scan("default", "34911222333")
			store = Store()
			result = Reconciler(client, "default").run(SyncState(watermark=NOW), store.store, store.ack)
	assert result.error is not None and result.error.code == HISTORY_UNAVAILABLE
	assert result.error.reason == "route_missing" and result.pages == 0 and not result.complete


class _BadGateway:
	"""A Baileys REST gateway whose history route misbehaves in one of a few ways."""

	def __init__(self, mode: str) -> None:
		self.mode = mode
		self.calls = 0
		owner = self

		class Handler(BaseHTTPRequestHandler):
			def do_GET(self) -> None:
				owner.calls += 1
				if owner.mode == "endless":
					row = {"id": f"M{owner.calls}", "chat": CUSTOMER, "text": "again", "timestamp": NOW}
					body = json.dumps({"success": True, "messages": [row], "nextCursor": "same"}).encode()
					ctype = "application/json"
				elif owner.mode == "html":
					body, ctype = b"<html><body>502 Bad Gateway</body></html>", "text/html"
				else:  # huge
					body, ctype = (
						b'{"messages": [' + b'{"id": "x"},' * 2_000_000 + b"{}]}",
						"application/json",
					)
				self.send_response(200)
				self.send_header("Content-Type", ctype)
				self.send_header("Content-Length", str(len(body)))
				self.end_headers()
				self.wfile.write(body)

			def log_message(self, *args: Any) -> None:
				pass

		self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
		threading.Thread(target=self.server.serve_forever, daemon=True).start()
		self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

	def close(self) -> None:
		self.server.shutdown()
		self.server.server_close()


@pytest.mark.parametrize("mode", ["endless", "html", "huge"])
def test_a_bad_history_page_is_bounded_and_reported(mode):
	gateway = _BadGateway(mode)
	try:
		with make_client("baileys", gateway.url, SENTINEL_KEY) as client:
			store = Store()
			result = Reconciler(client, SESSION, max_pages=50).run(
				SyncState(watermark=NOW), store.store, store.ack
			)
	finally:
		gateway.close()
	assert result.error is not None and result.error.code == BAD_RESPONSE
	assert not result.complete and result.state.watermark == NOW  # nothing skipped: the window comes again
	assert gateway.calls <= 2  # a cursor given twice ends the window at once
	assert len(store.rows) <= gateway.calls  # what came was kept


def test_doctor_says_once_that_waha_2024_cannot_list_past_messages():
	from whatsapp_crm.gateway.client import Timeouts
	from whatsapp_crm.gateway.doctor import SKIP, diagnose
	from whatsapp_crm.gateway.texts import HISTORY_ROUTE_MISSING

	with make_simulator("waha", api_key=SENTINEL_KEY, core_2024=True) as sim:
		report = diagnose(sim.url, SENTINEL_KEY, "waha", Timeouts(1, 2), timeout=2)
	history = [c for c in report.checks if c.name == "history"]
	assert len(history) == 1 and history[0].result == SKIP and history[0].code == HISTORY_UNAVAILABLE
	assert history[0].template == HISTORY_ROUTE_MISSING
	assert report.ok  # linking can still work: this is news, not a failure


def test_a_full_last_page_costs_no_empty_request_after_it(linked):
	sim, client, clock = linked
	missed(sim, 100, NOW - 2000)  # exactly two pages of 50
	store = Store()
	result = reconciler(client, clock).run(SyncState(watermark=NOW - 3000), store.store, store.ack)
	assert (result.complete, result.stored, result.pages) == (True, 100, 2)


@pytest.mark.parametrize(
	("gateway_type", "remedy"),
	[
		("baileys", "GET /api/sessions/SESSION/messages"),
		("evolution", "Update Evolution API"),
		("waha", "WAHA 2024.11 or later"),
	],
)
def test_a_missing_history_route_names_the_remedy_for_its_type(gateway_type, remedy):
	words = texts.for_history("route_missing", gateway_type)
	assert remedy in words
	others = {"baileys": "Baileys", "evolution": "Evolution", "waha": "WAHA"}
	assert not [name for t, name in others.items() if t != gateway_type and name in words]


def test_a_baileys_server_without_the_history_route_is_told_its_own_remedy(file_server):
	"""An older Baileys REST server (here: one that answers 404 to every route) is not told to update WAHA."""
	client = make_client("baileys", file_server, "k", Timeouts(1, 2))
	with client, pytest.raises(HistoryUnavailable) as e:
		client.read_messages("s1", since=1, until=2)
	assert e.value.gateway_type == "baileys"
	words = texts.for_history(e.value.reason, e.value.gateway_type)
	assert words == texts.HISTORY_ROUTE_MISSING_BAILEYS and "WAHA" not in words
