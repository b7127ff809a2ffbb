# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""Live sessions: the watcher, fresh and single-flight status, the circuit breaker, the health sweep, webhooks
and pairing codes, against the gateway simulator over loopback and the site's real Redis."""

import json
import threading
import time

import frappe
from frappe.utils import set_request

from whatsapp_crm.api import session as api
from whatsapp_crm.api.webhook import receive
from whatsapp_crm.gateway.monitor import Watch
from whatsapp_crm.gateway.webhook import MAX_WEBHOOK_BODY, sign
from whatsapp_crm.gateway_records.config import breaker_for
from whatsapp_crm.integration import SESSION, SETTINGS
from whatsapp_crm.sessions import live, sweep, watcher
from whatsapp_crm.simulator import SessionOptions
from whatsapp_crm.testing import TEST_GATEWAY, GatewayTestCase, capture_realtime, configure, make_session

PREFIX = "walive-"
SECRET = "webhook-secret-for-tests"


def reset_live_state(name: str, gateway_url: str) -> None:
	for kind in ("flight", "payload", "pairing", "heard"):
		live.STORE.delete(f"whatsapp_crm:{kind}:{name}")
	live.watch_drop(name)
	live.STORE.delete(f"whatsapp_crm:breaker:{TEST_GATEWAY}:{name}")
	live.STORE.delete(f"whatsapp_crm:breaker:{TEST_GATEWAY}")


def run_watcher(max_slices: int = 10, slice_s: float = 3.0) -> list[str]:
	"""Run the watcher in this process until nothing waits (a test's own slices; nothing is queued)."""
	reasons = []
	for _ in range(max_slices * 10):
		reasons.append(watcher.tick(slice_s=slice_s, requeue=False))
		if not live.watch_all():
			break
		if reasons[-1] == "busy":  # a bench worker's watcher holds the lock: it serves the list meanwhile
			time.sleep(0.3)
		elif len([r for r in reasons if r != "busy"]) >= max_slices:
			break
	return reasons


class LiveCase(GatewayTestCase):
	prefix = PREFIX
	settings_overrides = {"webhook_secret": SECRET}  # noqa: RUF012

	def session(self, suffix: str, scenario=None, **fields):
		doc = make_session(PREFIX + suffix, **fields)
		reset_live_state(doc.name, self.sim.url)
		self.addCleanup(reset_live_state, doc.name, self.sim.url)
		if scenario is not None:
			self.sim.set_scenario(doc.session_id, scenario)
		return doc

	def watch(self, doc, create_first: bool = True, user: str = "Administrator") -> None:
		now = time.time()
		live.watch_put(
			Watch(doc.name, doc.session_id, started=now, next_due=now, create_first=create_first, user=user)
		)


