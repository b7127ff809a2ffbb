# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt

from datetime import timedelta

import frappe
from frappe.utils import now_datetime

from whatsapp_crm.api.history import get_history
from whatsapp_crm.integration import SESSION
from whatsapp_crm.sessions import history
from whatsapp_crm.testing import FrappeTestCase, cleanup, make_session, make_user
from whatsapp_crm.whatsapp_crm.doctype.whatsapp_session_event.whatsapp_session_event import (
	WhatsAppSessionEvent,
)

PREFIX = "wahist-"
EVENT = history.EVENT
CARDS = (
	"Connected WhatsApp Sessions",
	"Waiting WhatsApp Sessions",
	"Disconnected WhatsApp Sessions",
	"Failed WhatsApp Sessions",
)


def events_of(session: str) -> list:
	return frappe.get_all(
		EVENT,
		filters={"session": session},
		fields=["name", "creation", "from_status", "to_status", "source", "gateway_status", "reason"],
		order_by="creation asc",
	)


def backdate(session: str, *whens) -> None:
	"""Give the session's events these creation times, oldest first (they were recorded in that order)."""
	for event, when in zip(events_of(session), whens, strict=True):
		frappe.db.set_value(EVENT, event.name, "creation", when, update_modified=False)


def remove_events() -> None:
	frappe.db.delete(EVENT, {"session": ("like", f"{PREFIX}%")})


