# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""The same user story on every gateway type: create -> QR -> the phone scans -> Connected, logout, and one
webhook of the gateway's own shape, against each type's simulator over loopback."""

import hashlib
import hmac
import json
import time

import frappe
from frappe.utils import set_request

from whatsapp_crm.api import session as api
from whatsapp_crm.api.webhook import receive
from whatsapp_crm.integration import SESSION
from whatsapp_crm.sessions import live
from whatsapp_crm.simulator import SessionOptions, make_simulator
from whatsapp_crm.testing import TEST_KEY, GatewayTestCase, cleanup, configure, make_session, start_simulator

PREFIX = "watype-"
SECRET = "types-webhook-secret"
LABELS = {"baileys": "Baileys REST", "evolution": "Evolution API", "waha": "WAHA"}


class TypeCase(GatewayTestCase):
	prefix = PREFIX
	gateway_type = "baileys"

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.typed = start_simulator(gateway_type=cls.gateway_type)
		cls.addClassCleanup(cls.typed.stop)

	def setUp(self):
		configure(
			self.typed.url,
			gateway_type=LABELS[self.gateway_type],
			webhook_secret=SECRET,
			status_timeout=2,
			qr_timeout=2,
		)
		cleanup(self.prefix)
		self.addCleanup(cleanup, self.prefix)

	def session(self, suffix: str):
		doc = make_session(f"{PREFIX}{self.gateway_type}-{suffix}")
		live.clear_payload(doc.name)
		self.typed.set_scenario(doc.session_id, SessionOptions(rotate_s=0))
		return doc

	def status(self, name: str) -> dict:
		live.clear_payload(name)  # a fresh read, not the answer of a moment ago
		return api.get_status(name)

	def post(self, body: bytes, headers: dict, query: str = ""):
		set_request(
			method="POST",
			path="/api/method/whatsapp_crm.api.webhook.receive" + query,
			data=body,
			headers={"Content-Type": "application/json", **headers},
		)
		frappe.local.response = frappe._dict({"docs": []})
		result = receive()
		return frappe.local.response.get("http_status_code", 200), result

	def test_create_qr_connected_then_logout(self):
		doc = self.session("life")
		payload = api.create_session(doc.name)
		self.assertEqual(payload["status"], "QR Ready", payload)
		self.assertTrue(
			payload["qr_code"].startswith(("data:image/svg+xml;base64,", "data:image/png;base64,"))
		)
		self.typed.scan(doc.session_id, "34611222333")
		payload = self.status(doc.name)
		self.assertEqual((payload["status"], payload["keep_polling"]), ("Connected", False))
		doc.reload()
		self.assertEqual((doc.status, doc.phone_number), ("Connected", "34611222333"))
		payload = api.logout(doc.name)
		self.assertEqual(payload["status"], "Disconnected")
		time.sleep(0.6)  # Evolution deletes asynchronously
		self.assertEqual(self.status(doc.name)["qr_error"], "SESSION_NOT_FOUND")

	def test_wrong_key_is_said_plainly(self):
		doc = self.session("key")
		configure(self.typed.url, gateway_type=LABELS[self.gateway_type], api_key="not-the-key")
		payload = api.create_session(doc.name)
		self.assertEqual((payload["qr_error"], payload["status"]), ("UNAUTHORIZED", "Failed"))
		self.assertFalse(payload["keep_polling"])


class TestBaileys(TypeCase):
	gateway_type = "baileys"

	def test_webhook(self):
		from whatsapp_crm.gateway.webhook import sign

		doc = self.session("hook")
		body = json.dumps(
			{
				"event": "connection.update",
				"sessionId": doc.session_id,
				"status": "open",
				"phone": "34600999888",
			}
		).encode()
		status, result = self.post(body, sign(body, SECRET, int(time.time())))
		self.assertEqual((status, result["ok"]), (200, True))
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Connected")


class TestEvolution(TypeCase):
	gateway_type = "evolution"

	def event(self, session_id: str, name: str, data: dict) -> bytes:
		return json.dumps(
			{
				"event": name,
				"instance": session_id,
				"data": data,
				"apikey": "INSTANCE-TOKEN-SENTINEL",
				"date_time": str(time.time()),
				"server_url": "http://127.0.0.1",
			}
		).encode()

	def test_webhook(self):
		doc = self.session("hook")
		qr = self.event(doc.session_id, "qrcode.updated", {"qrcode": {"code": "2@abc,def", "base64": ""}})
		self.assertEqual(self.post(qr, {"X-Webhook-Secret": SECRET})[0], 200)
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "QR Ready")
		# While linking, Evolution says "close" as it reconnects: not the end
		closing = self.event(doc.session_id, "connection.update", {"state": "close"})
		self.assertEqual(self.post(closing, {}, query=f"?secret={SECRET}")[0], 200)  # the secret in the URL
		self.assertIn(frappe.db.get_value(SESSION, doc.name, "status"), ("Connecting", "QR Ready"))
		opened = self.event(
			doc.session_id, "CONNECTION_UPDATE", {"state": "open", "wuid": "34600999888@s.whatsapp.net"}
		)
		self.assertEqual(self.post(opened, {"X-Webhook-Secret": SECRET})[0], 200)
		doc.reload()
		self.assertEqual((doc.status, doc.phone_number), ("Connected", "34600999888"))
		stored = json.dumps(live.latest_payload(doc.name)) + frappe.as_json(doc.as_dict())
		self.assertNotIn("INSTANCE-TOKEN-SENTINEL", stored)  # the key its bodies carry is never kept
		self.assertEqual(self.post(closing, {"X-Webhook-Secret": "wrong"})[0], 401)

	def test_unrelated_events_are_answered_and_ignored(self):
		doc = self.session("noise")
		body = self.event(doc.session_id, "messages.upsert", {"key": {"id": "x"}})
		status, result = self.post(body, {"X-Webhook-Secret": SECRET})
		self.assertEqual((status, result.get("ignored")), (200, True))
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Not Created")


class TestWaha(TypeCase):
	gateway_type = "waha"

	def signed(self, body: bytes) -> dict:
		digest = hmac.new(SECRET.encode(), body, hashlib.sha512).hexdigest()
		return {"X-Webhook-Hmac": digest, "X-Webhook-Hmac-Algorithm": "sha512"}

	def event(self, session_id: str, status: str, me: dict | None = None) -> bytes:
		return json.dumps(
			{
				"id": "evt_" + frappe.generate_hash(length=12),
				"timestamp": int(time.time() * 1000),
				"event": "session.status",
				"session": session_id,
				"me": me,
				"payload": {"status": status},
			}
		).encode()

	def test_webhook(self):
		doc = self.session("hook")
		api.create_session(doc.name)  # the gateway has the session and its QR
		frappe.db.set_value(SESSION, doc.name, {"status": "Connecting", "qr_code": ""})
		body = self.event(doc.session_id, "SCAN_QR_CODE")  # carries no QR: the app fetches it
		self.assertEqual(self.post(body, self.signed(body))[0], 200)
		doc.reload()
		self.assertEqual(doc.status, "QR Ready")
		self.assertTrue(doc.qr_code.startswith("data:image/"))
		body = self.event(doc.session_id, "WORKING", {"id": "34600999888@c.us", "pushName": "Sales"})
		self.assertEqual(self.post(body, self.signed(body))[0], 200)
		doc.reload()
		self.assertEqual((doc.status, doc.phone_number), ("Connected", "34600999888"))
		tampered = body.replace(b"WORKING", b"FAILED")
		self.assertEqual(self.post(tampered, self.signed(body))[0], 401)

	def test_repeated_status_events_write_nothing(self):
		doc = self.session("repeat")
		first = self.event(doc.session_id, "STARTING")
		self.assertEqual(self.post(first, self.signed(first))[0], 200)
		modified = frappe.db.get_value(SESSION, doc.name, "last_checked")
		for _ in range(3):  # WAHA repeats STARTING every 2 s while it reconnects
			again = self.event(doc.session_id, "STARTING")
			self.assertEqual(self.post(again, self.signed(again))[0], 200)
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "last_checked"), modified)

	def test_core_2024_bodies_no_id_no_signature(self):
		"""As WAHA Core 2024.10.8 really sends them: no event id, no signature (the secret rides in the URL
		the app registered), the same body every 2 s while it reconnects."""
		doc = self.session("core")
		body = json.dumps(
			{
				"event": "session.status",
				"session": doc.session_id,
				"me": None,
				"payload": {"name": doc.session_id, "status": "STARTING"},
				"engine": "NOWEB",
			}
		).encode()
		first = self.post(body, {}, query=f"?secret={SECRET}")
		again = self.post(body, {}, query=f"?secret={SECRET}")
		self.assertEqual((first[0], again[0]), (200, 200))
		self.assertTrue(again[1].get("duplicate"))  # answered, so WAHA does not retry; nothing written twice
		self.assertEqual(self.post(body, {}, query="?secret=wrong")[0], 401)
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Connecting")

	def test_core_2024_runs_only_default(self):
		core = start_simulator(gateway_type="waha")
		core.stop()

		with make_simulator("waha", api_key=TEST_KEY, core_2024=True, qr_route_wait_s=0.3, start=True) as sim:
			configure(sim.url, gateway_type="WAHA", api_key="anything")
			doc = self.session("notdefault")
			payload = api.create_session(doc.name)
			self.assertEqual(
				(payload["qr_error"], payload["status"], payload["keep_polling"]),
				("SESSION_NOT_ALLOWED", "Failed", False),
			)
			self.assertIn("default", payload["message"])
			self.assertEqual(sim.count(endpoint="create"), 1)  # said once, no retries