class TestWatcher(LiveCase):
	def setUp(self):
		super().setUp()
		live.Lock(live.WATCHER_LOCK, 1).release()  # (only its owner could; a stale test lock expires)
		frappe.db.commit()  # nosemgrep: the watcher commits each change; tests clean up by prefix

	def test_many_sessions_one_watcher_writes_only_changes(self):
		docs = [
			self.session(f"many{i}", SessionOptions(qr_after_s=0.3, scan_after_s=1.0, rotate_s=0))
			for i in range(6)
		]
		frappe.db.commit()  # nosemgrep: the watcher reads committed documents
		for doc in docs:
			self.watch(doc)
		_reasons, events = capture_realtime(run_watcher)
		updates = [e["message"] for e in events if e.get("event") == live.UPDATE_EVENT]
		for doc in docs:
			with self.subTest(doc.name):
				self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Connected")
				statuses = [u["status"] for u in updates if u["session_db_id"] == doc.name]
				self.assertEqual(statuses[-1], "Connected")
				self.assertIn("QR Ready", statuses)
				# one push per change, not per gateway read
				self.assertLess(
					len(statuses), self.sim.count(endpoint="status", session_id=doc.session_id) + 2
				)
				self.assertEqual(self.sim.count(endpoint="create", session_id=doc.session_id), 1)
		self.assertEqual(live.watch_all(), [])
		self.assertFalse(frappe.cache.exists(live.WATCHER_LOCK))  # released

	def test_an_old_qr_read_never_undoes_a_link_a_webhook_stored(self):
		"""The watcher read a QR; before it wrote, the phone was linked and a webhook stored Connected (seen in
		the browser test): the read is old news, and the session stays Connected."""
		from whatsapp_crm.gateway.acquire import QrOutcome
		from whatsapp_crm.gateway.monitor import MonitorPolicy

		doc = self.session("race")
		doc.db_set({"status": "Connected", "phone_number": "34600111222"}, update_modified=False)
		frappe.db.commit()  # nosemgrep: as the webhook's request does
		now = time.time()
		w = Watch(doc.name, doc.session_id, started=now, next_due=now)
		qr = QrOutcome(
			doc.session_id, "qr", qr_code="data:image/png;base64,AAAA", qr_payload="2@x", has_qr=True
		)
		watcher._apply(w, qr, MonitorPolicy())
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Connected")

	def test_a_dead_watcher_is_replaced(self):
		"""A worker killed mid-watch leaves its lock to expire; the next wake-up (the scheduler's
		keep_alive, or a request) finds the list still there and a new tick serves it."""
		doc = self.session("dead", SessionOptions(scan_after_s=0.3, rotate_s=0))
		frappe.db.commit()  # nosemgrep: the watcher reads committed documents
		self.watch(doc)
		dead = live.Lock(live.WATCHER_LOCK, ttl_s=1)
		self.assertTrue(dead.acquire())  # the dead worker's lock, never released
		self.assertEqual(watcher.tick(requeue=False), "busy")
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Not Created")
		time.sleep(1.2)  # the lock's TTL runs out
		live.clear_wake()
		watcher.keep_alive()  # the scheduler, a minute later
		self.assertTrue(live.watcher_alive())  # a tick was queued
		run_watcher()
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Connected")

	def test_speaks_the_language_of_who_asked(self):
		from whatsapp_crm.testing import make_user

		user = make_user("wa-manager-es@example.com", ["WhatsApp Manager"])
		frappe.db.set_value("User", user, "language", "es")
		frappe.clear_cache(user=user)
		doc = self.session("lang", SessionOptions(scan_after_s=0.3, rotate_s=0))
		frappe.db.commit()  # nosemgrep: the watcher reads committed documents
		self.watch(doc, user=user)
		old_lang = frappe.local.lang
		try:
			run_watcher()
		finally:
			frappe.local.lang = old_lang
		latest = live.latest_payload(doc.name)
		self.assertEqual(latest["message_template"], "WhatsApp is linked to {0}.")
		self.assertEqual(latest["message_args"], ["34600111222"])
		self.assertEqual(latest["message"], "WhatsApp está vinculado a 34600111222.")

	def test_stops_at_once_when_the_key_is_refused(self):
		doc = self.session("key")
		configure(self.sim.url, api_key="wrong")
		frappe.db.commit()  # nosemgrep: the watcher reads committed settings
		self.watch(doc)
		run_watcher()
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Failed")
		self.assertEqual(live.watch_all(), [])

	def test_a_deleted_session_is_dropped(self):
		doc = self.session("gone", SessionOptions(qr_after_s=999))
		frappe.db.commit()  # nosemgrep: the watcher reads committed documents
		self.watch(doc)
		frappe.delete_doc(SESSION, doc.name)
		frappe.db.commit()  # nosemgrep: the after-commit hook drops the watch
		self.assertIsNone(live.watch_get(doc.name))

	def test_create_hands_over_to_the_watcher_or_says_why_not(self):
		doc = self.session("create", SessionOptions(qr_after_s=0.3, scan_after_s=1.0, rotate_s=0))
		configure(self.sim.url, use_monitor=1, request_wait=0)
		frappe.db.commit()  # nosemgrep: a worker (another connection) must see the session
		payload = api.create_session(doc.name)
		if not live.workers_available():
			self.assertEqual(payload["debug"]["monitor"], "no_worker")  # fell back to the request
			self.assertEqual(payload["status"], "QR Ready")
			return
		self.assertEqual(payload["debug"]["monitor"], "started")
		self.assertEqual(payload["status"], "Connecting")  # it did not wait on the gateway
		for _ in range(300):  # a worker's watcher (or ours) stores its news; bounded, no timing assertion
			if live.watcher_alive() is False and live.watch_all():
				run_watcher(max_slices=1)
			latest = live.latest_payload(doc.name)
			if latest and latest["status"] == "Connected":
				break
			time.sleep(0.1)
		self.assertEqual(latest["status"], "Connected")


