# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""The app's rows never block ordinary CRM work: deleting a Lead, Deal, Contact, WhatsApp Account, session or
gateway through CRM's and Frappe's own calls; converting, renaming and merging keep the conversation with the
record that now holds the person, unread marks and all."""

from __future__ import annotations

import unittest

import frappe

from whatsapp_crm.api import inbox
from whatsapp_crm.chat import conversations, leads, provider
from whatsapp_crm.chat.conversations import CONVERSATION, READ
from whatsapp_crm.chat.test_leads import NEW, LeadsFixture, number
from whatsapp_crm.chat.test_messages import ACCOUNT
from whatsapp_crm.gateway_records.config import GATEWAY, PARKED
from whatsapp_crm.integration import SESSION
from whatsapp_crm.sessions import history
from whatsapp_crm.testing import convert_lead


def forget_crm_notifications(name: str) -> None:
	"""CRM Notifications of a record (test runs reuse Lead names, so older ones may point at it too)."""
	for field in ("reference_name", "notification_type_doc"):
		frappe.db.delete("CRM Notification", {field: name})


@unittest.skipUnless("crm" in frappe.get_installed_apps(), "Frappe CRM is not installed")
class TestRecordLinks(LeadsFixture):
	def setUp(self):
		super().setUp()
		self.addCleanup(self.forget_stray_rows)

	def forget_stray_rows(self):
		"""Messages and conversations that a deleted account left without one."""
		for field in ("from", "to"):
			frappe.db.delete(provider.MESSAGE, {field: ("like", f"%{NEW}%")})
		for name in frappe.get_all(CONVERSATION, {"number": ("like", f"%{NEW}%")}, pluck="name"):
			frappe.db.delete(READ, {"conversation": name})
			frappe.db.delete(CONVERSATION, name)
		frappe.db.commit()  # nosemgrep: the code under test commits

	def customer_writes(self, n: int) -> tuple[str, str]:
		"""A new number writes twice: its Lead, and its conversation read by Administrator."""
		self.write(number(n), "Marta")
		self.write(number(n), "Marta", "¿Sigue disponible?")
		[lead] = self.lead_of(number(n))
		name = self.conversation(n)
		inbox.mark_read(name)
		return lead.name, name

	def conversation(self, n: int) -> str:
		return frappe.db.get_value(CONVERSATION, {"whatsapp_account": ACCOUNT, "number": f"+{number(n)}"})

	def points_at(self, conversation: str) -> tuple:
		return frappe.db.get_value(CONVERSATION, conversation, ["reference_doctype", "reference_name"])

	def messages_point_at(self, n: int) -> set[tuple]:
		rows = frappe.get_all(
			provider.MESSAGE,
			filters={"from": ("like", f"%{number(n)}")},
			fields=["reference_doctype", "reference_name"],
		)
		return {(r.reference_doctype, r.reference_name) for r in rows}

	def read_by_admin(self, conversation: str) -> bool:
		return bool(frappe.db.exists(READ, {"conversation": conversation, "user": "Administrator"}))

	# -- deleting --

	def test_crms_own_delete_of_a_lead_with_a_conversation_works(self):
		lead, conversation = self.customer_writes(1)
		from crm.api.doc import delete_bulk_docs

		forget_crm_notifications(lead)
		delete_bulk_docs(leads.LEAD, frappe.as_json([lead]))  # CRM's list: select, Delete
		self.assertFalse(frappe.db.exists(leads.LEAD, lead))
		# What the customer wrote stays, in an inbox conversation with no record (unassigned).
		self.assertEqual(self.points_at(conversation), (None, None))
		self.assertEqual(self.messages_point_at(1), {(None, None)})
		self.assertTrue(self.read_by_admin(conversation))

	def test_crms_delete_dialog_lists_none_of_the_whatsapp_rows(self):
		"""CRM's Lead page opens a dialog listing the documents linked to the Lead, and offers a plain Delete
		only when it lists none: the conversation and the messages must not be among them."""
		from crm.api.doc import get_linked_docs_of_document

		lead, _conversation = self.customer_writes(8)
		forget_crm_notifications(lead)
		linked = {d["reference_doctype"] for d in get_linked_docs_of_document(leads.LEAD, lead)}
		self.assertFalse(linked & {CONVERSATION, READ, provider.MESSAGE}, linked)

	def test_the_lead_pages_delete_works_too(self):
		lead, conversation = self.customer_writes(2)
		forget_crm_notifications(lead)  # CRM's own rows: its page offers to unlink them first
		frappe.client.delete(leads.LEAD, lead)  # the Lead page's Delete button
		self.assertFalse(frappe.db.exists(leads.LEAD, lead))
		self.assertEqual(self.points_at(conversation), (None, None))

	def test_converting_moves_the_conversation_and_deleting_the_deal_hands_it_back(self):
		lead, conversation = self.customer_writes(3)
		deal = convert_lead(lead)
		self.assertEqual(self.points_at(conversation), (leads.DEAL, deal))
		self.assertEqual(frappe.db.get_value(CONVERSATION, conversation, "title"), "Marta")
		self.assertTrue(self.read_by_admin(conversation))  # the unread marks came along
		self.assertEqual(
			inbox.conversations_page(account=ACCOUNT)["rows"][0].name, conversation
		)  # and the inbox still lists it
		forget_crm_notifications(deal)
		frappe.client.delete(leads.DEAL, deal)
		self.assertEqual(self.points_at(conversation), (leads.LEAD, lead))
		self.assertEqual(self.messages_point_at(3), {(leads.LEAD, lead)})

	def test_deleting_a_contact_keeps_its_conversation(self):
		contact = frappe.get_doc(
			{"doctype": "Contact", "first_name": "Luis", "mobile_no": f"+{number(4)}"}
		).insert(ignore_permissions=True)
		self.write(number(4), "Luis")
		name = self.conversation(4)
		conversations.set_reference(name, "Contact", contact.name)
		inbox.mark_read(name)
		frappe.delete_doc("Contact", contact.name)
		self.assertFalse(frappe.db.exists("Contact", contact.name))
		self.assertEqual(self.points_at(name), (None, None))
		self.assertTrue(self.read_by_admin(name))

	def test_deleting_a_whatsapp_account_takes_its_conversations(self):
		lead, conversation = self.customer_writes(5)
		self.assertEqual(frappe.db.get_value(leads.LEAD, lead, leads.ARRIVED_FIELD), ACCOUNT)
		frappe.delete_doc(provider.ACCOUNT, ACCOUNT)
		self.assertFalse(frappe.db.exists(provider.ACCOUNT, ACCOUNT))
		self.assertFalse(frappe.db.exists(CONVERSATION, conversation))
		self.assertFalse(frappe.db.exists(READ, {"conversation": conversation}))
		# The Lead keeps its messages (CRM's tab shows them), without the account that is gone.
		self.assertIsNone(frappe.db.get_value(leads.LEAD, lead, leads.ARRIVED_FIELD))
		self.assertEqual(self.messages_point_at(5), {(leads.LEAD, lead)})

	def test_deleting_a_session_that_backs_an_account(self):
		history.record(self.session.name, "Connected", "Disconnected", history.USER)
		frappe.delete_doc(SESSION, self.session.name)
		self.assertFalse(frappe.db.exists(SESSION, self.session.name))
		self.assertFalse(frappe.db.get_value(provider.ACCOUNT, ACCOUNT, provider.SESSION_FIELD))
		self.assertFalse(frappe.db.exists(history.EVENT, {"session": self.session.name}))

	def test_deleting_a_gateway_takes_its_parked_events(self):
		gateway = frappe.get_doc(
			{"doctype": GATEWAY, "label": "wa-rl-spare", "gateway_url": "http://127.0.0.1:9", "api_key": "k"}
		).insert(ignore_permissions=True)
		self.addCleanup(frappe.db.delete, GATEWAY, gateway.name)
		parked = frappe.get_doc(
			{"doctype": PARKED, "gateway": gateway.name, "session_id": "wa-rl", "body": "{}"}
		).insert(ignore_permissions=True)
		frappe.delete_doc(GATEWAY, gateway.name)
		self.assertFalse(frappe.db.exists(GATEWAY, gateway.name))
		self.assertFalse(frappe.db.exists(PARKED, parked.name))

	# -- renaming and merging --

	def test_renaming_and_merging_a_lead_keeps_its_conversation(self):
		lead, conversation = self.customer_writes(6)
		renamed = frappe.rename_doc(leads.LEAD, lead, f"{lead}-R", force=True)
		self.assertEqual(self.points_at(conversation), (leads.LEAD, renamed))
		self.write(number(7), "Marta")
		[other] = self.lead_of(number(7))
		merged = frappe.rename_doc(leads.LEAD, renamed, other.name, merge=True, force=True)
		self.assertEqual(self.points_at(conversation), (leads.LEAD, merged))
		self.assertEqual(self.messages_point_at(6), {(leads.LEAD, merged)})
		self.assertTrue(self.read_by_admin(conversation))
