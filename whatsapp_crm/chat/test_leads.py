# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""Every new conversation reaches a person: a message from an unknown number becomes a Lead (or a Contact,
or nothing, as the account says), once per number even under concurrent webhooks; groups, the linked phone's
own number, bare privacy ids, invalid and blocked numbers create nothing; a Lead converted to a Deal keeps
receiving; an agent's first reply is the first response. Over the webhook of each gateway type."""

from __future__ import annotations

import json
import threading
import time
import unittest

import frappe
from frappe.utils import set_request

from whatsapp_crm.chat import leads, parked, provider
from whatsapp_crm.chat.test_messages import ACCOUNT, PREFIX, SECRET, MessagesFixture
from whatsapp_crm.gateway.webhook import sign
from whatsapp_crm.testing import convert_lead, make_user

NEW = "34611000"  # + 3 digits: numbers no Contact, Lead or Deal has


def number(n: int) -> str:
	return f"{NEW}{n:03d}"


class LeadsFixture(MessagesFixture):
	"""A linked session whose account makes Leads, and customers who write to it (no tests of its own)."""

	unknown_number_action = leads.CREATE_LEAD

	def setUp(self):
		super().setUp()
		self.addCleanup(self.forget_newcomers)
		self.forget_newcomers()

	def forget_newcomers(self):
		for lead in frappe.get_all(leads.LEAD, filters={"mobile_no": ("like", f"%{NEW}%")}, pluck="name"):
			for deal in frappe.get_all(leads.DEAL, filters={"lead": lead}, pluck="name"):
				frappe.delete_doc(leads.DEAL, deal, force=True, ignore_permissions=True)
			frappe.delete_doc(leads.LEAD, lead, force=True, ignore_permissions=True)
		for contact in frappe.get_all("Contact", filters={"mobile_no": ("like", f"%{NEW}%")}, pluck="name"):
			frappe.delete_doc("Contact", contact, force=True, ignore_permissions=True)
		frappe.db.delete(leads.BLOCKED, {"number": ("like", f"%{NEW}%")})
		frappe.db.delete("Error Log", {"method": ("in", [leads.TITLE_INVALID, leads.TITLE_LOOKUP])})
		for key in frappe.cache.get_keys("whatsapp_crm:newcomer:*"):
			frappe.cache.delete(key)
		frappe.db.commit()  # nosemgrep: the code under test commits its Leads

	def event(self, mid: str, chat: str, text: str = "Hola, vi su anuncio", name: str | None = "Ana") -> dict:
		sid = self.session.session_id
		if self.gateway_type == "evolution":
			key = {"remoteJid": f"{chat}@s.whatsapp.net", "fromMe": False, "id": mid}
			data = {"key": key, "message": {"conversation": text}, "pushName": name}
			return {"event": "messages.upsert", "instance": sid, "data": data}
		if self.gateway_type == "waha":
			payload = {
				"id": f"false_{chat}@c.us_{mid}",
				"from": chat if "@" in chat else f"{chat}@c.us",
				"fromMe": False,
				"body": text,
				"_data": {"notifyName": name},
			}
			return {"event": "message.any", "session": sid, "payload": payload}
		return {
			"event": "message",
			"sessionId": sid,
			"id": f"evt-{mid}",
			"message": {"id": mid, "chat": chat, "text": text, "pushName": name},
		}

	def write(self, chat: str, name: str | None = "Ana", text: str = "Hola") -> tuple[int, dict, str]:
		mid = "LD" + frappe.generate_hash(length=12).upper()
		status, result = self.post(self.event(mid, chat, text, name))
		return status, result, mid

	def lead_of(self, chat: str) -> list:
		return frappe.get_all(
			leads.LEAD,
			filters={"mobile_no": ("in", [f"+{chat}", chat])},
			fields=["name", "first_name", "mobile_no", "source", leads.ARRIVED_FIELD],
		)

	def reference(self, mid: str):
		return frappe.db.get_value(
			provider.MESSAGE, {"message_id": mid}, ["reference_doctype", "reference_name"], as_dict=True
		)


