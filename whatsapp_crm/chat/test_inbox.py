# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""The WhatsApp inbox's server side: conversations kept as messages come, a page of them in one query, what
each user may see (their Leads' conversations, unassigned ones by role), unread per user, the thread as
text, a queued reply, assign to me and create a Lead."""

from __future__ import annotations

import unittest

import frappe

from whatsapp_crm.api import inbox
from whatsapp_crm.chat import leads, provider
from whatsapp_crm.chat.conversations import CONVERSATION, READ
from whatsapp_crm.chat.test_leads import NEW, number
from whatsapp_crm.chat.test_messages import ACCOUNT, MessagesFixture
from whatsapp_crm.testing import make_user


def forget_conversations() -> None:
	"""The test account's conversations, their read rows, and the per-number locks and counters."""
	for name in frappe.get_all(CONVERSATION, filters={"whatsapp_account": ACCOUNT}, pluck="name"):
		frappe.db.delete(READ, {"conversation": name})
		frappe.db.delete(CONVERSATION, name)
	for key in frappe.cache.get_keys("whatsapp_crm:newcomer:*"):
		frappe.cache.delete(key)


def forget_records(*doctypes: str) -> None:
	"""The test numbers' Leads (Deals, Contacts), with what hangs on them: assignments, notes, tasks."""
	for doctype in doctypes:
		for name in frappe.get_all(doctype, filters={"mobile_no": ("like", f"%{NEW}%")}, pluck="name"):
			for child, field in (("ToDo", "reference_name"), ("Comment", "reference_name")):
				frappe.db.delete(child, {field: name})
			if frappe.db.table_exists("CRM Task"):
				frappe.db.delete("CRM Task", {"reference_docname": name})
			if frappe.db.table_exists("CRM Notification"):  # a mention in a note, an assignment
				frappe.db.delete("CRM Notification", {"reference_name": name})
			frappe.delete_doc(doctype, name, force=True, ignore_permissions=True)


@unittest.skipUnless("crm" in frappe.get_installed_apps(), "Frappe CRM is not installed")
class TestInbox(MessagesFixture):
	unknown_number_action = leads.CREATE_LEAD

	def setUp(self):
		super().setUp()
		self.addCleanup(self.forget)
		self.forget()

	def forget(self):
		forget_conversations()
		forget_records(leads.LEAD)
		frappe.db.delete("User Permission", {"allow": leads.LEAD, "user": ("like", "wa-inbox-%")})
		frappe.db.commit()  # nosemgrep: the code under test commits its Leads

	def say(self, n: int, text: str, name: str = "Cliente"):
		mid = "IN" + frappe.generate_hash(length=12).upper()
		self.inbound(mid, text=text, chat=number(n), push_name=name)
		return mid

	def conversation(self, n: int) -> str:
		return frappe.db.get_value(
			CONVERSATION, {"whatsapp_account": ACCOUNT, "number": f"+{number(n)}"}, "name"
		)

	def page(self, **kw) -> list[str]:
		return [r.name for r in inbox.conversations_page(account=ACCOUNT, **kw)["rows"]]

	def test_a_conversation_per_number_with_its_last_message_as_text(self):
		self.say(40, "primero")
		self.say(40, "<b>segundo</b> & último")
		c = frappe.get_doc(CONVERSATION, self.conversation(40))
		self.assertEqual(
			(c.incoming_count, c.last_direction, c.reference_doctype), (2, "Incoming", leads.LEAD)
		)
		self.assertEqual(c.last_message, "<b>segundo</b> & último")  # text: the page escapes it
		thread = inbox.thread(c.name)
		self.assertEqual([m.text for m in thread["messages"]], ["primero", "<b>segundo</b> & último"])
		self.say(41, "otro número")
		self.assertEqual(self.page()[:2], [self.conversation(41), self.conversation(40)])  # newest first

	def test_unread_is_per_user(self):
		self.say(42, "hola")
		self.say(42, "¿hay alguien?")
		name = self.conversation(42)
		other = make_user("wa-inbox-manager@example.com", ["Sales Manager", "Sales User"])
		unread = lambda: {r.name: r.unread for r in inbox.conversations_page(account=ACCOUNT)["rows"]}[name]  # noqa: E731
		self.assertEqual(unread(), 2)
		inbox.thread(name)  # Administrator opens it
		self.assertEqual(unread(), 0)
		with self.set_user(other):
			self.assertEqual(unread(), 2)  # still unread for someone else
		self.say(42, "tercero")
		self.assertEqual(unread(), 1)

	def test_a_sales_user_sees_their_leads_and_unassigned_ones_only_with_the_role(self):
		self.say(43, "lead del agente")
		self.say(44, "lead de otro")
		frappe.db.set_value(provider.ACCOUNT, ACCOUNT, leads.ACTION_FIELD, leads.NOTHING)
		self.say(45, "sin lead")
		mine = frappe.db.get_value(CONVERSATION, self.conversation(43), "reference_name")
		agent = make_user("wa-inbox-agent@example.com", ["Sales User"])
		frappe.permissions.add_user_permission(leads.LEAD, mine, agent, ignore_permissions=True)
		with self.set_user(agent):
			self.assertEqual(set(self.page()), {self.conversation(43)})
			with self.assertRaises(frappe.PermissionError):
				inbox.thread(self.conversation(44))
			with self.assertRaises(frappe.PermissionError):
				inbox.reply(self.conversation(45), "hola")
		manager = make_user("wa-inbox-manager@example.com", ["Sales Manager", "Sales User"])
		with self.set_user(manager):
			self.assertEqual(
				set(self.page()), {self.conversation(43), self.conversation(44), self.conversation(45)}
			)
			self.assertEqual(self.page(scope="unassigned"), self.page())  # nobody is assigned yet

	def test_reply_assign_and_create_a_lead(self):
		frappe.db.set_value(provider.ACCOUNT, ACCOUNT, leads.ACTION_FIELD, leads.NOTHING)
		self.say(46, "quiero información", name="Bea")
		name = self.conversation(46)
		made = inbox.create_lead(name)
		self.assertEqual(made["reference_doctype"], leads.LEAD)
		self.assertEqual(
			frappe.db.get_value(leads.LEAD, made["reference_name"], "mobile_no"), f"+{number(46)}"
		)
		self.assertEqual(inbox.thread(name)["conversation"].reference_name, made["reference_name"])
		inbox.assign_to_me(name)
		self.assertEqual(frappe.db.get_value(CONVERSATION, name, "assignee"), "Administrator")
		self.assertEqual(self.page(scope="mine"), [name])
		sent = inbox.reply(name, "Le escribo enseguida")
		doc = frappe.get_doc(provider.MESSAGE, sent["name"])
		self.assertEqual(
			(doc.type, doc.to, doc.reference_name), ("Outgoing", f"+{number(46)}", made["reference_name"])
		)
		self.assertEqual(frappe.db.get_value(CONVERSATION, name, "last_direction"), "Outgoing")
		with self.assertRaises(frappe.ValidationError):
			inbox.reply(name, "   ")

	def test_block_number_from_the_inbox(self):
		from whatsapp_crm.whatsapp_crm.doctype.whatsapp_blocked_number.whatsapp_blocked_number import block

		self.addCleanup(frappe.db.delete, leads.BLOCKED, {"number": ("like", f"%{NEW}%")})
		agent = make_user("wa-inbox-blocker@example.com", ["Sales User"])
		with self.set_user(agent):
			self.assertEqual(block(f"+{number(48)}", "spam"), {"number": f"+{number(48)}", "already": False})
			self.assertTrue(block(number(48))["already"])  # the same number written another way
			with self.assertRaises(frappe.ValidationError):
				block("not a number")
		self.say(48, "compre ya")
		self.assertFalse(frappe.get_all(leads.LEAD, filters={"mobile_no": f"+{number(48)}"}))

	def test_search_and_bad_filters(self):
		self.say(47, "hola", name="Carmen Ruiz")
		self.assertEqual(self.page(search="Carmen"), [self.conversation(47)])
		self.assertEqual(self.page(search=number(47)[-6:]), [self.conversation(47)])
		self.assertEqual(self.page(search="%"), [])  # a wildcard is a character here
		with self.assertRaises(frappe.ValidationError):
			inbox.conversations_page(scope="everything")


@unittest.skipIf("crm" in frappe.get_installed_apps(), "runs on a site without Frappe CRM")
class TestInboxWithoutCRM(MessagesFixture):
	"""frappe_whatsapp alone: a new number becomes a Contact, and the inbox works over Contacts."""

	unknown_number_action = leads.CREATE_LEAD  # there is no CRM: a Contact is made instead

	def setUp(self):
		super().setUp()
		self.addCleanup(self.forget)
		self.forget()

	def forget(self):
		forget_conversations()
		for contact in frappe.get_all("Contact", filters={"mobile_no": ("like", f"%{NEW}%")}, pluck="name"):
			frappe.delete_doc("Contact", contact, force=True, ignore_permissions=True)
		frappe.db.commit()  # nosemgrep: the code under test commits

	def test_a_new_number_is_a_contact_and_its_conversation_works(self):
		mid = "NC" + frappe.generate_hash(length=12).upper()
		self.inbound(mid, text="hola sin CRM", chat=number(60), push_name="Sin CRM")
		contact = frappe.db.get_value(
			"Contact", {"mobile_no": f"+{number(60)}"}, ["name", "first_name"], as_dict=True
		)
		self.assertEqual(contact.first_name, "Sin CRM")
		name = frappe.db.get_value(
			CONVERSATION, {"whatsapp_account": ACCOUNT, "number": f"+{number(60)}"}, "name"
		)
		row = frappe.get_doc(CONVERSATION, name)
		self.assertEqual((row.reference_doctype, row.reference_name), ("Contact", contact.name))
		self.assertIn(name, [r.name for r in inbox.conversations_page()["rows"]])
		self.assertEqual([m.text for m in inbox.thread(name)["messages"]], ["hola sin CRM"])
		sent = inbox.reply(name, "respuesta")
		self.assertEqual(frappe.db.get_value(provider.MESSAGE, sent["name"], "reference_name"), contact.name)
		unknown = frappe.get_doc(CONVERSATION, name)
		frappe.db.set_value(CONVERSATION, name, {"reference_doctype": None, "reference_name": None})
		with self.assertRaises(frappe.ValidationError):  # no CRM: no Lead to make, said in words
			inbox.create_lead(unknown.name)
