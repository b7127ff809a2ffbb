# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt

import json
import time

import frappe

from whatsapp_crm.api import session as api
from whatsapp_crm.integration import PROGRESS_EVENT, SESSION, TITLE_GATEWAY, TITLE_QR
from whatsapp_crm.sessions import live
from whatsapp_crm.simulator import SessionOptions
from whatsapp_crm.testing import (
	TEST_KEY,
	GatewayTestCase,
	capture_realtime,
	configure,
	error_logs,
	make_session,
	make_user,
)

PREFIX = "watest-"


def fresh_status(name: str) -> dict:
	"""A status read that goes to the gateway: within the poll interval a read is answered from the last."""
	live.clear_payload(name)
	return api.get_status(name)


class TestWhatsAppSession(GatewayTestCase):
	prefix = PREFIX

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.nobody = make_user("wa-nobody@example.com")
		cls.manager = make_user("wa-manager@example.com", ["WhatsApp Manager"])

	# -- the happy path -------------------------------------------------------------------------------------

	def test_create_qr_then_connected(self):
		"""Create -> QR in the payload and on the doc -> the phone scans -> Status says Connected."""
		doc = make_session(PREFIX + "happy")
		payload = api.create_session(doc.name)
		self.assertTrue(payload["success"])
		self.assertEqual(payload["status"], "QR Ready")
		self.assertTrue(payload["qr_available"])
		self.assertTrue(payload["qr_code"].startswith("data:image/svg+xml;base64,"))
		self.assertEqual(payload["session_db_id"], doc.name)
		self.assertTrue(payload["keep_polling"])
		doc.reload()
		self.assertEqual(doc.status, "QR Ready")
		self.assertEqual(doc.qr_code, payload["qr_code"])

		self.sim.scan(doc.session_id, phone="34611222333")
		payload = fresh_status(doc.name)
		self.assertEqual(payload["status"], "Connected")
		self.assertFalse(payload["keep_polling"])
		self.assertEqual(payload["qr_code"], "")
		doc.reload()
		self.assertEqual((doc.status, doc.phone_number, doc.qr_code), ("Connected", "34611222333", ""))
		self.assertIsNotNone(doc.connected_at)
		self.assertEqual(error_logs(doc.name), [])

	def test_status_checks_before_asking_for_the_qr(self):
		doc = make_session(PREFIX + "late")
		self.sim.set_scenario(doc.session_id, SessionOptions(qr_after_s=60))
		self.sim.reset_log()
		payload = api.create_session(doc.name)
		self.assertEqual(self.sim.count(endpoint="qr", session_id=doc.session_id), 0)
		self.assertEqual((payload["status"], payload["qr_error"]), ("Connecting", "QR_NOT_READY"))
		self.assertTrue(payload["success"] and payload["keep_polling"])
		self.assertEqual(payload["debug"]["qr_attempts"], 5)
		self.assertEqual(error_logs(doc.name), [])  # waiting is not a failure

	def test_logout(self):
		doc = make_session(PREFIX + "bye")
		api.create_session(doc.name)
		self.sim.scan(doc.session_id)
		api.get_status(doc.name)
		payload = api.logout(doc.name)
		self.assertEqual(payload["status"], "Disconnected")
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Disconnected")
		self.assertEqual(self.sim.count(endpoint="delete", session_id=doc.session_id), 1)

	def test_status_of_a_session_never_created(self):
		doc = make_session(PREFIX + "fresh")
		payload = api.get_status(doc.name)
		self.assertEqual(payload["status"], "Not Created")
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "status"), "Not Created")

	# -- failures -------------------------------------------------------------------------------------------

	def test_qr_generation_error_is_logged_once_per_window_with_a_count(self):
		doc = make_session(PREFIX + "qrerr")
		self.sim.set_scenario(doc.session_id, SessionOptions(qr_errors=999))
		payload = api.create_session(doc.name)
		self.assertEqual(payload["qr_error"], "QR_GENERATION_ERROR")
		self.assertEqual((payload["status"], payload["keep_polling"]), ("Connecting", True))
		self.assertGreater(payload["debug"]["qr_attempts"], 1)
		self.assertIn("QR code", payload["message"])

		logs = error_logs(doc.name)
		self.assertEqual(len(logs), 1)
		self.assertEqual(logs[0].method, TITLE_QR)
		self.assertIn("http status: 500", logs[0].error)
		self.assertIn("request: GET /api/sessions/watest-qrerr/qr", logs[0].error)
		self.assertTrue(logs[0].error.startswith("occurrences: 1 "))

		fresh_status(doc.name)  # the form polls again: same failure, same window
		logs = error_logs(doc.name)
		self.assertEqual(len(logs), 1)
		self.assertTrue(logs[0].error.startswith("occurrences: 2 "))
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "last_error_code"), "QR_GENERATION_ERROR")

	def test_error_log_survives_a_failed_request(self):
		doc = make_session(PREFIX + "survive")
		frappe.db.commit()  # nosemgrep: the session exists before the request, as in real life
		self.sim.set_scenario(doc.session_id, SessionOptions(qr_errors=999))
		api.create_session(doc.name)
		frappe.db.rollback()  # what frappe.app does when a POST request raises later on
		self.assertEqual(len(error_logs(doc.name)), 1)

	def test_hanging_gateway_answers_within_the_deadline(self):
		doc = make_session(PREFIX + "hang")
		self.sim.set_scenario(doc.session_id, "hang")
		started = time.monotonic()
		payload = api.create_session(doc.name)
		took = time.monotonic() - started
		self.assertEqual(payload["qr_error"], "TIMEOUT")
		self.assertTrue(payload["keep_polling"])
		self.assertFalse(payload["success"])
		# deadline is 3 s here; a naive policy would spend 5 x (1 s + 1 s) plus waits
		self.assertLess(took, 10)
		self.assertEqual(error_logs(doc.name)[0].method, TITLE_GATEWAY)

	def test_wrong_key_stops_at_once(self):
		doc = make_session(PREFIX + "key")
		configure(self.sim.url, api_key="wrong")
		payload = api.create_session(doc.name)
		self.assertEqual(
			(payload["qr_error"], payload["status"], payload["keep_polling"]),
			("UNAUTHORIZED", "Failed", False),
		)
		self.assertIn("API key", payload["message"])

	def test_not_configured(self):
		doc = make_session(PREFIX + "nocfg")
		configure(self.sim.url, enabled=0)
		payload = api.create_session(doc.name)
		self.assertEqual((payload["qr_error"], payload["keep_polling"]), ("NOT_CONFIGURED", False))
		self.assertEqual(self.sim.count(session_id=doc.session_id), 0)

	def test_html_and_script_from_the_gateway_stay_out_of_messages(self):
		doc = make_session(PREFIX + "xss")
		self.sim.set_scenario(doc.session_id, "success_false")
		payload = api.create_session(doc.name)
		self.assertEqual(payload["qr_error"], "SERVER_ERROR")
		self.assertNotIn("<script>", payload["message"])
		self.assertNotIn("<script>", frappe.db.get_value(SESSION, doc.name, "last_error_message"))

	def test_key_appears_in_no_payload_and_no_error_log(self):
		dumps = []
		for suffix, scenario in (
			("k1", "qr_error"),
			("k2", "success_false"),
			("k3", "html_502"),
			("k4", "qr_now"),
		):
			doc = make_session(PREFIX + suffix)
			self.sim.set_scenario(doc.session_id, scenario)
			dumps.append(json.dumps(api.create_session(doc.name)))
			dumps.append(json.dumps(api.get_status(doc.name)))
			dumps += [log.error for log in error_logs(doc.name)]
		self.assertTrue(any("QR_GENERATION_ERROR" in d for d in dumps))
		for text in dumps:
			self.assertNotIn(TEST_KEY, text)

	def test_progress_is_pushed_per_attempt(self):
		doc = make_session(PREFIX + "progress")
		self.sim.set_scenario(doc.session_id, SessionOptions(qr_errors=1))
		_, events = capture_realtime(lambda: api.create_session(doc.name))
		progress = [e["message"] for e in events if e.get("event") == PROGRESS_EVENT]
		progress = [m for m in progress if m["session"] == doc.name]
		self.assertEqual([m["outcome"] for m in progress], ["QR_GENERATION_ERROR", "qr"])
		self.assertTrue(progress[0]["message"])
		self.assertEqual(progress[0]["wait_s"], 0.5)

	# -- bad input ------------------------------------------------------------------------------------------

	def test_session_ids_are_validated_before_anything_else(self):
		before = self.sim.count()
		for bad in ("a/b", "../x", "has space", "x" * 65, "ñandú"):
			with self.subTest(bad=bad), self.assertRaises(frappe.ValidationError):
				make_session(bad)
		self.assertEqual(self.sim.count(), before)
		self.assertFalse(frappe.db.exists(SESSION, "a/b"))

	def test_session_id_cannot_change_after_saving(self):
		"""The id is the gateway's name for the session: a changed value is refused or put back, never stored."""
		doc = make_session(PREFIX + "fixed")
		doc.session_id = PREFIX + "other"
		try:
			doc.save()
		except frappe.ValidationError:
			pass
		self.assertEqual(frappe.db.get_value(SESSION, doc.name, "session_id"), PREFIX + "fixed")
		self.assertFalse(frappe.db.exists(SESSION, PREFIX + "other"))

	def test_unknown_document(self):
		with self.assertRaises(frappe.DoesNotExistError):
			api.get_status(PREFIX + "missing")

	# -- permissions ----------------------------------------------------------------------------------------

	def test_no_role_no_access_on_every_write_path(self):
		doc = make_session(PREFIX + "perm")
		with self.set_user(self.nobody):
			self.assertFalse(frappe.has_permission(SESSION, "read", doc.name))
			for call in (api.create_session, api.get_status, api.refresh_qr, api.logout):
				with self.subTest(call=call.__name__), self.assertRaises(frappe.PermissionError):
					call(doc.name)
		self.assertEqual(self.sim.count(session_id=doc.session_id), 0)

	def test_shared_user_reads_but_cannot_act(self):
		doc = make_session(PREFIX + "shared", owner_user=self.nobody)
		with self.set_user(self.nobody):
			self.assertTrue(frappe.has_permission(SESSION, "read", doc.name))
			self.assertFalse(frappe.has_permission(SESSION, "write", doc.name))
			with self.assertRaises(frappe.PermissionError):
				api.create_session(doc.name)

	def test_manager_can_act(self):
		doc = make_session(PREFIX + "mgr")
		with self.set_user(self.manager):
			self.assertEqual(api.create_session(doc.name)["status"], "QR Ready")

	def test_guest_gets_nothing(self):
		doc = make_session(PREFIX + "guest")
		with self.set_user("Guest"):
			for call in (api.create_session, api.get_status, api.refresh_qr, api.logout):
				with self.subTest(call=call.__name__):
					with self.assertRaises(frappe.PermissionError):
						frappe.is_whitelisted(call)
					with self.assertRaises(frappe.PermissionError):
						call(doc.name)
			self.assertFalse(frappe.has_permission(SESSION, "read", doc.name))

	def test_state_changing_endpoints_are_post_only(self):
		for call in (api.create_session, api.get_status, api.refresh_qr, api.logout):
			self.assertEqual(frappe.allowed_http_methods_for_whitelisted_func.get(call), ["POST"])

	# -- deleting -------------------------------------------------------------------------------------------

	def test_delete_removes_the_gateway_session_after_commit(self):
		doc = make_session(PREFIX + "del")
		api.create_session(doc.name)
		frappe.delete_doc(SESSION, doc.name)
		self.assertEqual(self.sim.count(endpoint="delete", session_id=doc.session_id), 0)  # not before commit
		frappe.db.commit()  # nosemgrep: the gateway call waits for the commit
		self.assertEqual(self.sim.count(endpoint="delete", session_id=doc.session_id), 1)

	def test_delete_with_gateway_down_logs_and_still_deletes(self):
		doc = make_session(PREFIX + "deldown")
		configure("http://127.0.0.1:9")
		frappe.delete_doc(SESSION, doc.name)
		frappe.db.commit()  # nosemgrep
		self.assertFalse(frappe.db.exists(SESSION, doc.name))
		logs = error_logs(doc.name)
		self.assertEqual(len(logs), 1)
		self.assertIn("code: UNREACHABLE", logs[0].error)