class TestStatusShortcuts(LiveCase):
	def test_status_answers_from_the_watcher_without_the_gateway(self):
		doc = self.session("stored")
		self.watch(doc, create_first=False)
		self.assertTrue(live.claim_wake() or live.watcher_alive())  # as if a tick were queued
		self.addCleanup(live.clear_wake)
		before = self.sim.count()
		payload = api.get_status(doc.name)
		self.assertEqual(payload["debug"]["source"], "watcher")
		self.assertEqual(payload["status"], "Not Created")
		self.assertEqual(self.sim.count(), before)

	def test_status_never_waits_on_a_hanging_gateway_while_a_worker_runs(self):
		doc = self.session("hangs", "hang")
		configure(self.sim.url, use_monitor=1, request_wait=0.3, webhook_secret=SECRET)
		frappe.db.commit()  # nosemgrep: the watcher (a worker) reads committed documents
		self.addCleanup(live.watch_drop, doc.name)
		payload = api.get_status(doc.name)
		if not live.workers_available():
			self.assertEqual(payload["debug"]["monitor"], "no_worker")  # said so, and waited in the request
			return
		# Answered from what is known, the read handed to the watcher: no TIMEOUT from this request
		self.assertEqual(payload["debug"]["monitor"], "started")
		self.assertNotEqual(payload["qr_error"], "TIMEOUT")
		self.assertIsNotNone(live.watch_get(doc.name))

	def test_a_fresh_answer_is_reused_within_the_poll_interval(self):
		doc = self.session("fresh")
		api.create_session(doc.name)  # in the request (use_monitor is off here)
		before = self.sim.count(endpoint="status", session_id=doc.session_id)
		answers = [api.get_status(doc.name) for _ in range(10)]
		self.assertEqual(self.sim.count(endpoint="status", session_id=doc.session_id), before)
		self.assertEqual({a["debug"]["source"] for a in answers}, {"fresh"})
		self.assertEqual(answers[-1]["status"], "QR Ready")

	def test_the_forms_poll_is_served_by_a_fresh_answer_too(self):
		"""The form polls with recreate=1 (re-create a session the gateway forgot): that is no reason to read
		again an answer younger than the poll interval; one that says the session is gone still is."""
		doc = self.session("fresh-poll")
		api.create_session(doc.name)
		before = self.sim.count(endpoint="status", session_id=doc.session_id)
		answers = [api.get_status(doc.name, recreate=1) for _ in range(10)]
		self.assertEqual(self.sim.count(endpoint="status", session_id=doc.session_id), before)
		self.assertEqual({a["debug"]["source"] for a in answers}, {"fresh"})

	def test_single_flight(self):
		doc = self.session("flight")
		token = live.try_single_flight(doc.name, 30)
		self.assertIsNotNone(token)
		try:
			self.assertIsNone(live.try_single_flight(doc.name, 30))
			before = self.sim.count()
			payload = api.get_status(doc.name)
			self.assertEqual(payload["debug"]["source"], "single_flight")
			self.assertEqual(self.sim.count(), before)
		finally:
			live.end_single_flight(doc.name, token)
		self.assertEqual(api.get_status(doc.name)["debug"]["source"], "status")

	def test_twenty_concurrent_status_calls_read_the_gateway_at_most_three_times(self):
		"""Single flight under a crowd: 20 forms polling at once (the form asks with recreate=1) on one
		session whose answer is not fresh, in the request (no watcher)."""
		doc = self.session("crowd")
		api.create_session(doc.name)  # in the request (use_monitor is off here): the QR is on screen
		live.clear_payload(doc.name)  # nothing fresh: the first call reads
		frappe.db.commit()  # nosemgrep: the threads' own connections must see the fixture
		before = self.sim.count(endpoint="status", session_id=doc.session_id)
		site, answers = frappe.local.site, []

		def click() -> None:
			frappe.init(site=site)
			frappe.connect()
			try:
				answers.append(api.get_status(doc.name, recreate=1)["status"])
				frappe.db.commit()  # nosemgrep: as the request would
			finally:
				frappe.destroy()

		started = time.monotonic()
		threads = [threading.Thread(target=click) for _ in range(20)]
		for t in threads:
			t.start()
		for t in threads:
			t.join(30)
		time.sleep(max(0.0, started + 1.5 - time.monotonic()))  # the burst's window, as measured by hand
		reads = self.sim.count(endpoint="status", session_id=doc.session_id) - before
		self.assertEqual(len(answers), 20)
		self.assertLessEqual(reads, 3, f"{reads} gateway reads for 20 concurrent Status calls")

	def test_circuit_breaker(self):
		doc = self.session("breaker", "hang")
		first = api.get_status(doc.name)
		self.assertEqual(first["qr_error"], "TIMEOUT")
		live.clear_payload(doc.name)  # not fresh: the next call would ask the gateway
		sent = self.sim.count(session_id=doc.session_id)
		second = api.get_status(doc.name)
		self.assertTrue(second["debug"]["breaker_open"])
		self.assertEqual((second["qr_error"], second["keep_polling"]), ("TIMEOUT", True))
		self.assertEqual(self.sim.count(session_id=doc.session_id), sent)  # it did not ask the gateway
		self.assertGreaterEqual(second["poll_after_ms"], 1000)


