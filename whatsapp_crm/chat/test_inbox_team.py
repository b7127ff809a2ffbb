# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""The inbox a team lives in: status and reopening, snooze wake-up, quick replies, private notes, files
both ways with their permission, assignment to others, message search under permissions, business hours'
automatic replies."""

from __future__ import annotations

import io
import time
import unittest
from datetime import timedelta

import frappe
from frappe.utils import add_to_date, now_datetime
from PIL import Image

from whatsapp_crm.api import inbox
from whatsapp_crm.chat import files, hours, leads, outbox, provider, status
from whatsapp_crm.chat.conversations import CONVERSATION
from whatsapp_crm.chat.quick_replies import QUICK_REPLY
from whatsapp_crm.chat.test_inbox import forget_conversations, forget_records
from whatsapp_crm.chat.test_leads import NEW, number
from whatsapp_crm.chat.test_messages import ACCOUNT, MessagesFixture
from whatsapp_crm.integration import SESSION
from whatsapp_crm.testing import make_user

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def png(size: tuple[int, int] = (800, 600)) -> bytes:
	out = io.BytesIO()
	Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
	return out.getvalue()


@unittest.skipUnless("crm" in frappe.get_installed_apps(), "Frappe CRM is not installed")
class TestInboxTeam(MessagesFixture):
	unknown_number_action = leads.CREATE_LEAD

	def setUp(self):
		super().setUp()
		self.addCleanup(self.forget)
		self.forget()

	def forget(self):
		# The phone unlinked: the bench's workers send nothing of this number (replies stay queued), and the
		# one at work finishes before rows it may hold are deleted.
		frappe.db.set_value(SESSION, self.session.name, "status", "Disconnected", update_modified=False)
		frappe.db.commit()  # nosemgrep
		deadline = time.monotonic() + 15
		while frappe.cache.get(outbox._key("lock", self.session.name)) and time.monotonic() < deadline:
			time.sleep(0.2)
		forget_conversations()
		frappe.db.delete(status.CYCLE, {"whatsapp_account": ACCOUNT})
		forget_records(leads.LEAD, "CRM Deal", "Contact")  # a conversion makes the last two
		frappe.db.delete(QUICK_REPLY, {"code": ("like", "wa-test-%")})
		frappe.db.delete("File", {"attached_to_doctype": CONVERSATION, "file_name": ("like", "wa-test-%")})
		frappe.db.delete("Notification Log", {"for_user": ("like", "wa-team-%")})
		frappe.db.delete("WhatsApp Business Hours", {"parent": self.session.name})
		frappe.db.set_value(
			"WhatsApp Session", self.session.name, {"away_message": None, "greeting_message": None}
		)
		frappe.db.commit()  # nosemgrep: the code under test commits its Leads

	def say(self, n: int, text: str, name: str = "Cliente", **fields) -> str:
		mid = "IN" + frappe.generate_hash(length=12).upper()
		self.inbound(mid, text=text, chat=number(n), push_name=name, **fields)
		return mid

	def conversation(self, n: int) -> frappe._dict:
		return frappe.db.get_value(
			CONVERSATION,
			{"whatsapp_account": ACCOUNT, "number": f"+{number(n)}"},
			["name", "status", "cycle", "snoozed_until", "reference_name", "assignee"],
			as_dict=True,
		)

	def outgoing_to(self, n: int) -> list[str]:
		return frappe.get_all(
			provider.MESSAGE,
			filters={"whatsapp_account": ACCOUNT, "type": "Outgoing", "to": ("like", f"%{number(n)}")},
			pluck="message",
			order_by="creation asc",
		)

	# 1. status
	def test_resolve_then_the_customer_writes_again_and_it_is_open_with_a_new_cycle(self):
		self.say(70, "¿tienen stock?")
		c = self.conversation(70)
		self.assertEqual(c.status, "Open")
		first = c.cycle
		self.assertTrue(first)
		inbox.reply(c.name, "Sí, tenemos")
		self.assertTrue(frappe.db.get_value(status.CYCLE, first, "first_response_at"))
		self.assertEqual(frappe.db.get_value(status.CYCLE, first, "first_response_by"), "Administrator")
		inbox.set_status(c.name, "Resolved")
		c = self.conversation(70)
		self.assertEqual((c.status, c.cycle), ("Resolved", None))
		self.assertTrue(frappe.db.get_value(status.CYCLE, first, "resolved_at"))
		page = inbox.conversations_page(account=ACCOUNT)
		self.assertNotIn(c.name, [r.name for r in page["rows"]])  # Open by default
		self.assertEqual(page["counts"]["Resolved"], 1)
		resolved = inbox.conversations_page(account=ACCOUNT, status="Resolved")["rows"]
		self.assertEqual([r.name for r in resolved], [c.name])
		self.say(70, "👍", reaction="👍", reply_to="X")  # a thank-you does not reopen
		self.assertEqual(self.conversation(70).status, "Resolved")
		self.say(70, "otra pregunta")
		c = self.conversation(70)
		self.assertEqual(c.status, "Open")
		self.assertNotIn(c.cycle, (None, first))
		with self.assertRaises(frappe.ValidationError):
			inbox.set_status(c.name, "Archived")

	def test_a_conversation_the_company_starts_is_pending_until_the_customer_answers(self):
		self.outgoing(text="Hola, le escribimos de la tienda", to=f"+{number(71)}")
		c = self.conversation(71)
		self.assertEqual((c.status, c.cycle), ("Pending", None))
		self.say(71, "¿quién es?")
		self.assertEqual(self.conversation(71).status, "Open")

	def test_snooze_until_a_time_wakes_up_and_until_they_reply_reopens_on_a_message(self):
		self.say(72, "llámenme el lunes")
		c = self.conversation(72)
		out = inbox.set_status(c.name, "Snoozed", "tomorrow")
		self.assertGreater(out["snoozed_until"], now_datetime())
		with self.assertRaises(frappe.ValidationError):
			inbox.set_status(c.name, "Snoozed", "2020-01-01 10:00:00")  # the past
		with self.assertRaises(frappe.ValidationError):
			inbox.set_status(c.name, "Snoozed", "next month or so")
		frappe.db.set_value(CONVERSATION, c.name, "snoozed_until", add_to_date(now_datetime(), minutes=-1))
		status.wake_snoozed()  # the scheduler's every-minute job
		c = self.conversation(72)
		self.assertEqual((c.status, c.snoozed_until), ("Open", None))
		inbox.set_status(c.name, "Snoozed", "reply")
		self.assertEqual(self.conversation(72).snoozed_until, None)
		status.wake_snoozed()
		self.assertEqual(self.conversation(72).status, "Snoozed")  # no time: only the customer wakes it
		self.say(72, "ya es lunes")
		self.assertEqual(self.conversation(72).status, "Open")

	# 2. quick replies
	def test_quick_replies_fill_placeholders_refuse_bad_ones_and_personal_ones_stay_personal(self):
		self.say(73, "precio?", name="<b>Ana</b> & Co")
		c = self.conversation(73)
		frappe.db.set_value(leads.LEAD, c.reference_name, "first_name", "<b>Ana</b>")
		frappe.get_doc(
			{
				"doctype": QUICK_REPLY,
				"code": "/WA-TEST-precio",
				"title": "Precio",
				"message": "Hola {first_name}, cuesta 10 €. {organization}",
				"shared": 1,
			}
		).insert()
		offered = inbox.quick_replies(c.name, "wa-test-pre")
		self.assertEqual(offered[0]["code"], "wa-test-precio")  # the slash and the case are dropped
		self.assertEqual(offered[0]["text"], "Hola <b>Ana</b>, cuesta 10 €. ")  # as text; a missing one empty
		for bad in ("Hola {nombre}", "x" * 5000, "   "):
			with self.assertRaises(frappe.ValidationError):
				frappe.get_doc(
					{"doctype": QUICK_REPLY, "code": "wa-test-bad", "title": "Bad", "message": bad}
				).insert()
		with self.assertRaises(frappe.ValidationError):
			frappe.get_doc({"doctype": QUICK_REPLY, "code": "a b!", "title": "x", "message": "x"}).insert()
		with self.assertRaises(frappe.ValidationError):  # the code is taken by the shared one
			frappe.get_doc(
				{"doctype": QUICK_REPLY, "code": "wa-test-precio", "title": "x", "message": "x"}
			).insert()
		agent = make_user("wa-team-agent@example.com", ["Sales User", "Sales Manager"])
		with self.set_user(agent):
			frappe.get_doc(
				{
					"doctype": QUICK_REPLY,
					"code": "wa-test-mio",
					"title": "Mío",
					"message": "solo mío",
					"shared": 0,
				}
			).insert()
			self.assertEqual([r["code"] for r in inbox.quick_replies(c.name, "wa-test-mi")], ["wa-test-mio"])
		other = make_user("wa-team-other@example.com", ["Sales User", "Sales Manager"])
		with self.set_user(other):
			self.assertEqual(inbox.quick_replies(c.name, "wa-test-mi"), [])
			mine = frappe.db.get_value(QUICK_REPLY, {"code": "wa-test-mio"}, "name")
			self.assertFalse(frappe.has_permission(QUICK_REPLY, "read", mine))
			self.assertNotIn(mine, frappe.get_list(QUICK_REPLY, pluck="name"))

	# 3. notes
	def test_a_note_is_a_comment_on_the_lead_notifies_the_mentioned_and_never_reaches_the_gateway(self):
		self.say(74, "necesito factura")
		c = self.conversation(74)
		colleague = make_user("wa-team-mention@example.com", ["Sales User"])
		sent_before = len(self.sim.sent(self.session.session_id))
		messages_before = frappe.db.count(provider.MESSAGE, {"whatsapp_account": ACCOUNT})
		name = inbox.add_note(c.name, "<script>x</script> @wa-team-mention ¿lo ves?", [colleague])["name"]
		comment = frappe.get_doc("Comment", name)
		self.assertEqual((comment.reference_doctype, comment.reference_name), (leads.LEAD, c.reference_name))
		self.assertNotIn("<script>", comment.content)
		self.assertIn(f'data-id="{colleague}"', comment.content)
		self.assertTrue(frappe.db.exists("Notification Log", {"for_user": colleague, "type": "Mention"}))
		notes = inbox.thread(c.name)["notes"]
		self.assertEqual(notes[-1]["text"], "<script>x</script> @wa-team-mention ¿lo ves?")
		self.assertEqual(frappe.db.count(provider.MESSAGE, {"whatsapp_account": ACCOUNT}), messages_before)
		self.assertEqual(len(self.sim.sent(self.session.session_id)), sent_before)
		with self.assertRaises(frappe.ValidationError):
			inbox.add_note(c.name, "   ")

	# 4. files
	def test_files_both_ways_checked_before_queueing_and_served_only_to_readers(self):
		self.say(75, "mire la foto")
		c = self.conversation(75)
		row = frappe._dict(frappe.get_doc(CONVERSATION, c.name).as_dict())
		for data, name, words in (
			(b"", "wa-test-empty.pdf", "empty"),
			(b"%PDF-1.4 not really an image", "wa-test-lie.png", "not what its name says"),
			(b"MZ\x90\x00" + b"\x00" * 100, "wa-test-tool.pdf", "cannot be sent on WhatsApp"),
			(png() + b"\x00" * (6 * 1024 * 1024), "wa-test-big.png", "larger than"),
		):
			before = frappe.db.count("File", {"attached_to_name": c.name})
			with self.assertRaises(frappe.ValidationError) as caught:
				files.upload(row, data, name, None)
			self.assertIn(words, str(caught.exception))
			self.assertEqual(frappe.db.count("File", {"attached_to_name": c.name}), before)  # nothing kept
		up = files.upload(row, png(), "wa-test-foto.png", "image/png")
		self.assertEqual(up["kind"], "image")
		pdf = files.upload(row, b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF", "wa-test-oferta.pdf", None)
		self.assertEqual(pdf["kind"], "document")
		sent = inbox.reply(c.name, "aquí la oferta", pdf["file"])
		doc = frappe.get_doc(provider.MESSAGE, sent["name"])
		self.assertEqual(
			(doc.attach, doc.content_type, doc.message), (pdf["file_url"], "document", "aquí la oferta")
		)
		thread = inbox.thread(c.name)
		shown = [m for m in thread["messages"] if m.get("file")]
		self.assertEqual(shown[-1]["file"]["name"], "wa-test-oferta.pdf")
		self.assertIn("whatsapp_crm.api.inbox.media", shown[-1]["file"]["url"])
		# an image a customer sent: a thumbnail, served to who may read the conversation only
		incoming = frappe.get_all(
			provider.MESSAGE, filters={"whatsapp_account": ACCOUNT, "type": "Incoming"}, pluck="name"
		)[0]
		f = frappe.get_doc(
			{
				"doctype": "File",
				"file_name": "wa-test-in.png",
				"content": png(),
				"is_private": 1,
				"attached_to_doctype": provider.MESSAGE,
				"attached_to_name": incoming,
			}
		).insert(ignore_permissions=True)
		files.make_thumbnail(f)
		frappe.db.set_value(provider.MESSAGE, incoming, {"attach": f.file_url, "content_type": "image"})
		image = next(m for m in inbox.thread(c.name)["messages"] if m["name"] == incoming)
		self.assertTrue(image["file"]["thumb"])
		inbox.media(incoming, thumb=1)
		self.assertLess(len(frappe.local.response["filecontent"]), len(png()))
		self.assertEqual(frappe.local.response["display_content_as"], "inline")
		self.say(76, "otro")
		stranger = make_user("wa-team-stranger@example.com", ["Sales User"])  # another Lead's agent
		frappe.permissions.add_user_permission(
			leads.LEAD, self.conversation(76).reference_name, stranger, ignore_permissions=True
		)
		self.addCleanup(frappe.db.delete, "User Permission", {"user": stranger})
		with self.set_user(stranger), self.assertRaises(frappe.PermissionError):
			inbox.media(incoming)
		with self.set_user(stranger), self.assertRaises(frappe.PermissionError):
			inbox.reply(c.name, "x", up["file"])
		with self.assertRaises(frappe.ValidationError):  # a file of another conversation is not sent
			inbox.reply(self.conversation(76).name, "x", up["file"])

	# 5. assignment
	def test_assign_to_a_teammate_and_unassign(self):
		self.say(77, "quiero hablar con ventas")
		c = self.conversation(77)
		mate = make_user("wa-team-mate@example.com", ["Sales User"])
		inbox.assign(c.name, mate)
		self.assertEqual(self.conversation(77).assignee, mate)
		row = next(r for r in inbox.conversations_page(account=ACCOUNT)["rows"] if r.name == c.name)
		self.assertEqual(row.assignee_name, "wa-team-mate")
		with self.set_user(mate):  # assigned: now they see it
			self.assertIn(c.name, [r.name for r in inbox.conversations_page(scope="mine")["rows"]])
		inbox.unassign(c.name, mate)
		self.assertIsNone(self.conversation(77).assignee)
		with self.assertRaises(frappe.ValidationError):
			inbox.assign(c.name, "nobody@example.com")

	# 6. search
	def test_message_search_finds_words_only_in_conversations_the_user_may_see(self):
		self.say(78, "mi pedido número 88123 no llegó")
		self.say(79, "el pedido 88123 es de mi vecino")
		mine = self.conversation(78)
		agent = make_user("wa-team-searcher@example.com", ["Sales User"])
		frappe.permissions.add_user_permission(
			leads.LEAD, mine.reference_name, agent, ignore_permissions=True
		)
		self.addCleanup(frappe.db.delete, "User Permission", {"user": agent})
		frappe.db.commit()  # nosemgrep: a full-text index sees committed rows only (as webhooks commit)
		found = inbox.search_messages("pedido 88123")["rows"]
		self.assertEqual({r.conversation for r in found}, {mine.name, self.conversation(79).name})
		with self.set_user(agent):
			found = inbox.search_messages("88123")["rows"]
			self.assertEqual([r.conversation for r in found], [mine.name])
			self.assertIn("88123", found[0].text)
			at = inbox.thread(mine.name, around=found[0].message)
			self.assertIn(found[0].message, [m["name"] for m in at["messages"]])
		with self.assertRaises(frappe.ValidationError):
			inbox.search_messages("pe")
		self.assertEqual(
			inbox.search_messages('+"pedido -88123 <b>')["rows"][0].conversation, self.conversation(79).name
		)

	# 8. business hours
	def test_away_message_once_a_day_outside_hours_and_a_greeting_for_a_new_customer(self):
		session = frappe.get_doc("WhatsApp Session", self.session.name)
		today = now_datetime().weekday()
		session.set(
			"business_hours", [{"weekday": WEEKDAYS[(today + 1) % 7], "opens": "09:00", "closes": "17:00"}]
		)
		session.away_message = "Hola {first_name}, abrimos mañana a las 9."
		session.greeting_message = "¡Bienvenido!"
		session.save()
		self.say(80, "¿están?", name="Luis")
		self.say(80, "¿hola?", name="Luis")
		self.assertEqual(
			self.outgoing_to(80), ["Hola Luis, abrimos mañana a las 9."]
		)  # once, not the greeting
		session.set("business_hours", [])
		session.save()
		self.say(81, "primera vez", name="Eva")
		self.say(81, "segunda", name="Eva")
		self.assertEqual(self.outgoing_to(81), ["¡Bienvenido!"])
		self.assertEqual(
			frappe.db.get_value(provider.MESSAGE, {"to": ("like", f"%{number(81)}")}, "status"), "queued"
		)
		# catch-up's old messages get no automatic reply
		self.say(82, "de ayer", timestamp=int((now_datetime() - timedelta(days=1)).timestamp()))
		self.assertEqual(self.outgoing_to(82), [])
		# a cycle's first response is a person's, never the greeting
		self.assertIsNone(frappe.db.get_value(status.CYCLE, self.conversation(81).cycle, "first_response_at"))
		session.set("business_hours", [{"weekday": "Monday", "opens": "17:00", "closes": "09:00"}])
		with self.assertRaises(frappe.ValidationError):
			session.save()
		session.reload()
		session.away_message = "Hola {nombre}"
		with self.assertRaises(frappe.ValidationError):
			session.save()
		self.assertEqual(hours.ranges_for_session(self.session.name), [])

	# 7. CRM context
	def test_the_crm_beside_the_thread_status_convert_task_and_other_conversations(self):
		self.say(83, "quiero un presupuesto", name="Marta")
		c = self.conversation(83)
		panel = inbox.context(c.name)
		ref = panel["reference"]
		self.assertEqual((ref["doctype"], ref["name"], ref["title"]), (leads.LEAD, c.reference_name, "Marta"))
		self.assertIn(ref["status"], ref["statuses"])
		self.assertTrue(ref["can_convert"])
		self.assertFalse(panel["opted_out"])
		other_status = next(s for s in ref["statuses"] if s != ref["status"])
		after = inbox.set_reference_status(c.name, other_status)
		self.assertEqual(after["reference"]["status"], other_status)
		with self.assertRaises(frappe.ValidationError):
			inbox.set_reference_status(c.name, "<b>Nope</b>")
		task = inbox.add_task(c.name, "Enviar presupuesto", "2030-01-01 10:00:00")["task"]
		self.assertEqual(
			frappe.db.get_value("CRM Task", task, ["reference_doctype", "reference_docname"]),
			(leads.LEAD, c.reference_name),
		)
		with self.assertRaises(frappe.ValidationError):
			inbox.add_task(c.name, "  ")
		deal = inbox.convert_to_deal(c.name)["deal"]
		self.assertEqual(self.conversation(83).reference_name, deal)  # the conversation follows the Deal
		panel = inbox.context(c.name)
		self.assertEqual(panel["reference"]["doctype"], "CRM Deal")
		self.assertFalse(panel["reference"]["can_convert"])
		# the same number on another company number is one click away
		frappe.get_doc(
			{
				"doctype": CONVERSATION,
				"whatsapp_account": ACCOUNT,
				"number": f"+{number(84)}",
				"title": "otra",
				"reference_doctype": "CRM Deal",
				"reference_name": deal,
				"last_message_at": now_datetime(),
			}
		).db_insert()
		self.assertEqual([o.number for o in inbox.context(c.name)["others"]], [f"+{number(84)}"])

	def test_colleagues_in_the_same_conversation_see_each_other(self):
		self.say(85, "hola")
		c = self.conversation(85)
		mate = make_user("wa-team-viewer@example.com", ["Sales Manager", "Sales User"])
		self.addCleanup(inbox.presence.left, c.name, mate)
		self.assertEqual(inbox.viewing(c.name)["viewers"], [])
		with self.set_user(mate):
			self.assertEqual([v["user"] for v in inbox.viewing(c.name)["viewers"]], ["Administrator"])
		inbox.stop_viewing(c.name)
		with self.set_user(mate):
			self.assertEqual(inbox.viewing(c.name)["viewers"], [])
