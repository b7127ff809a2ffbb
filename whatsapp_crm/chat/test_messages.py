# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""Messages through a linked session as frappe_whatsapp's WhatsApp Message documents (skipped on a site
without frappe_whatsapp): the account follows its session, outgoing messages are queued and sent by a job
through the gateway simulator of each type, inbound events of each type are stored once, receipts move
the ticks forward only, Meta-only features are refused, and message access follows the Lead."""

from __future__ import annotations

import base64
import json
import time
import unittest

import frappe
from frappe.utils import set_request

from whatsapp_crm.api.webhook import receive
from whatsapp_crm.chat import inbound, outbox, provider
from whatsapp_crm.gateway.messaging import Ack, InboundMessage, MediaRef, message_id
from whatsapp_crm.gateway.webhook import sign
from whatsapp_crm.integration import SESSION
from whatsapp_crm.sessions import history
from whatsapp_crm.simulator import SessionOptions
from whatsapp_crm.testing import (
	FrappeTestCase,
	cleanup,
	configure,
	crm_currency,
	make_session,
	make_user,
	preserve_settings,
	start_simulator,
)

PREFIX = "wamsg-"
ACCOUNT = "WA Gateway Test Account"
CUSTOMER = "34600999111"
SECRET = "bench-webhook-secret-msg"
PNG = base64.b64decode(
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TYPES = {"baileys": "Baileys REST", "evolution": "Evolution API", "waha": "WAHA"}


@unittest.skipUnless("frappe_whatsapp" in frappe.get_installed_apps(), "frappe_whatsapp is not installed")
class MessagesFixture(FrappeTestCase):
	"""A linked session of one gateway type on its simulator, with a WhatsApp Account backed by it."""

	gateway_type = "baileys"
	# Unknown numbers create nothing here (today's behaviour before Leads); test_leads.py asks for Leads.
	unknown_number_action = "Do nothing"

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		preserve_settings(cls)
		cls.sim = start_simulator(gateway_type=cls.gateway_type)
		cls.addClassCleanup(cls.sim.stop)

	def setUp(self):
		configure(self.sim.url, gateway_type=TYPES[self.gateway_type], webhook_secret=SECRET)
		provider.setup()
		cleanup(PREFIX)
		self.addCleanup(self.clean)
		session_id = f"{PREFIX}{self.gateway_type}"
		self.sim.set_scenario(session_id, SessionOptions(qr_after_s=0, rotate_s=0))
		self.session = make_session(session_id)
		from whatsapp_crm.gateway_records.config import client_for

		with client_for(self.session) as client:
			client.create_session(session_id)
		self.sim.scan(session_id, "34911222333")
		self.set_status("Connected")
		self.account = self.make_account()

	def clean(self):
		for name in frappe.get_all(provider.MESSAGE, filters={"whatsapp_account": ACCOUNT}, pluck="name"):
			frappe.delete_doc(provider.MESSAGE, name, force=True, ignore_permissions=True)
		frappe.db.delete(provider.ACCOUNT, ACCOUNT)
		frappe.db.delete(
			"WhatsApp Account Role", {"parent": ACCOUNT}
		)  # its child rows, or the next one inherits them
		frappe.db.delete(SESSION, self.session.name)
		cleanup(PREFIX)
		frappe.db.delete("Error Log", {"method": outbox.TITLE_SEND})
		frappe.db.commit()  # nosemgrep: tests clean up what the code under test committed

	def set_status(self, status: str):
		before = frappe.db.get_value(SESSION, self.session.name, "status")
		frappe.db.set_value(SESSION, self.session.name, "status", status, update_modified=False)
		history.record(self.session.name, before, status, history.USER)

	def make_account(self):
		if frappe.db.exists(provider.ACCOUNT, ACCOUNT):
			frappe.delete_doc(provider.ACCOUNT, ACCOUNT, force=True, ignore_permissions=True)
		frappe.db.delete("WhatsApp Account Role", {"parent": ACCOUNT})
		doc = frappe.get_doc(
			{
				"doctype": provider.ACCOUNT,
				"account_name": ACCOUNT,
				provider.SESSION_FIELD: self.session.name,
				"is_default_outgoing": 1,
				"is_default_incoming": 1,
				"unknown_number_action": self.unknown_number_action,
			}
		).insert(ignore_permissions=True)
		settings = frappe.get_single("WhatsApp Settings")
		if settings.meta.has_field("default_outgoing_account"):
			settings.default_outgoing_account = doc.name
			settings.save(ignore_permissions=True)
		return doc

	def outgoing(self, text: str = "Hola desde el CRM", to: str = "+34 600 999 111", **fields):
		doc = frappe.get_doc(
			{
				"doctype": provider.MESSAGE,
				"type": "Outgoing",
				"to": to,
				"message": text,
				"content_type": "text",
				"whatsapp_account": ACCOUNT,
				**fields,
			}
		)
		return doc.insert(ignore_permissions=True)

	def inbound(self, message_id: str, text: str = "Hola", **fields) -> dict:
		values = {
			"id": message_id,
			"chat": CUSTOMER,
			"from_me": False,
			"text": text,
			"media": None,
			"reply_to": None,
			"timestamp": int(time.time()),
			"push_name": "Ana",
			**fields,
		}
		return inbound.receive(self.session.name, InboundMessage(**values))

	def stored(self, message_id: str):
		return frappe.db.get_value(
			provider.MESSAGE,
			{"message_id": message_id, "whatsapp_account": ACCOUNT},
			["name", "type", "from", "to", "status", "is_reply", "reply_to_message_id"],
			as_dict=True,
		)

	def post(self, body: dict) -> tuple[int, dict]:
		raw = json.dumps(body).encode()
		headers = {"Content-Type": "application/json", **sign(raw, SECRET, int(time.time()))}
		set_request(
			method="POST", path="/api/method/whatsapp_crm.api.webhook.receive", data=raw, headers=headers
		)
		frappe.local.response = frappe._dict({"docs": []})
		result = receive()
		return frappe.local.response.get("http_status_code", 200), result

	def ack_event(self, message_id: str, status: str) -> dict:
		sid = self.session.session_id
		if self.gateway_type == "evolution":
			words = {"delivered": "DELIVERY_ACK", "read": "READ"}
			data = {
				"keyId": message_id,
				"remoteJid": f"{CUSTOMER}@s.whatsapp.net",
				"fromMe": True,
				"status": words[status],
			}
			return {"event": "messages.update", "instance": sid, "data": data}
		if self.gateway_type == "waha":
			payload = {
				"id": f"true_{CUSTOMER}@c.us_{message_id}",
				"from": f"{CUSTOMER}@c.us",
				"fromMe": True,
				"ack": {"delivered": 2, "read": 3}[status],
			}
			return {"event": "message.ack", "session": sid, "payload": payload}
		return {
			"event": "ack",
			"sessionId": sid,
			"id": f"ack-{message_id}-{status}",
			"ack": {"messageId": message_id, "status": status},
		}

	def message_event(self, message_id: str, text: str, event_id: str = "evt") -> dict:
		sid = self.session.session_id
		if self.gateway_type == "evolution":
			key = {"remoteJid": f"{CUSTOMER}@s.whatsapp.net", "fromMe": False, "id": message_id}
			return {
				"event": "messages.upsert",
				"instance": sid,
				"data": {"key": key, "message": {"conversation": text}},
			}
		if self.gateway_type == "waha":
			payload = {
				"id": f"false_{CUSTOMER}@c.us_{message_id}",
				"from": f"{CUSTOMER}@c.us",
				"fromMe": False,
				"body": text,
			}
			return {"event": "message.any", "session": sid, "payload": payload}
		return {
			"event": "message",
			"sessionId": sid,
			"id": f"{event_id}-{message_id}",
			"message": {"id": message_id, "chat": CUSTOMER, "text": text},
		}


class MessagesCase(MessagesFixture):
	# -- the account follows its session --

	def test_account_is_active_while_the_session_is_connected(self):
		self.assertEqual(frappe.db.get_value(provider.ACCOUNT, ACCOUNT, "status"), "Active")
		if "crm" in frappe.get_installed_apps():
			from crm.api.whatsapp import is_whatsapp_enabled

			self.assertTrue(is_whatsapp_enabled())
		self.set_status("Disconnected")
		self.assertEqual(frappe.db.get_value(provider.ACCOUNT, ACCOUNT, "status"), "Inactive")
		self.assertEqual(frappe.get_cached_value(provider.ACCOUNT, ACCOUNT, "status"), "Inactive")

	def test_one_account_per_session(self):
		other = frappe.get_doc(
			{
				"doctype": provider.ACCOUNT,
				"account_name": ACCOUNT + " 2",
				provider.SESSION_FIELD: self.session.name,
			}
		)
		self.assertRaises(frappe.ValidationError, other.insert, ignore_permissions=True)

	# -- sending --

	def test_send_is_queued_then_sent_by_the_job(self):
		before = self.sim.count("send")
		doc = self.outgoing()
		# Nothing reached the gateway inside the request that created the message.
		self.assertEqual(self.sim.count("send"), before)
		self.assertEqual((doc.status, doc.to, doc.message_id), (outbox.QUEUED, "+34600999111", None))
		outbox.send(doc.name)
		sent = [m for m in self.sim.sent() if m["session_id"] == self.session.session_id]
		self.assertEqual((sent[-1]["to"], sent[-1]["text"]), (CUSTOMER, "Hola desde el CRM"))
		doc.reload()
		self.assertEqual((doc.status, doc.message_id), ("sent", sent[-1]["id"]))
		outbox.send(doc.name)  # a repeated job sends nothing
		self.assertEqual(self.sim.count("send"), before + 1)

	def test_receipts_move_the_ticks_forward_only(self):
		doc = self.outgoing()
		outbox.send(doc.name)
		doc.reload()
		for status, expected in (("delivered", "delivered"), ("read", "read"), ("delivered", "read")):
			inbound.apply_ack(self.session.name, Ack(doc.message_id, status))
			self.assertEqual(frappe.db.get_value(provider.MESSAGE, doc.name, "status"), expected)

	def test_an_ack_before_the_id_is_stored_is_not_lost(self):
		inbound.apply_ack(self.session.name, Ack("EARLY-ID", "delivered"))
		from whatsapp_crm.chat import acks

		self.assertEqual(acks.pending_status(self.session.name, "EARLY-ID", "sent"), "delivered")

	def test_a_failed_send_is_marked_and_logged_without_the_text(self):
		# A file that is not this site's: refused before the gateway, and it can never succeed.
		docs = [
			self.outgoing(text="secret customer words", content_type="document", attach="/files/not-here.pdf")
			for _ in range(2)
		]
		for doc in docs:
			outbox.send(doc.name)
			self.assertEqual(frappe.db.get_value(provider.MESSAGE, doc.name, "status"), "failed")
		logs = frappe.get_all("Error Log", filters={"method": outbox.TITLE_SEND}, fields=["error"])
		self.assertEqual(len(logs), 1)  # one entry for the window, counted
		self.assertFalse(any("secret customer words" in (log.error or "") for log in logs))
		# ... that names every failed message, so an admin can find them all.
		self.assertTrue(all(doc.name in logs[0].error for doc in docs), logs[0].error)

	def test_a_session_unknown_to_the_gateway_holds_the_message(self):
		from whatsapp_crm.gateway_records.config import client_for

		with client_for(self.session) as client:
			client.delete_session(self.session.session_id)  # unlinked on the gateway: nothing can be sent
		doc = self.outgoing(text="espera")
		outcome = outbox.send(doc.name)
		status = frappe.db.get_value(provider.MESSAGE, doc.name, "status")
		# Evolution says "not connected" (the message waits, queued); the others do not know the session.
		expected = (
			(outbox.HELD, outbox.QUEUED)
			if self.gateway_type == "evolution"
			else (outbox.FAILED_NOW, "failed")
		)
		self.assertEqual((outcome, status), expected)

	def test_reactions_both_ways(self):
		doc = self.outgoing(text="¿Te va bien el martes?")
		outbox.send(doc.name)
		doc.reload()
		# As Frappe CRM's emoji picker sends one (crm.api.whatsapp.react_on_whatsapp_message).
		reaction = frappe.get_doc(
			{
				"doctype": provider.MESSAGE,
				"type": "Outgoing",
				"to": doc.to,
				"message": "👍",
				"content_type": "reaction",
				"reply_to_message_id": doc.message_id,
				"whatsapp_account": ACCOUNT,
			}
		).insert(ignore_permissions=True)
		outbox.send(reaction.name)
		sent = self.sim.sent(self.session.session_id)[-1]["reaction"]
		self.assertEqual((message_id(sent["messageId"]), sent["emoji"]), (doc.message_id, "👍"))
		self.assertEqual(frappe.db.get_value(provider.MESSAGE, reaction.name, "status"), "sent")
		self.inbound("IN-REACT-1", text=None, reaction="❤️", reply_to=doc.message_id)
		stored = frappe.db.get_value(
			provider.MESSAGE,
			self.stored("IN-REACT-1")["name"],
			["content_type", "message", "reply_to_message_id", "is_reply"],
		)
		self.assertEqual(stored, ("reaction", "❤️", doc.message_id, 0))

	def test_meta_only_features_are_refused(self):
		with self.assertRaises(frappe.ValidationError) as ctx:
			self.outgoing(content_type="interactive")
		self.assertIn("Meta", str(ctx.exception))
		self.assertRaises(frappe.ValidationError, self.outgoing, message_type="Template")

	def test_a_number_without_country_code_is_refused_clearly(self):
		frappe.db.set_single_value("System Settings", "country", None)
		self.addCleanup(
			frappe.db.set_single_value,
			"System Settings",
			"country",
			frappe.db.get_single_value("System Settings", "country"),
		)
		with self.assertRaises(frappe.ValidationError) as ctx:
			self.outgoing(to="not a number")
		self.assertIn("country code", str(ctx.exception))

	def test_only_the_accounts_roles_can_send(self):
		account = frappe.get_doc(provider.ACCOUNT, ACCOUNT)
		account.append(provider.ROLES_FIELD, {"role": "System Manager"})
		account.save(ignore_permissions=True)
		user = make_user(
			"wa-sales@example.com", ["Sales User"] if frappe.db.exists("Role", "Sales User") else []
		)
		frappe.set_user(user)
		self.addCleanup(frappe.set_user, "Administrator")
		self.assertRaises(frappe.PermissionError, self.outgoing)

	# -- receiving --

	def test_inbound_is_stored_once_with_an_international_number(self):
		for _ in range(3):
			self.inbound("IN-ONCE-1")
		rows = frappe.get_all(provider.MESSAGE, filters={"message_id": "IN-ONCE-1"}, fields=["type", "from"])
		self.assertEqual(rows, [{"type": "Incoming", "from": "+34600999111"}])

	def test_texts_keep_their_characters_both_ways(self):
		self.inbound("IN-TEXT-1", text="a < b & <script>alert(1)</script>")
		stored = frappe.db.get_value(provider.MESSAGE, self.stored("IN-TEXT-1")["name"], "message")
		self.assertEqual(stored, "a &lt; b &amp; &lt;script&gt;alert(1)&lt;/script&gt;")  # shown as text
		doc = self.outgoing(text="Precio < 100 € & IVA")
		outbox.send(doc.name)
		self.assertEqual(self.sim.sent(self.session.session_id)[-1]["text"], "Precio < 100 € & IVA")

	def test_an_inbound_file_becomes_a_private_file(self):
		sid = self.session.session_id
		media = {"data": PNG, "mimetype": "image/png", "filename": "foto.png", "caption": "mira"}
		mid = message_id(self.sim.inbound(sid, CUSTOMER, None, media=media))
		# WAHA names the file by a URL in its event; the others serve it by message id.
		url = f"{self.sim.url}/api/files/{sid}/{mid}.png" if self.gateway_type == "waha" else None
		ref = MediaRef("image/png", "foto.png", len(PNG), url=url)
		self.inbound(mid, text="mira", media=ref)
		name = self.stored(mid)["name"]
		inbound.fetch_media(name, self.session.name, mid, ref.__dict__)  # the job
		doc = frappe.get_doc(provider.MESSAGE, name)
		file = frappe.get_doc("File", {"file_url": doc.attach})
		self.assertEqual((doc.content_type, doc.message), ("image", "mira"))
		self.assertEqual((file.is_private, file.attached_to_name), (1, name))
		self.assertEqual(file.get_content(), PNG)

	def test_phone_typed_messages_and_replies(self):
		self.inbound("IN-PHONE-1", text="typed on the phone", from_me=True)
		self.inbound("IN-REPLY-1", text="answer", reply_to="IN-PHONE-1")
		mine, reply = self.stored("IN-PHONE-1"), self.stored("IN-REPLY-1")
		self.assertEqual((mine.type, mine.to, mine.status), ("Outgoing", "+34600999111", "sent"))
		self.assertEqual((reply.is_reply, reply.reply_to_message_id), (1, "IN-PHONE-1"))

	def test_the_echo_of_a_sent_message_is_not_stored_twice(self):
		doc = self.outgoing()
		outbox.send(doc.name)
		doc.reload()
		self.assertEqual(
			self.inbound(doc.message_id, text="Hola desde el CRM", from_me=True)["duplicate"], True
		)
		self.assertEqual(frappe.db.count(provider.MESSAGE, {"message_id": doc.message_id}), 1)

	def test_a_privacy_id_is_resolved_once_its_number_was_seen(self):
		self.assertEqual(self.inbound("IN-LID-0", chat=None, lid="777000111")["skipped"], "hidden_number")
		self.inbound("IN-LID-1", lid="777000111")
		self.inbound("IN-LID-2", chat=None, lid="777000111")
		self.assertEqual(self.stored("IN-LID-2")["from"], "+34600999111")

	def test_inbound_links_to_the_lead_with_that_mobile_number(self):
		if "crm" not in frappe.get_installed_apps():
			self.skipTest("Frappe CRM is not installed")
		lead = frappe.get_doc(
			{"doctype": "CRM Lead", "first_name": "Ana", "last_name": PREFIX, "mobile_no": "+34 600 999 111"}
		).insert(ignore_permissions=True)
		self.addCleanup(frappe.delete_doc, "CRM Lead", lead.name, force=True, ignore_permissions=True)
		self.inbound("IN-LEAD-1")
		name = self.stored("IN-LEAD-1")["name"]
		self.assertEqual(
			frappe.db.get_value(provider.MESSAGE, name, ["reference_doctype", "reference_name"]),
			("CRM Lead", lead.name),
		)
		# Whoever cannot read the Lead cannot read its messages: a user restricted to another Lead.
		other = frappe.get_doc({"doctype": "CRM Lead", "first_name": "Other", "last_name": PREFIX}).insert(
			ignore_permissions=True
		)
		self.addCleanup(frappe.delete_doc, "CRM Lead", other.name, force=True, ignore_permissions=True)
		user = make_user("wa-nolead@example.com", ["Sales User"])
		frappe.db.delete("User Permission", {"user": user})
		frappe.get_doc(
			{"doctype": "User Permission", "user": user, "allow": "CRM Lead", "for_value": other.name}
		).insert(ignore_permissions=True)
		self.addCleanup(frappe.db.delete, "User Permission", {"user": user})
		message = frappe.get_doc(provider.MESSAGE, name)
		self.assertFalse(provider.message_has_permission(message, "read", user))
		self.assertTrue(provider.message_has_permission(message, "read", "Administrator"))
		frappe.set_user(user)
		self.addCleanup(frappe.set_user, "Administrator")
		self.assertFalse(frappe.has_permission(provider.MESSAGE, "read", doc=message))

	def test_inbound_links_to_the_deal_of_a_contact_in_another_country(self):
		if "crm" not in frappe.get_installed_apps():
			self.skipTest("Frappe CRM is not installed")
		contact = frappe.get_doc(
			{
				"doctype": "Contact",
				"first_name": "Joao",
				"last_name": PREFIX,
				"phone_nos": [{"phone": "+55 11 98765-4321", "is_primary_mobile_no": 1}],
			}
		).insert(ignore_permissions=True)
		deal = frappe.get_doc(
			{
				"doctype": "CRM Deal",
				"currency": crm_currency(),
				"contacts": [{"contact": contact.name, "is_primary": 1}],
			}
		)
		deal.insert(ignore_permissions=True)
		self.addCleanup(frappe.delete_doc, "Contact", contact.name, force=True, ignore_permissions=True)
		self.addCleanup(frappe.delete_doc, "CRM Deal", deal.name, force=True, ignore_permissions=True)
		self.inbound("IN-DEAL-1", chat="5511987654321")
		name = self.stored("IN-DEAL-1")["name"]
		self.assertEqual(
			frappe.db.get_value(provider.MESSAGE, name, ["from", "reference_doctype", "reference_name"]),
			("+5511987654321", "CRM Deal", deal.name),
		)

	# -- over the webhook, in this type's own shape --

	def test_webhook_message_and_ack_events(self):
		mid = "WH" + frappe.generate_hash(length=12).upper()
		self.assertEqual(self.post(self.message_event(mid, "por webhook", "evt-1"))[0], 200)
		# The gateway delivers it again (Baileys REST with a new event id, the others with the same body).
		status, result = self.post(self.message_event(mid, "por webhook", "evt-2"))
		self.assertEqual((status, result.get("duplicate")), (200, True))
		self.assertEqual(self.stored(mid)["type"], "Incoming")
		self.assertEqual(frappe.db.count(provider.MESSAGE, {"message_id": mid}), 1)
		doc = self.outgoing()
		outbox.send(doc.name)
		doc.reload()
		self.assertEqual(self.post(self.ack_event(doc.message_id, "read"))[0], 200)
		self.assertEqual(frappe.db.get_value(provider.MESSAGE, doc.name, "status"), "read")


class TestMessagesEvolution(MessagesCase):
	gateway_type = "evolution"


class TestMessagesWaha(MessagesCase):
	gateway_type = "waha"


class TestMessagesBaileys(MessagesCase):
	gateway_type = "baileys"


del MessagesCase  # only the three concrete cases run