class TestSweep(LiveCase):
	def connected(self, suffix: str, on_gateway: str = "linked"):
		"""A session the app believes Connected; on the gateway: linked, waiting for a scan, or unknown."""
		from whatsapp_crm.testing import make_user

		owner = make_user("wa-owner@example.com")
		doc = self.session(suffix, SessionOptions(qr_after_s=0, rotate_s=0), owner_user=owner)
		if on_gateway != "unknown":
			self.sim_client().create_session(doc.session_id)
		if on_gateway == "linked":
			self.sim.scan(doc.session_id)
		doc.db_set({"status": "Connected", "phone_number": "34600111222"}, update_modified=False)
		frappe.db.commit()  # nosemgrep: the sweep commits each incident
		return doc

	def sim_client(self):
		from whatsapp_crm.gateway.adapters import make_client
		from whatsapp_crm.testing import TEST_KEY

		client = make_client("baileys", self.sim.url, TEST_KEY)
		self.addCleanup(client.close)
		return client

	def lost_logs(self, name: str) -> list:
		return frappe.get_all(
			"Error Log", filters={"method": sweep.TITLE_LOST, "reference_name": name}, pluck="name"
		)

	def test_a_lost_session_is_reported_once(self):
		doc = self.connected("lost", on_gateway="unknown")  # the gateway restarted without its data
		self.addCleanup(frappe.db.delete, "Error Log", {"method": sweep.TITLE_LOST})
		_result, events = capture_realtime(lambda: sweep.sweep(names=[doc.name]))
		doc.reload()
		self.assertEqual(doc.status, "Disconnected")
		self.assertEqual(len(self.lost_logs(doc.name)), 1)
		bell = frappe.get_all(
			"Notification Log",
			filters={"document_name": doc.name, "for_user": "wa-owner@example.com"},
			pluck="subject",
		)
		self.assertEqual(len(bell), 1)
		self.assertIn(doc.label, bell[0])
		self.assertTrue(
			any(e.get("event") == live.LOST_EVENT and e["message"]["session"] == doc.name for e in events)
		)
		events_rows = frappe.get_all(
			"WhatsApp Session Event",
			filters={"session": doc.name},
			fields=["from_status", "to_status", "source", "reason"],
		)
		self.assertIn(
			("Connected", "Disconnected", "Sweep"),
			[(e.from_status, e.to_status, e.source) for e in events_rows],
		)
		sweep.sweep(names=[doc.name])  # the same incident is not reported again
		self.assertEqual(len(self.lost_logs(doc.name)), 1)

	def test_a_closed_session_is_read_twice_then_reported(self):
		doc = self.connected("closed", on_gateway="waiting")  # the gateway waits for a new scan
		self.addCleanup(frappe.db.delete, "Error Log", {"method": sweep.TITLE_LOST})
		before = self.sim.count(endpoint="status", session_id=doc.session_id)
		stats = sweep.sweep(names=[doc.name])
		self.assertEqual(self.sim.count(endpoint="status", session_id=doc.session_id) - before, 2)
		self.assertGreaterEqual(stats["lost"], 1)
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Disconnected")

	def test_a_healthy_session_is_left_alone(self):
		doc = self.connected("healthy", on_gateway="linked")
		modified = frappe.db.get_value(SESSION, doc.name, "modified")
		sweep.sweep(names=[doc.name])
		self.assertEqual(
			frappe.db.get_value(SESSION, doc.name, ["status", "modified"]), ("Connected", modified)
		)
		self.assertEqual(self.lost_logs(doc.name), [])
		self.assertFalse(frappe.db.exists("Notification Log", {"document_name": doc.name}))

	def test_sessions_heard_from_by_webhook_are_left_to_the_webhooks(self):
		doc = self.connected("heard", on_gateway="unknown")
		live.mark_heard(doc.name)
		before = self.sim.count(session_id=doc.session_id)
		stats = sweep.sweep(names=[doc.name])
		self.assertGreaterEqual(stats["skipped"], 1)
		self.assertEqual(self.sim.count(session_id=doc.session_id), before)
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Connected")

	def test_an_open_breaker_stops_the_sweep(self):
		doc = self.connected("sick", on_gateway="unknown")
		breaker_for(TEST_GATEWAY).record("TIMEOUT")
		before = self.sim.count(session_id=doc.session_id)
		stats = sweep.sweep(names=[doc.name])
		self.assertEqual(stats["stopped"], f"{TEST_GATEWAY}:breaker")  # only that gateway stopped
		self.assertEqual(self.sim.count(session_id=doc.session_id), before)
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Connected")