@unittest.skipUnless("crm" in frappe.get_installed_apps(), "Frappe CRM is not installed")
class LeadsCase(LeadsFixture):
	# -- the account's setting --

	def test_an_unknown_number_becomes_a_lead_with_the_whole_conversation(self):
		chat = number(1)
		status, _result, first = self.write(chat, "Ana García")
		self.assertEqual(status, 200)
		[lead] = self.lead_of(chat)
		self.assertEqual(
			(lead.first_name, lead.mobile_no, lead.source, lead.get(leads.ARRIVED_FIELD)),
			("Ana García", f"+{chat}", "WhatsApp", ACCOUNT),
		)
		_status, _result, second = self.write(chat, "Ana García", "¿Tienen precio?")
		self.assertEqual(len(self.lead_of(chat)), 1)
		for mid in (first, second):  # the first message too, as CRM's tab shows it
			self.assertEqual(
				self.reference(mid), {"reference_doctype": leads.LEAD, "reference_name": lead.name}
			)

	def test_a_contact_only_or_nothing_as_the_account_says(self):
		frappe.db.set_value(provider.ACCOUNT, ACCOUNT, leads.ACTION_FIELD, leads.CONTACT_ONLY)
		_status, _result, mid = self.write(number(2), "Solo Contacto")
		self.assertEqual(self.lead_of(number(2)), [])
		contact = frappe.db.get_value(
			"Contact", {"mobile_no": f"+{number(2)}"}, ["name", "first_name"], as_dict=True
		)
		self.assertEqual(contact.first_name, "Solo Contacto")
		self.assertEqual(self.reference(mid).reference_doctype, "Contact")
		frappe.db.set_value(provider.ACCOUNT, ACCOUNT, leads.ACTION_FIELD, leads.NOTHING)
		_status, _result, mid = self.write(number(3))
		self.assertEqual(self.lead_of(number(3)), [])
		self.assertFalse(frappe.db.exists("Contact", {"mobile_no": f"+{number(3)}"}))
		self.assertFalse(self.reference(mid).reference_name)  # stored, as before

	# -- what never becomes a Lead --

	def test_groups_the_own_number_privacy_ids_invalid_and_blocked_numbers_create_nothing(self):
		before = frappe.db.count(leads.LEAD)
		frappe.db.set_value("WhatsApp Session", self.session.name, "phone_number", "34911222333")
		self.write("120363025246125244@g.us")
		self.write("34911222333")  # the linked phone's own number
		self.write("1234567")  # not a phone number (too short): logged once
		self.write("1234567")
		frappe.get_doc({"doctype": leads.BLOCKED, "number": f"+{number(4)}", "reason": "spam"}).insert()
		_status, _result, mid = self.write(number(4))
		# a privacy id whose number was never seen
		self.inbound("LID" + frappe.generate_hash(length=10).upper(), chat=None, lid="987654321012345")
		self.assertEqual(frappe.db.count(leads.LEAD), before)
		self.assertTrue(frappe.db.exists(provider.MESSAGE, {"message_id": mid}))  # blocked: still stored
		self.assertEqual(frappe.db.count("Error Log", {"method": leads.TITLE_INVALID}), 1)

	def test_a_hostile_sender_name_becomes_a_safe_short_lead_name(self):
		self.write(number(5), "<img src=x onerror=alert(1)>Eve\u202e" + "x" * 5000)
		[lead] = self.lead_of(number(5))
		self.assertNotIn("<", lead.first_name)
		self.assertNotIn("\u202e", lead.first_name)
		self.assertTrue(lead.first_name.startswith("Eve"))
		self.assertLessEqual(len(lead.first_name), 140)
		self.write(number(6), None)
		self.assertEqual(self.lead_of(number(6))[0].first_name, f"+{number(6)}")

	def test_the_sites_assignment_rules_assign_the_new_lead(self):
		agent = make_user("wa-round-robin@example.com", ["Sales User"])
		rule = frappe.get_doc(
			{
				"doctype": "Assignment Rule",
				"name": "WA test new leads",
				"document_type": leads.LEAD,
				"rule": "Round Robin",
				"assign_condition": "source == 'WhatsApp'",
				"users": [{"user": agent}],
				"priority": 99,
			}
		)
		for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"):
			rule.append("assignment_days", {"day": day})
		if frappe.db.exists("Assignment Rule", rule.name):
			frappe.delete_doc("Assignment Rule", rule.name, force=True, ignore_permissions=True)
		rule.insert(ignore_permissions=True)
		self.addCleanup(frappe.delete_doc, "Assignment Rule", rule.name, force=True, ignore_permissions=True)
		self.write(number(7), "Asignada")
		[lead] = self.lead_of(number(7))
		self.assertIn(agent, frappe.db.get_value(leads.LEAD, lead.name, "_assign") or "")
		self.assertTrue(frappe.db.exists("ToDo", {"reference_name": lead.name, "allocated_to": agent}))

	# -- concurrency, Deals, first response --

	def test_a_burst_from_new_numbers_makes_one_lead_each(self):
		site = frappe.local.site
		results: list[int] = []
		bodies = [
			self.event(f"BURST{i:02d}{frappe.generate_hash(length=6)}", number(10 + i % 3)) for i in range(12)
		]
		frappe.db.commit()  # nosemgrep: the threads' own connections must see the fixture

		def deliver(body: dict) -> None:
			frappe.init(site=site)
			frappe.connect()
			try:
				raw = json.dumps(body).encode()
				headers = {"Content-Type": "application/json", **sign(raw, SECRET, int(time.time()))}
				set_request(
					method="POST",
					path="/api/method/whatsapp_crm.api.webhook.receive",
					data=raw,
					headers=headers,
				)
				frappe.local.response = frappe._dict({"docs": []})
				from whatsapp_crm.api.webhook import receive

				receive()
				frappe.db.commit()  # nosemgrep: as the request would
				results.append(frappe.local.response.get("http_status_code", 200))
			finally:
				frappe.destroy()

		threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
		for t in threads:
			t.start()
		for t in threads:
			t.join(60)
		parked.replay_parked(budget_s=30)  # what was parked in the burst is stored by the job
		frappe.db.commit()  # nosemgrep: a fresh snapshot
		self.assertEqual(results, [200] * 12)
		for i in range(3):
			self.assertEqual(len(self.lead_of(number(10 + i))), 1, number(10 + i))
		linked = frappe.get_all(
			provider.MESSAGE,
			filters={"message_id": ("like", "BURST%"), "reference_doctype": leads.LEAD},
			pluck="message_id",
		)
		self.assertEqual(len(linked), 12)
		self.assertEqual(len(set(linked)), 12)

	def test_a_failing_crm_lookup_stores_the_message_unlinked(self):
		"""CRM's own lookup raising (a broken record, a changed CRM) loses no message and makes no Lead for a
		person CRM may already have."""
		from unittest.mock import patch

		broken = RuntimeError("CRM lookup broke")
		with patch("crm.integrations.api.get_contact_lead_or_deal_from_number", side_effect=broken):
			status, _result, mid = self.write(number(40), "Ana")
		self.assertEqual(status, 200)
		self.assertEqual(self.reference(mid), {"reference_doctype": None, "reference_name": None})
		self.assertEqual(self.lead_of(number(40)), [])
		self.assertEqual(frappe.db.count("Error Log", {"method": leads.TITLE_LOOKUP}), 1)

	def test_after_conversion_messages_land_on_the_deal(self):
		self.write(number(20), "Deal Ana")
		[lead] = self.lead_of(number(20))
		deal = convert_lead(lead.name)
		_status, _result, mid = self.write(number(20), "Deal Ana", "otra pregunta")
		self.assertEqual(self.reference(mid), {"reference_doctype": leads.DEAL, "reference_name": deal})
		self.assertEqual(len(self.lead_of(number(20))), 1)  # no second Lead

	def test_an_agents_first_reply_is_the_first_response(self):
		self.write(number(30), "Primera")
		[lead] = self.lead_of(number(30))
		agent = make_user("wa-agent@example.com", ["Sales User"])
		frappe.share.add_docshare(
			leads.LEAD, lead.name, agent, read=1, write=1, flags={"ignore_share_permission": True}
		)
		with self.set_user(agent):
			self.outgoing(
				text="Hola, le atiendo",
				to=f"+{number(30)}",
				reference_doctype=leads.LEAD,
				reference_name=lead.name,
			)
		first = frappe.db.get_value(
			leads.LEAD, lead.name, ["first_responded_on", "first_response_time"], as_dict=True
		)
		self.assertTrue(first.first_responded_on)
		self.assertGreaterEqual(first.first_response_time, 0)
		with self.set_user(agent):
			self.outgoing(
				text="segunda", to=f"+{number(30)}", reference_doctype=leads.LEAD, reference_name=lead.name
			)
		self.assertEqual(
			frappe.db.get_value(leads.LEAD, lead.name, "first_responded_on"), first.first_responded_on
		)


class TestLeadsBaileys(LeadsCase):
	gateway_type = "baileys"


class TestLeadsEvolution(LeadsCase):
	gateway_type = "evolution"


class TestLeadsWaha(LeadsCase):
	gateway_type = "waha"


del LeadsCase
