# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""No customer message lost, on each gateway type's simulator: a catch-up reads back what the webhooks
missed (the receiver was down), stores it once and in order, moves receipts forward, and is visible on the
session; Sync messages needs write permission; a webhook that cannot be stored now is parked, never
refused; the outbox holds messages while the phone is not linked, sends them in order once it is, never
sends a claimed message twice, and adopts a send that reached the gateway before its job died."""

from __future__ import annotations

import time

import frappe
from frappe.utils import add_to_date, now_datetime

from whatsapp_crm.api import webhook
from whatsapp_crm.chat import catchup, inbound, outbox, parked, provider
from whatsapp_crm.chat.test_messages import CUSTOMER, PREFIX, MessagesFixture
from whatsapp_crm.gateway import errors
from whatsapp_crm.gateway.catchup import MARGIN_S
from whatsapp_crm.gateway.messaging import message_id
from whatsapp_crm.gateway_records.config import client_for
from whatsapp_crm.integration import SESSION, get_settings
from whatsapp_crm.sessions import history, sweep
from whatsapp_crm.simulator import SessionOptions
from whatsapp_crm.testing import make_user


class CatchupTests:
	"""The tests, mixed into one class per gateway type (so the fixture's default type does not run them
	a fourth time)."""

	def setUp(self):
		super().setUp()
		self.sim.set_receiver_down(True)  # every webhook of this test is lost on the way
		self.addCleanup(self.sim.set_receiver_down, False)
		frappe.db.delete(parked.PARKED)
		# The simulator keeps earlier tests' messages: this test's catch-ups start at its own first second.
		time.sleep(1.01 - time.time() % 1)
		start = int(time.time())
		state = catchup.dump_state(catchup.SyncState(watermark=start + MARGIN_S))
		frappe.db.set_value(SESSION, self.session.name, "sync_state", state)

	def idle(self, kind: str) -> None:
		"""Wait (bounded) for the site's own workers to finish a job of this session (the scheduler runs
		during the tests: its sweep and catch-up may pick the test's session up)."""
		key = (
			outbox._key("lock", self.session.name)
			if kind == "flush"
			else frappe.cache.make_key(f"whatsapp_crm:catchup:lock:{self.session.name}")
		)
		for _ in range(100):
			if not frappe.cache.get(key):
				return
			time.sleep(0.1)

	def flush(self) -> dict:
		self.idle("flush")
		return outbox.flush(self.session.name)

	def sync(self, reason: str = catchup.BY_HAND) -> dict:
		self.idle("catchup")
		return catchup.sync_session(self.session.name, reason)

	def claim_went_stale(self, doc) -> None:
		"""As if the job that took the claim died a while ago."""
		frappe.db.set_value(
			provider.MESSAGE,
			doc.name,
			outbox.CLAIMED_AT,
			add_to_date(now_datetime(), seconds=-outbox.CLAIM_STALE_S - 5),
			update_modified=False,
		)

	def quiet(self):
		"""Drop the jobs queued for after the commit (the site's own workers would race the test)."""
		frappe.db.after_commit.reset()
		# Realtime events published "after commit" wait in a list whose flush was just dropped: forget it
		# too, or every later test's pushes would wait there forever.
		if hasattr(frappe.local, "_realtime_log"):
			del frappe.local._realtime_log

	def missed(self, texts: list[str]) -> list[str]:
		ids = []
		for text in texts:
			# WAHA names messages by serialized ids; the app stores the WhatsApp key id.
			ids.append(message_id(self.sim.inbound(self.session.session_id, CUSTOMER, text)))
			time.sleep(0.01)
		return ids

	def names_in_order(self) -> list[str]:
		return frappe.get_all(
			provider.MESSAGE,
			filters={"whatsapp_account": self.account.name, "type": "Incoming"},
			pluck="message",
			order_by="creation asc",
		)

	# -- catch-up --

	def test_a_catch_up_recovers_every_missed_message_once_and_in_order(self):
		texts = [f"mensaje {i} <b>perdido</b>" for i in range(7)]
		ids = self.missed(texts)
		self.assertFalse(any(self.stored(i) for i in ids))  # the webhooks never came
		stats = self.sync()
		self.assertEqual((stats["found"], stats["error"], stats["complete"]), (7, None, True))
		self.assertEqual(self.names_in_order(), [frappe.utils.escape_html(t) for t in texts])
		# Run again: nothing is stored twice, and the gateway was asked once.
		self.sim.reset_log()
		again = self.sync()
		self.assertEqual(again["found"], 0)
		self.assertLessEqual(again["pages"], 2)
		self.assertEqual(frappe.db.count(provider.MESSAGE, {"message_id": ("in", ids)}), 7)
		doc = frappe.get_doc(SESSION, self.session.name)
		self.assertTrue(doc.sync_watermark and doc.last_sync_at)
		self.assertEqual((doc.last_sync_found, doc.last_sync_error), (0, None))
		self.assertEqual(doc.recovered_last_7_days, 7)
		events = history.summary(self.session.name)["events"]
		catch_ups = [e for e in events if e["source"] == history.CATCH_UP]
		self.assertEqual(len(catch_ups), 1)  # only the catch-up that found something is recorded
		self.assertIn("7", catch_ups[0]["reason"])

	def test_a_webhook_and_a_catch_up_of_the_same_message_store_it_once(self):
		(mid,) = self.missed(["hola dos veces"])
		self.assertEqual(self.post(self.message_event(mid, "hola dos veces"))[0], 200)
		stats = self.sync()
		self.assertEqual(stats["found"], 0)
		self.assertEqual(frappe.db.count(provider.MESSAGE, {"message_id": mid}), 1)

	def test_receipts_and_phone_typed_messages_come_back_too(self):
		doc = self.outgoing(text="¿Te llamo?")
		self.quiet()
		outbox.send(doc.name)
		doc.reload()
		self.sim.ack(self.session.session_id, doc.message_id, "read")
		typed = message_id(
			self.sim.inbound(self.session.session_id, CUSTOMER, "escrito en el móvil", from_me=True)
		)
		self.sync()
		self.assertEqual(frappe.db.get_value(provider.MESSAGE, doc.name, "status"), "read")
		self.assertEqual(self.stored(typed)["type"], "Outgoing")
		self.assertEqual(frappe.db.count(provider.MESSAGE, {"message_id": doc.message_id}), 1)

	def test_messages_missed_around_a_gateway_restart_come_back_once_it_is_linked_again(self):
		ids = self.missed(["antes del reinicio", "justo antes"])
		self.sim.restart()  # the gateway forgets its sessions and whatever it meant to retry
		with client_for(self.session) as client:
			client.create_session(self.session.session_id)
		self.sim.scan(self.session.session_id, "34911222333")
		self.set_status("Disconnected")
		self.set_status("Connected")  # what the watcher records once the phone is linked again
		self.quiet()
		stats = self.sync(catchup.LINKED)
		self.assertEqual((stats["found"], stats["error"]), (2, None))
		self.assertEqual([self.stored(i)["type"] for i in ids], ["Incoming", "Incoming"])

	def test_a_session_the_gateway_forgot_is_one_incident_with_one_error_log(self):
		with client_for(self.session) as client:  # removed on the gateway while the site thinks it linked
			client.delete_session(self.session.session_id)
			for _ in range(50):  # Evolution removes an instance a moment after it answers
				try:
					client.get_status(self.session.session_id)
				except errors.SessionNotFound:
					break
				time.sleep(0.1)
		self.quiet()
		stats = self.sync(catchup.BY_HAND)
		self.assertEqual(stats["error"], "SESSION_NOT_FOUND")
		entries = frappe.get_all(
			"Error Log", filters={"reference_name": self.session.name}, pluck="method", order_by="creation"
		)
		self.assertEqual(entries, [sweep.TITLE_LOST])  # not also "WhatsApp Catch-up Failed"
		self.assertEqual(frappe.db.get_value(SESSION, self.session.name, "status"), "Disconnected")
		self.sync(catchup.BY_HAND)  # a second run finds the same gone session: still one entry
		self.assertEqual(frappe.db.count("Error Log", {"reference_name": self.session.name}), 1)

	def test_a_session_that_links_again_queues_a_catch_up(self):
		from frappe.utils.background_jobs import is_job_enqueued

		self.set_status("Disconnected")
		self.set_status("Connected")
		frappe.db.after_commit.run()  # what the commit of the status change does
		self.assertTrue(
			is_job_enqueued(catchup.job_id(self.session.name))
			or frappe.db.get_value(SESSION, self.session.name, "last_sync_at")
		)

	def test_a_site_that_was_down_catches_up_every_connected_session(self):
		frappe.db.set_value(SESSION, self.session.name, "last_sync_at", now_datetime())
		now = now_datetime()
		self.assertNotIn(self.session.name, catchup.due_sessions(now, 10, site_back=False))
		self.assertIn(self.session.name, catchup.due_sessions(now, 10, site_back=True))
		later = add_to_date(now, minutes=11)
		self.assertIn(self.session.name, catchup.due_sessions(later, 10, site_back=False))
		self.assertNotIn(self.session.name, catchup.due_sessions(later, 0, site_back=False))  # 0: off

	def test_sync_messages_needs_write_permission(self):
		reader = make_user(f"{PREFIX}reader@example.com", ["Sales User"])
		frappe.share.add_docshare(
			SESSION, self.session.name, reader, read=1, flags={"ignore_share_permission": True}
		)
		manager = make_user(f"{PREFIX}manager@example.com", ["WhatsApp Manager"])
		from whatsapp_crm.api.session import sync_messages

		with self.set_user(reader):
			self.assertRaises(frappe.PermissionError, sync_messages, self.session.name)
		with self.set_user(manager):
			self.assertRaises(frappe.ValidationError, sync_messages, self.session.name, "not a date")
			future = str(add_to_date(now_datetime(), days=1))
			self.assertRaises(frappe.ValidationError, sync_messages, self.session.name, future)
			result = sync_messages(self.session.name, str(add_to_date(now_datetime(), hours=-2)))
		self.assertTrue(result["message"])
		self.quiet()

	# -- webhooks that the gateways will retry --

	def test_a_webhook_that_cannot_be_stored_now_is_parked_then_applied(self):
		from frappe.database import get_db

		mid = "PK" + frappe.generate_hash(length=12).upper()
		frappe.db.commit()  # nosemgrep: the other connection must see the session and the account
		other = get_db(
			host=frappe.conf.db_host or "127.0.0.1",
			port=frappe.conf.db_port,
			user=frappe.conf.db_user or frappe.conf.db_name,
			cur_db_name=frappe.conf.db_name,
			password=frappe.conf.db_password,
		)
		other.connect()
		try:
			# Another transaction holds the very row the webhook would insert (a lock it cannot get now).
			other.sql(
				f"insert into `tab{provider.MESSAGE}` (name, creation, modified) values (%s, now(), now())",
				inbound.gateway_name(self.session.name, mid),
			)
			status, result = self.post(self.message_event(mid, "aparcado"))
		finally:
			other.rollback()
			other.close()
		self.assertEqual(status, 200)  # never a 4xx or 417: Evolution would give up
		self.assertTrue(result.get("parked"), result)
		self.assertFalse(self.stored(mid))
		stats = parked.replay_parked()
		self.assertEqual(stats["applied"], 1)
		self.assertEqual(self.stored(mid)["type"], "Incoming")
		self.assertFalse(frappe.db.count(parked.PARKED))
		self.assertEqual(parked.replay_parked()["applied"], 0)

	def test_a_burst_is_answered_at_once_and_stored_by_the_job_in_arrival_order(self):
		key = frappe.cache.make_key(webhook.INFLIGHT_KEY)
		frappe.cache.set(key, webhook.INLINE_LIMIT)  # as many message events as may be stored at once
		self.addCleanup(frappe.cache.delete, key)
		mids = ["BU" + frappe.generate_hash(length=12).upper() for _ in range(3)]
		answers = [self.post(self.message_event(mid, f"ráfaga {i}")) for i, mid in enumerate(mids)]
		self.assertEqual([status for status, _r in answers], [200, 200, 200])
		self.assertTrue(all(r.get("parked") for _s, r in answers), answers)
		self.assertEqual(int(frappe.cache.get(key)), webhook.INLINE_LIMIT)  # each counted itself out
		self.assertFalse(any(self.stored(mid) for mid in mids))
		frappe.cache.delete(key)
		self.assertEqual(parked.replay_parked()["applied"], 3)
		stored = frappe.get_all(
			provider.MESSAGE,
			filters={"message_id": ("in", mids)},
			pluck="message_id",
			order_by="creation asc",
		)
		self.assertEqual(stored, mids)  # in the order they arrived

	def test_events_that_can_never_succeed_keep_their_4xx(self):
		body = self.message_event("X" + frappe.generate_hash(length=10).upper(), "hola")
		key = (
			"instance"
			if self.gateway_type == "evolution"
			else "session"
			if self.gateway_type == "waha"
			else "sessionId"
		)
		body[key] = "no-such-session"
		self.assertEqual(self.post(body)[0], 404)
		self.assertFalse(frappe.db.count(parked.PARKED))

	# -- the outbox --

	def test_messages_wait_while_offline_and_go_out_in_order_once_linked(self):
		self.set_status("Disconnected")
		docs = [self.outgoing(text=f"en cola {i}") for i in range(3)]
		self.quiet()
		before = self.sim.count("send")
		self.assertEqual(self.flush()["stopped"], outbox.HELD)
		self.assertEqual(self.sim.count("send"), before)
		self.assertEqual(
			{frappe.db.get_value(provider.MESSAGE, d.name, "status") for d in docs}, {outbox.QUEUED}
		)
		self.set_status("Connected")
		self.quiet()
		self.assertEqual(self.flush()["sent"], 3)
		sent = [m["text"] for m in self.sim.sent(self.session.session_id)][-3:]
		self.assertEqual(sent, ["en cola 0", "en cola 1", "en cola 2"])

	def test_a_message_held_too_long_fails_and_is_logged(self):
		self.set_status("Disconnected")
		doc = self.outgoing(text="demasiado tarde")
		self.quiet()
		frappe.db.set_value(
			provider.MESSAGE,
			doc.name,
			"creation",
			add_to_date(now_datetime(), hours=-25),
			update_modified=False,
		)
		self.flush()
		self.assertEqual(frappe.db.get_value(provider.MESSAGE, doc.name, "status"), "failed")
		logs = frappe.get_all("Error Log", filters={"method": outbox.TITLE_SEND}, pluck="error")
		self.assertTrue(any(doc.name in (e or "") for e in logs))

	def test_the_sweep_finds_a_queued_message_whose_job_was_lost(self):
		doc = self.outgoing(text="su tarea se perdió")
		self.quiet()  # as if Redis had been flushed: no job will ever run for it
		frappe.db.set_value(
			provider.MESSAGE,
			doc.name,
			"creation",
			add_to_date(now_datetime(), seconds=-120),
			update_modified=False,
		)
		frappe.cache.delete(outbox._key("dirty", self.session.name))
		self.assertGreaterEqual(outbox.sweep()["sessions"], 1)
		self.quiet()
		self.flush()  # what the job the sweep queued does (or the site's worker, if it got there first)
		self.idle("flush")
		texts = [m["text"] for m in self.sim.sent(self.session.session_id)]
		self.assertEqual(texts.count("su tarea se perdió"), 1)
		self.assertEqual(frappe.db.get_value(provider.MESSAGE, doc.name, "status"), "sent")

	def test_a_claimed_message_is_never_sent_twice(self):
		doc = self.outgoing(text="una sola vez")
		self.quiet()
		self.assertTrue(outbox._take_claim(doc.name, "other-job", ""))
		before = self.sim.count("send")
		self.assertEqual(outbox.send(doc.name), outbox.BUSY)  # another job is sending it
		self.assertEqual(self.sim.count("send"), before)

	def test_a_send_that_reached_the_gateway_before_its_job_died_is_adopted(self):
		doc = self.outgoing(text="enviado y el worker murió")
		self.quiet()
		self.assertTrue(outbox._take_claim(doc.name, "dead-job", ""))
		with client_for(self.session) as client:
			result = outbox.send_with_retries(client, self.session.session_id, outbox._outgoing(doc))
		# Evolution and WAHA tell their own sends back: the webhook stores the echo, no job holding the id.
		echo = self.inbound(result.message_id, text="enviado y el worker murió", from_me=True)
		self.assertTrue(echo.get("stored"), echo)
		self.claim_went_stale(doc)
		before = self.sim.count("send")
		self.assertEqual(outbox.send(doc.name), outbox.SENT_NOW)
		self.assertEqual(self.sim.count("send"), before)  # read back, not sent again
		self.assertEqual(frappe.db.get_value(provider.MESSAGE, doc.name, "message_id"), result.message_id)
		self.assertEqual(
			frappe.db.count(provider.MESSAGE, {"message_id": result.message_id}), 1
		)  # no echo left

	def test_a_claim_whose_job_died_before_sending_is_sent_once(self):
		doc = self.outgoing(text="nunca salió")
		self.quiet()
		self.assertTrue(outbox._take_claim(doc.name, "dead-job", ""))
		self.claim_went_stale(doc)
		before = self.sim.count("send")
		self.assertEqual(outbox.send(doc.name), outbox.SENT_NOW)
		self.assertEqual(self.sim.count("send"), before + 1)
		self.assertEqual(frappe.db.get_value(provider.MESSAGE, doc.name, "status"), "sent")

	def test_a_hanging_gateway_holds_messages_without_holding_the_worker(self):
		first = self.outgoing(text="primero")
		second = self.outgoing(text="segundo")
		self.quiet()
		self.sim.set_scenario(self.session.session_id, SessionOptions(qr_after_s=0, rotate_s=0, fault="hang"))
		self.assertEqual(self.flush()["stopped"], outbox.SUSPECT)
		# The second message does not wait for a timeout of its own: held, queued, with no gateway call.
		calls = len(self.sim.requests)
		self.assertEqual(outbox.send(second.name), outbox.SUSPECT)
		self.assertEqual(len(self.sim.requests), calls)
		self.assertEqual(frappe.db.get_value(provider.MESSAGE, second.name, "status"), outbox.QUEUED)
		self.quiet()
		self.sim.set_scenario(self.session.session_id, SessionOptions(qr_after_s=0, rotate_s=0))
		self.assertTrue(outbox.probe(self.session.name))
		self.quiet()
		self.flush()
		texts = [m["text"] for m in self.sim.sent(self.session.session_id)]
		self.assertEqual((texts.count("primero"), texts.count("segundo")), (1, 1))
		statuses = {frappe.db.get_value(provider.MESSAGE, d.name, "status") for d in (first, second)}
		self.assertEqual(statuses, {"sent"})


class TestCatchupEvolution(CatchupTests, MessagesFixture):
	gateway_type = "evolution"


class TestCatchupWaha(CatchupTests, MessagesFixture):
	gateway_type = "waha"


class TestCatchupBaileys(CatchupTests, MessagesFixture):
	gateway_type = "baileys"
