# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""Sending carefully, on a real site with the gateway simulator: the sending policy holds messages from every
path (CRM's tab, the inbox, campaigns, opt-out confirmations) and says why; replies go before campaign
messages; opt-out and opt-in; a campaign from Lead filters with each skip reason, paused and resumed, after a
crash; ban watch; who may run campaigns. Skipped on a site without frappe_whatsapp or Frappe CRM."""

from __future__ import annotations

import time
import unittest

import frappe
from frappe.utils import add_to_date, now_datetime

from whatsapp_crm.api import campaigns as campaign_api
from whatsapp_crm.api import sending as sending_api
from whatsapp_crm.chat import banwatch, campaign_recipients, campaigns, inbox, optout, outbox, provider
from whatsapp_crm.chat import sending as pacing
from whatsapp_crm.chat.test_messages import ACCOUNT, CUSTOMER, MessagesFixture
from whatsapp_crm.integration import SESSION
from whatsapp_crm.sending import policy as rules
from whatsapp_crm.sending import recipients as lists
from whatsapp_crm.sessions import history
from whatsapp_crm.testing import OPEN_SENDING_POLICY, make_user

LEAD = "CRM Lead"
TAG = "wasend-test"
OPEN_POLICY = OPEN_SENDING_POLICY


@unittest.skipUnless(frappe.db.exists("DocType", LEAD), "Frappe CRM is not installed")
class SendingFixture(MessagesFixture):
	def setUp(self):
		super().setUp()
		self.addCleanup(self.clean_campaigns)
		self.clean_campaigns()
		self.online()
		self.policy(**OPEN_POLICY)
		# the simulator lives for the class: this test's sends are the ones after these
		self.earlier = len(self.sim.sent(self.session.session_id))
		self.t0 = now_datetime()
		country = frappe.db.get_single_value("System Settings", "country")
		self.addCleanup(frappe.db.set_single_value, "System Settings", "country", country)
		frappe.db.set_single_value("System Settings", "country", "Spain")  # local numbers are Spanish

	def new_sent(self) -> list[dict]:
		return self.sim.sent(self.session.session_id)[self.earlier :]

	def clean_campaigns(self):
		# the bench's workers may be flushing this number: stop them from starting more, and let the one at
		# work finish, before rows it may hold are deleted
		if frappe.db.exists(SESSION, self.session.name):
			self.offline()
			deadline = time.monotonic() + 15
			while frappe.cache.get(outbox._key("lock", self.session.name)) and time.monotonic() < deadline:
				time.sleep(0.2)
		for name in frappe.get_all(campaigns.CAMPAIGN, filters={"title": ("like", f"{TAG}%")}, pluck="name"):
			frappe.db.delete(campaigns.RECIPIENT, {"campaign": name})
			frappe.db.delete(campaign_recipients.NUMBER, {"parent": name})
			frappe.db.delete(campaigns.CAMPAIGN, name)
		for lead in frappe.get_all(LEAD, filters={"organization": TAG}, pluck="name"):
			frappe.delete_doc(LEAD, lead, force=True, ignore_permissions=True)
		frappe.db.delete(campaign_recipients.OPT_OUT, {"session": self.session.name})
		frappe.db.delete(campaign_recipients.BLOCKED_NUMBER, {"reason": TAG})
		frappe.db.delete("Notification Log", {"document_name": self.session.name})
		for key in frappe.cache.get_keys(f"whatsapp_crm:*{self.session.name}*"):
			frappe.cache.delete(key)
		frappe.db.commit()  # nosemgrep: the code under test commits

	def offline(self):
		"""The phone unlinked while a test sets up: a worker's flush (jobs run in the bench's workers) sends
		nothing until ``online``."""
		frappe.db.set_value(SESSION, self.session.name, "status", "Disconnected", update_modified=False)
		frappe.db.commit()  # nosemgrep

	def online(self):
		frappe.db.set_value(SESSION, self.session.name, "status", "Connected", update_modified=False)
		frappe.db.commit()  # nosemgrep

	def drain(self, timeout: float = 40.0) -> None:
		"""Flush until nothing is queued and no recipient waits (a worker may be flushing too: the lock
		lets one of them at a time)."""
		deadline = time.monotonic() + timeout
		while time.monotonic() < deadline:
			stats = outbox.flush(self.session.name, outbox.PACE_QUEUE)
			frappe.db.commit()  # nosemgrep: see what the worker committed
			queued = frappe.db.exists(
				provider.MESSAGE, {"whatsapp_account": ACCOUNT, "type": "Outgoing", "status": outbox.QUEUED}
			)
			waiting = frappe.db.sql(
				f"""select count(*) from `tab{campaigns.RECIPIENT}` r join `tab{campaigns.CAMPAIGN}` c
				on c.name = r.campaign where c.title like %s and c.status = 'Running'
				and r.status in ('Waiting', 'Sending')""",
				f"{TAG}%",
			)[0][0]
			if not queued and not waiting:
				return
			time.sleep(min(stats.get("wait") or 0.5, 2.0))
		self.fail("the outbox did not empty in time")

	def settle(self, name: str) -> None:
		"""Flush until ``name`` was sent or held with its reason (this job or a worker's, one at a time)."""
		for _ in range(50):
			outbox.flush(self.session.name, outbox.PACE_QUEUE)
			frappe.db.commit()  # nosemgrep: see what the worker committed
			row = frappe.db.get_value(
				provider.MESSAGE, name, ["message_id", pacing.WAIT_REASON], as_dict=True
			)
			if row.message_id or row.get(pacing.WAIT_REASON):
				return
			time.sleep(0.2)

	def policy(self, **values):
		frappe.db.set_value(SESSION, self.session.name, values, update_modified=False)
		frappe.db.commit()  # nosemgrep

	def sent_to(self, number: str) -> list[dict]:
		return [m for m in self.new_sent() if m.get("to", "").lstrip("+") == number]

	def lead(self, first_name: str, mobile_no: str | None) -> str:
		name = (
			frappe.get_doc({"doctype": LEAD, "first_name": first_name, "organization": TAG})
			.insert(ignore_permissions=True)
			.name
		)
		# set as imported data may hold it: CRM's form would refuse "call me"
		frappe.db.set_value(LEAD, name, "mobile_no", mobile_no, update_modified=False)
		return name

	def campaign(self, message: str = "Hola {first_name}", **fields) -> str:
		doc = frappe.get_doc(
			{
				"doctype": campaigns.CAMPAIGN,
				"title": f"{TAG} {frappe.generate_hash(length=6)}",
				"source": LEAD,
				"filters": frappe.as_json([[LEAD, "organization", "=", TAG]]),
				"message": message,
				"numbers": [{"session": self.session.name}],
				**fields,
			}
		).insert(ignore_permissions=True)
		frappe.db.commit()  # nosemgrep
		return doc.name

	def started(self, name: str) -> None:
		campaigns.start(name)
		frappe.db.commit()  # nosemgrep
		campaigns.prepare(name)

	def recipients(self, name: str) -> dict[str, tuple[str, str | None]]:
		rows = frappe.get_all(
			campaigns.RECIPIENT,
			filters={"campaign": name},
			fields=["given", "number", "status", "skip_reason", "recipient_name"],
		)
		return {(r.recipient_name or r.given or ""): (r.status, r.skip_reason) for r in rows}


class TestSendingPolicy(SendingFixture):
	def test_a_policy_that_cannot_work_is_refused_on_save(self):
		doc = frappe.get_doc(SESSION, self.session.name)
		for values in (
			{"send_per_minute": 0},
			{"send_per_hour": -3},
			{"quiet_from": "22:00:00", "quiet_to": "22:00:00"},
			{"gap_min_s": 10, "gap_max_s": 2},
		):
			doc.reload()
			doc.update(values)
			with self.assertRaises(frappe.ValidationError):
				doc.save(ignore_permissions=True)
		self.assertEqual(frappe.db.get_value(SESSION, self.session.name, "send_per_minute"), 60)

	def test_limits_hold_messages_from_crm_and_the_inbox_and_say_why(self):
		self.policy(send_per_minute=2)
		crm = [self.outgoing(f"CRM {i}") for i in range(2)]
		row = frappe._dict(
			number=f"+{CUSTOMER}", whatsapp_account=ACCOUNT, reference_doctype=None, reference_name=None
		)
		from_inbox = inbox.queue_reply(row, "Desde la bandeja")
		for _ in range(20):  # this job or a worker's (each insert queues one): one at a time, by the lock
			outbox.flush(self.session.name, outbox.PACE_QUEUE)
			frappe.db.commit()  # nosemgrep
			if frappe.db.get_value(provider.MESSAGE, from_inbox.name, pacing.WAIT_REASON):
				break
			time.sleep(0.3)
		for doc in crm:
			self.assertTrue(frappe.db.get_value(provider.MESSAGE, doc.name, "message_id"))
		held = frappe.db.get_value(
			provider.MESSAGE, from_inbox.name, ["status", pacing.WAIT_REASON, pacing.SEND_AFTER], as_dict=True
		)
		self.assertEqual(held.status, outbox.QUEUED)  # waiting, never dropped
		self.assertEqual(held.get(pacing.WAIT_REASON), rules.PER_MINUTE)
		self.assertGreater(held.get(pacing.SEND_AFTER), now_datetime())
		shown = {m["name"]: m["waiting"] for m in inbox.thread_messages(row, None, 50)}
		self.assertIn("limit of messages per minute", shown[from_inbox.name])  # the inbox says why and when
		self.assertIsNone(shown[crm[0].name])
		status = sending_api.session_status(self.session.name)
		self.assertEqual(status["used"]["minute"], 2)
		self.assertEqual(status["waiting"], 1)
		self.assertIn("goes out at", status["next"])

	def test_quiet_hours_hold_a_first_message_but_not_an_answer(self):
		now = now_datetime()
		start = (now - frappe.utils.datetime.timedelta(minutes=5)).strftime("%H:%M:00")
		end = (now + frappe.utils.datetime.timedelta(hours=2)).strftime("%H:%M:00")
		self.policy(quiet_from=start, quiet_to=end)
		cold = self.outgoing("Hola", to="+34 600 555 444")
		self.settle(cold.name)
		self.assertEqual(
			frappe.db.get_value(provider.MESSAGE, cold.name, pacing.WAIT_REASON), rules.QUIET_HOURS
		)
		self.inbound("quiet-in-1", "¿Siguen abiertos?")
		answer = self.outgoing("Sí, hasta las 22:00")
		outbox.flush(self.session.name, outbox.PACE_QUEUE)
		self.assertTrue(frappe.db.get_value(provider.MESSAGE, answer.name, "message_id"))
		self.assertFalse(frappe.db.get_value(provider.MESSAGE, cold.name, "message_id"))

	def test_a_new_number_is_held_by_the_new_conversations_cap_and_warm_up_lowers_it(self):
		self.policy(new_chats_per_day=1)
		first = self.outgoing("Hola", to="+34 600 555 401")
		second = self.outgoing("Hola", to="+34 600 555 402")
		self.settle(second.name)
		self.assertTrue(frappe.db.get_value(provider.MESSAGE, first.name, pacing.FIRST_CONTACT))
		self.assertEqual(
			frappe.db.get_value(provider.MESSAGE, second.name, pacing.WAIT_REASON), rules.NEW_PER_DAY
		)
		self.policy(new_chats_per_day=30, warmup_days=14, linked_on=now_datetime())
		caps = pacing.caps_of(pacing.session_row(self.session.name))
		self.assertEqual(caps.new_per_day, 3)
		self.assertLess(caps.share, 1)

	def test_a_scan_in_the_history_starts_the_warm_up(self):
		history.record(self.session.name, "QR Ready", "Connected", history.USER)
		self.assertIsNotNone(frappe.db.get_value(SESSION, self.session.name, "linked_on"))
		self.assertIsNotNone(pacing.linked_on(self.session.name))

	def test_pacing_reads_the_chat_and_types_before_a_reply(self):
		self.policy(show_typing=1)
		self.inbound("pace-in-1", "Hola, ¿precio?")
		reply = self.outgoing("Son 30 euros")
		self.drain()  # this job or a worker's (the long queue: typing takes seconds)
		message_id = frappe.db.get_value(provider.MESSAGE, reply.name, "message_id")
		self.assertTrue(message_id)
		log = self.sim.pacing(self.session.session_id)
		self.assertIn("pace-in-1", [i for r in log["reads"] for i in r["ids"]])
		sent_at = next(s["at"] for s in log["sends"] if s["id"] == message_id)
		typing = [p["at"] for p in log["presence"] if p["presence"] == "composing" and p["at"] <= sent_at]
		self.assertTrue(typing)
		# measured at the gateway: "typing…" showed at least the shortest typing time before the send
		self.assertGreaterEqual(sent_at - max(typing), rules.TYPING_MIN_S * 0.9)


class TestOptOut(SendingFixture):
	def test_an_opt_out_word_is_recorded_once_confirmed_once_and_opt_in_needs_a_reason(self):
		lead = self.lead("Ana", f"+{CUSTOMER}")
		frappe.db.set_value(LEAD, lead, "whatsapp_account", ACCOUNT)
		self.inbound("optout-1", "BAJA por favor")
		row = frappe.get_all(
			campaign_recipients.OPT_OUT,
			filters={"session": self.session.name, "number": CUSTOMER},
			fields=["name", "opted_out", "word", "opted_out_on"],
		)
		self.assertEqual(len(row), 1)
		self.assertEqual((row[0].opted_out, row[0].word), (1, "BAJA"))
		mine = {"whatsapp_account": ACCOUNT, "type": "Outgoing", "creation": (">=", self.t0)}
		self.assertEqual(frappe.db.count(provider.MESSAGE, {**mine, "to": f"+{CUSTOMER}"}), 1)
		self.inbound("optout-2", "STOP")
		self.assertEqual(frappe.db.count(provider.MESSAGE, mine), 1)  # confirmed once
		# an agent may still answer a conversation the customer starts
		self.inbound("optout-3", "Hola, una duda sobre mi pedido")
		answer = self.outgoing("Claro, dígame")
		self.drain()
		self.assertTrue(frappe.db.get_value(provider.MESSAGE, answer.name, "message_id"))
		with self.assertRaises(frappe.ValidationError):
			sending_api.opt_in(row[0].name, "  ")
		sending_api.opt_in(row[0].name, "Pidió volver a recibir ofertas")
		self.assertEqual(frappe.db.get_value(campaign_recipients.OPT_OUT, row[0].name, "opted_out"), 0)

	def test_ordinary_words_opt_nobody_out(self):
		self.inbound("optout-no", "No pares de enviarme ofertas, me encantan")
		self.assertFalse(frappe.db.exists(campaign_recipients.OPT_OUT, {"session": self.session.name}))


class TestCampaigns(SendingFixture):
	def test_a_campaign_from_lead_filters_skips_each_with_its_reason_and_sends_each_once(self):
		self.lead("Valid", "+34 611 000 101")
		self.lead("Twin", "611000101")  # the same number, written locally: a duplicate
		self.lead("Gone", "+34 611 000 102")
		self.lead("Spam", "+34 611 000 103")
		self.lead("Words", "call me")
		self.lead("Nobody", None)
		self.lead("Ghost", "+34 611 000 000")  # the simulator has no WhatsApp on numbers ending in 000
		frappe.get_doc(
			{"doctype": campaign_recipients.OPT_OUT, "session": self.session.name, "number": "34611000102"}
		).insert(ignore_permissions=True)
		frappe.get_doc(
			{"doctype": campaign_recipients.BLOCKED_NUMBER, "number": "+34611000103", "reason": TAG}
		).insert(ignore_permissions=True)
		name = self.campaign("Hola <b>{first_name}</b>")
		self.started(name)
		self.drain()
		found = self.recipients(name)
		self.assertEqual(found["Valid"][0], campaign_recipients.SENT)
		self.assertEqual(found["Twin"], (campaigns.SKIPPED, lists.DUPLICATE))
		self.assertEqual(found["Gone"], (campaigns.SKIPPED, lists.OPTED_OUT))
		self.assertEqual(found["Spam"], (campaigns.SKIPPED, lists.BLOCKED))
		self.assertEqual(found["Words"], (campaigns.SKIPPED, lists.INVALID_NUMBER))
		self.assertEqual(found["Nobody"], (campaigns.SKIPPED, lists.NO_NUMBER))
		self.assertEqual(found["Ghost"], (campaigns.SKIPPED, lists.NOT_ON_WHATSAPP))
		sent = self.sent_to("34611000101")
		self.assertEqual(len(sent), 1)
		self.assertEqual(sent[0]["text"], "Hola <b>Valid</b>")  # markup stays text
		self.assertEqual(frappe.db.get_value(campaigns.CAMPAIGN, name, "status"), campaigns.COMPLETED)
		progress = campaign_api.progress(name)
		self.assertEqual(progress["total"], 7)
		self.assertEqual(progress["done"], 7)

	def test_replies_go_before_campaign_messages(self):
		for i in range(3):
			self.lead(f"C{i}", f"+34 611 000 2{i}1")
		name = self.campaign()
		self.offline()
		self.started(name)
		reply = self.outgoing("Respuesta")
		self.assertEqual(outbox._next_queued(ACCOUNT), reply.name)
		self.online()
		self.drain()
		order = [m.get("to", "").lstrip("+") for m in self.new_sent()]
		self.assertEqual(order[0], CUSTOMER)
		self.assertEqual(len(order), 4)

	def test_pause_resume_and_a_crash_send_nobody_twice(self):
		for i in range(4):
			self.lead(f"P{i}", f"+34 611 000 3{i}1")
		name = self.campaign()
		self.offline()
		self.started(name)
		row = pacing.session_row(self.session.name)
		# a worker dies after claiming a recipient (its message exists, queued) and before sending it
		claimed = campaign_recipients.claim_next(self.session.name, row, ACCOUNT)
		self.assertTrue(claimed)
		campaign_api.pause(name)
		self.assertIsNone(campaign_recipients.claim_next(self.session.name, row, ACCOUNT))
		self.online()
		outbox.flush(self.session.name, outbox.PACE_QUEUE)
		self.assertEqual(self.new_sent(), [])  # paused: not even the claimed one
		campaign_api.resume(name)
		with self.assertRaises(frappe.ValidationError):
			campaign_api.resume(name)  # only a paused campaign resumes
		self.drain()
		numbers = [m.get("to", "").lstrip("+") for m in self.new_sent()]
		self.assertEqual(len(numbers), 4)
		self.assertEqual(len(set(numbers)), 4)
		self.assertEqual(frappe.db.get_value(campaigns.CAMPAIGN, name, "status"), campaigns.COMPLETED)

	def test_a_reply_marks_the_recipient_replied(self):
		self.lead("R", f"+{CUSTOMER}")
		name = self.campaign()
		self.started(name)
		self.drain()
		self.inbound("camp-reply-1", "¡Gracias!")
		self.assertEqual(self.recipients(name)["R"][0], campaign_recipients.REPLIED)

	def test_cancel_skips_the_rest(self):
		for i in range(3):
			self.lead(f"X{i}", f"+34 611 000 4{i}1")
		name = self.campaign()
		self.offline()
		self.started(name)
		campaign_api.cancel(name)
		self.online()
		outbox.flush(self.session.name, outbox.PACE_QUEUE)
		self.assertEqual(self.new_sent(), [])
		self.assertEqual({s for s, _r in self.recipients(name).values()}, {campaigns.SKIPPED})

	def test_bad_campaigns_are_refused(self):
		with self.assertRaises(frappe.ValidationError):
			self.campaign("Hola {frist_name}")
		with self.assertRaises(frappe.ValidationError):
			self.campaign("x" * 5000)
		with self.assertRaises(frappe.ValidationError):
			self.campaign(start_at=add_to_date(now_datetime(), hours=-1))

	def test_a_pasted_list_reads_local_numbers_and_keeps_each_once(self):
		pasted = "\n".join(["+34 611 000 501"] * 5000 + ["611000502", "no es un número"])
		name = self.campaign(source=campaigns.PASTED, pasted_numbers=pasted, filters=None)
		self.started(name)
		rows = frappe.get_all(
			campaigns.RECIPIENT,
			filters={"campaign": name},
			fields=["status", "skip_reason", "number"],
		)
		waiting = sorted(r.number for r in rows if r.status == campaigns.WAITING)
		self.assertEqual(waiting, ["34611000501", "34611000502"])
		self.assertEqual(sum(1 for r in rows if r.skip_reason == lists.DUPLICATE), 4999)
		self.assertEqual(sum(1 for r in rows if r.skip_reason == lists.INVALID_NUMBER), 1)

	def test_who_may_run_campaigns(self):
		name = self.campaign()
		agent = make_user("wasend-agent@example.com", ["Sales User"])
		manager = make_user("wasend-manager@example.com", ["Sales Manager"])
		with self.set_user(agent), self.assertRaises(frappe.PermissionError):
			campaign_api.start(name)
		with self.set_user(manager):
			self.assertEqual(campaign_api.progress(name)["status"], campaigns.DRAFT)


class TestBanWatch(SendingFixture):
	def test_logged_out_after_a_burst_pauses_campaigns_and_tells_the_managers(self):
		self.lead("B", "+34 611 000 601")
		name = self.campaign()
		self.offline()  # nothing sends meanwhile: this test is about what the watch does
		self.started(name)
		frappe.db.set_value(campaigns.CAMPAIGN, name, "status", campaigns.RUNNING)
		for i in range(banwatch.signs.BURST):
			doc = self.outgoing(f"burst {i}", to=f"+34 611 000 7{i:02d}")
			frappe.db.set_value(provider.MESSAGE, doc.name, pacing.SENT_AT, now_datetime())
		manager = make_user("wasend-wamanager@example.com", ["WhatsApp Manager"])
		history.record(self.session.name, "Connected", "QR Ready", history.WATCHER)
		self.assertEqual(frappe.db.get_value(campaigns.CAMPAIGN, name, "status"), campaigns.PAUSED)
		self.assertIn("logged", frappe.db.get_value(campaigns.CAMPAIGN, name, "paused_reason"))
		self.assertTrue(
			frappe.db.exists("Notification Log", {"for_user": manager, "document_name": self.session.name})
		)
		self.assertTrue(
			frappe.db.exists(history.EVENT, {"session": self.session.name, "gateway_status": "ban_watch"})
		)
		# once per incident
		history.record(self.session.name, "Connected", "QR Ready", history.WATCHER)
		self.assertEqual(
			frappe.db.count("Notification Log", {"for_user": manager, "document_name": self.session.name}), 1
		)