class TestWhatsAppSessionEvent(FrappeTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.nobody = make_user("wa-nobody@example.com")
		cls.owner = make_user("wa-hist-owner@example.com")
		cls.manager = make_user("wa-manager@example.com", ["WhatsApp Manager"])

	def setUp(self):
		remove_events()
		cleanup(PREFIX)
		self.addCleanup(cleanup, PREFIX)
		self.addCleanup(remove_events)

	# -- record ---------------------------------------------------------------------------------------------

	def test_record_inserts_one_event(self):
		doc = make_session(PREFIX + "rec")
		history.record(doc.name, "Not Created", "QR Ready", "User", gateway_status="qr", reason="A QR.")
		(event,) = events_of(doc.name)
		self.assertEqual(
			(event.from_status, event.to_status, event.source, event.gateway_status, event.reason),
			("Not Created", "QR Ready", "User", "qr", "A QR."),
		)

	def test_record_tidies_what_it_does_not_know(self):
		doc = make_session(PREFIX + "tidy")
		history.record(doc.name, None, "Connecting", "cron")  # an unknown source is the watcher's
		history.record(doc.name, "weird", "Connected", "Webhook", gateway_status="x" * 500)
		history.record(doc.name, "Connected", "not-a-status", "Sweep")  # not recorded, and no error
		first, second = events_of(doc.name)
		self.assertEqual(
			(first.from_status or None, first.to_status, first.source), (None, "Connecting", "Watcher")
		)
		self.assertEqual((second.from_status or None, second.to_status), (None, "Connected"))
		self.assertEqual(len(second.gateway_status), 140)

	# -- summary and get_history ----------------------------------------------------------------------------

	def test_summary_lists_recent_events_and_the_connected_share(self):
		doc = make_session(PREFIX + "sum")
		now = now_datetime()
		history.record(doc.name, "Not Created", "QR Ready", "User")
		history.record(doc.name, "QR Ready", "Connected", "Watcher", gateway_status="open")
		history.record(doc.name, "Connected", "Disconnected", "Sweep", reason="The phone unlinked.")
		history.record(doc.name, "Disconnected", "Connected", "Webhook")
		# linked 10 days ago, lost 4 days ago, back 1 day ago: Connected for 3 + 1 of the last 7 days
		backdate(
			doc.name,
			now - timedelta(days=10.01),
			now - timedelta(days=10),
			now - timedelta(days=4),
			now - timedelta(days=1),
		)
		data = history.summary(doc.name, now=now)
		self.assertAlmostEqual(data["connected_share"], 4 / 7, places=3)
		self.assertEqual(
			[e["to"] for e in data["events"]], ["Connected", "Disconnected", "Connected", "QR Ready"]
		)
		latest_lost = data["events"][1]
		self.assertEqual(
			(latest_lost["from"], latest_lost["source"], latest_lost["reason"]),
			("Connected", "Sweep", "The phone unlinked."),
		)
		self.assertIsNone(data["recorded_since"])  # the history covers the whole window
		# five days ago: linked for the last 5 of 7 days, and the later events have not happened yet
		earlier = history.summary(doc.name, now=now - timedelta(days=5))
		self.assertAlmostEqual(earlier["connected_share"], 5 / 7, places=3)

	def test_summary_keeps_the_last_twenty(self):
		doc = make_session(PREFIX + "many")
		for i in range(25):
			history.record(doc.name, None, "Connected" if i % 2 else "Disconnected", "Watcher")
		data = history.summary(doc.name)
		self.assertEqual(len(data["events"]), 20)
		self.assertIsNotNone(data["recorded_since"])  # all of it happened just now

	def test_get_history_needs_read_permission_on_the_session(self):
		doc = make_session(PREFIX + "perm", owner_user=self.owner)
		history.record(doc.name, "Not Created", "Connecting", "User")
		with self.set_user(self.nobody):
			self.assertFalse(frappe.has_permission(SESSION, "read", doc.name))
			with self.assertRaises(frappe.PermissionError):
				get_history(doc.name)
		with self.set_user(self.owner):  # read through the owner's share
			data = get_history(doc.name)
			self.assertEqual([e["to"] for e in data["events"]], ["Connecting"])
			# the events themselves stay a managers' log
			self.assertFalse(frappe.has_permission(EVENT, "read"))
		with self.set_user(self.manager):
			self.assertEqual(len(get_history(doc.name)["events"]), 1)
			self.assertTrue(frappe.has_permission(EVENT, "read"))
			self.assertFalse(frappe.has_permission(EVENT, "create"))
		with self.assertRaises(frappe.DoesNotExistError):
			get_history(PREFIX + "missing")
		self.assertEqual(frappe.allowed_http_methods_for_whitelisted_func.get(get_history), ["GET", "POST"])

	# -- clearing old events ----------------------------------------------------------------------------------

	def test_clear_old_logs_removes_old_events_only(self):
		kept = make_session(PREFIX + "old")
		for to_status in ("QR Ready", "Connected", "Disconnected", "Connected", "Failed"):
			history.record(kept.name, None, to_status, "Watcher")
		now = now_datetime()
		backdate(
			kept.name,
			now - timedelta(days=120),
			now - timedelta(days=110),
			now - timedelta(days=100),
			now - timedelta(days=95),
			now - timedelta(days=2),
		)
		# events of a session that is gone
		history.record(PREFIX + "gone", None, "Connected", "Watcher")
		backdate(PREFIX + "gone", now - timedelta(days=100))

		WhatsAppSessionEvent.clear_old_logs(90)

		left = events_of(kept.name)
		# the newest old event stays: it says the status at the start of any later window
		self.assertEqual([e.to_status for e in left], ["Connected", "Failed"])
		self.assertLess(left[0].creation, now - timedelta(days=90))
		self.assertEqual(events_of(PREFIX + "gone"), [])

	def test_frappe_log_settings_knows_the_doctype(self):
		from frappe.core.doctype.log_settings.log_settings import _supports_log_clearing

		self.assertTrue(_supports_log_clearing(EVENT))
		self.assertEqual(frappe.get_hooks("default_log_clearing_doctypes")[EVENT], [90])
		settings = frappe.get_doc("Log Settings")
		settings.add_default_logtypes()
		self.assertEqual(next(r.days for r in settings.logs_to_clear if r.ref_doctype == EVENT), 90)

	def test_deleting_a_session_deletes_its_history(self):
		doc = make_session(PREFIX + "del")
		history.record(doc.name, "Not Created", "Connecting", "User")
		frappe.delete_doc(SESSION, doc.name)  # no LinkExistsError
		self.assertEqual(events_of(doc.name), [])

	# -- the form, the workspace and the number cards ------------------------------------------------------------

	def test_the_form_gets_the_history_script(self):
		from frappe.desk.form.meta import get_meta

		script = get_meta(SESSION, cached=False).get("__js")
		self.assertIn("whatsapp_crm.api.history.get_history", script)
		self.assertIn("SessionPoller", script)
		self.assertTrue(frappe.get_meta(SESSION).has_field("history_html"))

	def test_workspace_and_number_cards_exist_after_migrate(self):
		self.assertTrue(frappe.db.exists("Workspace", "WhatsApp CRM"))
		workspace = frappe.get_doc("Workspace", "WhatsApp CRM")
		self.assertEqual((workspace.public, workspace.module), (1, "WhatsApp CRM"))
		self.assertEqual({c.number_card_name for c in workspace.number_cards}, set(CARDS))
		for card in CARDS:
			self.assertTrue(frappe.db.exists("Number Card", card), card)

	def test_number_cards_count_sessions(self):
		from frappe.desk.doctype.number_card.number_card import get_result

		for i, status in enumerate(("Connecting", "QR Ready", "Connected", "Failed")):
			make_session(f"{PREFIX}card{i}").db_set("status", status, update_modified=False)
		for card_name, statuses in zip(
			CARDS, (["Connected"], ["Connecting", "QR Ready"], ["Disconnected"], ["Failed"]), strict=True
		):
			card = frappe.get_doc("Number Card", card_name)
			expected = frappe.db.count(SESSION, {"status": ("in", statuses)})
			self.assertEqual(get_result(card.as_json(), card.filters_json), expected, card_name)
