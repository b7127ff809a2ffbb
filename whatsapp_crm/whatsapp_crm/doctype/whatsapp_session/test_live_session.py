# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""Live sessions: the background monitor, single-flight status, the circuit breaker, webhooks and pairing
codes, against the gateway simulator over loopback and the site's real Redis."""

import json
import time

import frappe
from frappe.utils import set_request

from whatsapp_crm import live
from whatsapp_crm.api import session as api
from whatsapp_crm.api.webhook import receive
from whatsapp_crm.gateway.simulator import SessionOptions
from whatsapp_crm.gateway.webhook import sign
from whatsapp_crm.integration import SESSION, SETTINGS
from whatsapp_crm.testing import GatewayTestCase, capture_realtime, configure, make_session

PREFIX = "walive-"
SECRET = "webhook-secret-for-tests"


def reset_live_state(name: str, gateway_url: str) -> None:
	for kind in ("monitor", "flight", "payload", "pairing"):
		live.STORE.delete(f"whatsapp_crm:{kind}:{name}")
	live.STORE.delete(f"whatsapp_crm:breaker:{gateway_url}")


class LiveCase(GatewayTestCase):
	prefix = PREFIX
	settings_overrides = {"webhook_secret": SECRET}  # noqa: RUF012

	def session(self, suffix: str, scenario=None):
		doc = make_session(PREFIX + suffix)
		reset_live_state(doc.name, self.sim.url)
		self.addCleanup(reset_live_state, doc.name, self.sim.url)
		if scenario is not None:
			self.sim.set_scenario(doc.session_id, scenario)
		return doc


class TestMonitor(LiveCase):
	def test_runs_until_linked_and_writes_only_changes(self):
		doc = self.session("mon", SessionOptions(qr_after_s=0.5, scan_after_s=1.5, rotate_s=0))
		reason, events = capture_realtime(lambda: doc.run_monitor(create=True))
		self.assertEqual(reason, "connected")
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Connected")
		updates = [e["message"] for e in events if e.get("event") == live.UPDATE_EVENT]
		statuses = [u["status"] for u in updates if u["session_db_id"] == doc.name]
		# one push per change, not per gateway read
		self.assertEqual(statuses[-1], "Connected")
		self.assertIn("QR Ready", statuses)
		self.assertEqual(
			len(statuses), len([s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s])
		)
		self.assertGreater(self.sim.count(endpoint="status", session_id=doc.session_id), len(statuses))
		self.assertEqual(live.latest_payload(doc.name)["status"], "Connected")
		self.assertFalse(live.monitor_alive(doc.name))  # the lock is released

	def test_monitor_speaks_the_language_of_who_started_it(self):
		from whatsapp_crm.testing import make_user

		user = make_user("wa-manager-es@example.com", ["WhatsApp Manager"])
		frappe.db.set_value("User", user, "language", "es")
		frappe.clear_cache(user=user)
		doc = self.session("lang", SessionOptions(scan_after_s=0.5, rotate_s=0))
		old_lang = frappe.local.lang
		try:
			with self.set_user(user):
				self.assertEqual(doc.run_monitor(create=True), "connected")
		finally:
			frappe.local.lang = old_lang
		latest = live.latest_payload(doc.name)
		self.assertEqual(latest["message_template"], "WhatsApp is linked to {0}.")
		self.assertEqual(latest["message_args"], ["34600111222"])
		self.assertEqual(latest["message"], "WhatsApp está vinculado a 34600111222.")

	def test_only_one_monitor_per_session(self):
		doc = self.session("one")
		other = live.MonitorLock(doc.name, ttl_s=30)
		self.assertTrue(other.acquire())
		try:
			self.assertEqual(doc.run_monitor(), "already_running")
			self.assertEqual(self.sim.count(session_id=doc.session_id), 0)
		finally:
			other.release()

	def test_heartbeat_belongs_to_its_owner(self):
		doc = self.session("beat")
		first = live.MonitorLock(doc.name, ttl_s=30)
		self.assertTrue(first.acquire())
		second = live.MonitorLock(doc.name, ttl_s=30)
		self.assertFalse(second.acquire())
		self.assertFalse(second.heartbeat())
		self.assertTrue(first.heartbeat())
		second.release()  # not the owner: nothing happens
		self.assertTrue(live.monitor_alive(doc.name))
		first.release()
		self.assertFalse(live.monitor_alive(doc.name))

	def test_deleting_the_session_stops_its_monitor(self):
		doc = self.session("delmon")
		lock = live.MonitorLock(doc.name, ttl_s=30)
		self.assertTrue(lock.acquire())
		frappe.delete_doc(SESSION, doc.name)
		frappe.db.commit()  # nosemgrep: the gateway call and the stop wait for the commit
		self.assertFalse(lock.heartbeat())  # the running monitor would stop at its next beat

	def test_stops_at_once_when_the_key_is_refused(self):
		doc = self.session("key")
		configure(self.sim.url, api_key="wrong")
		self.assertEqual(doc.run_monitor(create=True), "failed")
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Failed")

	def test_create_hands_over_to_the_monitor_or_says_why_not(self):
		doc = self.session("create", SessionOptions(qr_after_s=0.3))
		configure(self.sim.url, use_monitor=1, request_wait=0)
		frappe.db.commit()  # nosemgrep: a worker (another connection) must see the session
		started = time.monotonic()
		payload = api.create_session(doc.name)
		took = time.monotonic() - started
		if not live.workers_available():
			self.assertEqual(payload["debug"]["monitor"], "no_worker")  # fell back to the request
			self.assertEqual(payload["status"], "QR Ready")
			return
		self.assertEqual(payload["debug"]["monitor"], "started")
		self.assertEqual(payload["status"], "Connecting")
		self.assertLess(took, 5)  # it did not wait on the gateway
		for _ in range(150):  # the worker's monitor stores its news; bounded wait, no timing assertion
			latest = live.latest_payload(doc.name)
			if latest and latest["status"] == "QR Ready":
				break
			time.sleep(0.1)
		self.assertEqual(latest["status"], "QR Ready")
		self.sim.scan(doc.session_id)  # so the worker's monitor stops (linked) instead of running to its cap


class TestStatusShortcuts(LiveCase):
	def test_status_answers_from_a_live_monitor_without_the_gateway(self):
		doc = self.session("stored")
		lock = live.MonitorLock(doc.name, ttl_s=30)
		lock.acquire()
		self.addCleanup(lock.release)
		before = self.sim.count()
		payload = api.get_status(doc.name)
		self.assertEqual(payload["debug"]["source"], "monitor")
		self.assertEqual(payload["status"], "Not Created")
		self.assertEqual(self.sim.count(), before)

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

	def test_circuit_breaker(self):
		doc = self.session("breaker", "hang")
		first = api.get_status(doc.name)
		self.assertEqual(first["qr_error"], "TIMEOUT")
		sent = self.sim.count(session_id=doc.session_id)
		started = time.monotonic()
		second = api.get_status(doc.name)
		self.assertLess(time.monotonic() - started, 0.9)  # under the 1 s timeout: it did not wait
		self.assertTrue(second["debug"]["breaker_open"])
		self.assertEqual((second["qr_error"], second["keep_polling"]), ("TIMEOUT", True))
		self.assertEqual(self.sim.count(session_id=doc.session_id), sent)
		self.assertGreaterEqual(second["poll_after_ms"], 1000)


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
			("too big", self.event(doc.session_id, qr="2@" + "x" * 70000), {"X-Webhook-Secret": SECRET}, 413),
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
		frappe.db.set_single_value(SETTINGS, "webhook_secret", None)
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