class TestWebhook(LiveCase):
	def post(self, body: bytes, headers: dict):
		set_request(
			method="POST", path="/api/method/whatsapp_crm.api.webhook.receive", data=body, headers=headers
		)
		frappe.local.response = frappe._dict({"docs": []})
		result = receive()
		return frappe.local.response.get("http_status_code", 200), result

	def event(self, session_id: str, **fields) -> bytes:
		return json.dumps(
			{"event": "qr", "sessionId": session_id, "id": frappe.generate_hash(), **fields}
		).encode()

	def signed(self, body: bytes, secret: str = SECRET, at: float | None = None) -> dict:
		return {"Content-Type": "application/json", **sign(body, secret, int(at or time.time()))}

	def test_guest_may_call_it(self):
		with self.set_user("Guest"):
			frappe.is_whitelisted(receive)

	def test_qr_then_connection(self):
		doc = self.session("hook")
		status, result = self.post(body := self.event(doc.session_id, qr="2@abc,def"), self.signed(body))
		self.assertEqual((status, result["ok"]), (200, True))
		doc.reload()
		self.assertEqual(doc.status, "QR Ready")
		self.assertTrue(doc.qr_code.startswith("data:image/svg+xml;base64,"))
		body = self.event(doc.session_id, event="connection.update", status="open", phone="34600999888")
		self.assertEqual(self.post(body, {"X-Webhook-Secret": SECRET})[0], 200)
		doc.reload()
		self.assertEqual((doc.status, doc.phone_number), ("Connected", "34600999888"))

	def test_refusals_change_nothing(self):
		doc = self.session("refuse")
		good = self.event(doc.session_id, qr="2@x")
		cases = [
			("bad secret", good, {"X-Webhook-Secret": "nope"}, 401),
			("bad signature", good, self.signed(good, secret="other"), 401),
			("stale", good, self.signed(good, at=time.time() - 3600), 401),
			("no auth", good, {}, 401),
			(
				"too big",
				self.event(doc.session_id, qr="2@" + "x" * MAX_WEBHOOK_BODY),
				{"X-Webhook-Secret": SECRET},
				413,
			),
			("malformed", b'{"event": "qr"}', {"X-Webhook-Secret": SECRET}, 400),
			("unknown", self.event("nobody-here", qr="2@x"), {"X-Webhook-Secret": SECRET}, 404),
			(
				"bad qr",
				self.event(doc.session_id, qr="javascript:alert(1)"),
				{"X-Webhook-Secret": SECRET},
				400,
			),
		]
		for label, body, headers, expected in cases:
			with self.subTest(label):
				status, result = self.post(body, headers)
				self.assertEqual(status, expected)
				self.assertFalse(result["ok"])
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Not Created")

	def test_replay_is_refused(self):
		doc = self.session("replay")
		body = self.event(doc.session_id, qr="2@x")
		headers = self.signed(body)
		self.assertEqual(self.post(body, headers)[0], 200)
		status, result = self.post(body, headers)
		self.assertEqual((status, result["error"]), (409, "REPLAYED"))

	def test_no_secret_configured_refuses_everything(self):
		doc = self.session("nosecret")
		configure(self.sim.url, webhook_secret="")
		body = self.event(doc.session_id, qr="2@x")
		status, _ = self.post(body, {"X-Webhook-Secret": ""})
		self.assertIn(status, (401, 503))
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Not Created")


class TestPairingCode(LiveCase):
	def test_code_and_rate_limit(self):
		doc = self.session("pair")
		self.sim.set_scenario(doc.session_id, SessionOptions(qr_after_s=999))
		api.create_session(doc.name)
		codes = [api.request_pairing_code(doc.name, "+34 600 111 222") for _ in range(5)]
		for result in codes:
			self.assertTrue(result["success"])
			self.assertRegex(result["code"], r"^[A-Z0-9]{4}-[A-Z0-9]{4}$")
		self.assertEqual(codes[-1]["remaining"], 0)
		before = self.sim.count(endpoint="pairing")
		with self.assertRaises(frappe.RateLimitExceededError):
			api.request_pairing_code(doc.name, "34600111222")
		self.assertEqual(self.sim.count(endpoint="pairing"), before)

	def test_bad_phone_is_refused_before_the_gateway(self):
		doc = self.session("badphone")
		api.create_session(doc.name)
		before = self.sim.count(endpoint="pairing")
		for bad in ("12", "phone", "+34 600 111 222 333 444", "<script>"):
			with self.subTest(bad=bad), self.assertRaises(frappe.ValidationError):
				api.request_pairing_code(doc.name, bad)
		self.assertEqual(self.sim.count(endpoint="pairing"), before)

	def test_needs_write_permission(self):
		from whatsapp_crm.testing import make_user

		doc = self.session("pairperm")
		with self.set_user(make_user("wa-nobody@example.com")), self.assertRaises(frappe.PermissionError):
			api.request_pairing_code(doc.name, "34600111222")
