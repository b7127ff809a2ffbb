"""Webhook events parked for a job: the raw body of a verified event that could not be stored when it came
(a burst, a lock held too long, a deadlock, Redis restarting, any bug) is kept as a *WhatsApp Parked Event*
with one plain INSERT, and ``replay_parked`` applies them in arrival order (12 tries with back-off, then
Failed with one Error Log entry). docs/messaging.md, "Webhook answers"."""

from __future__ import annotations

import time

import frappe
from frappe.utils import add_to_date, now_datetime

from whatsapp_crm.chat import provider
from whatsapp_crm.chat.inbound import apply_event, rollback, short_lock_wait
from whatsapp_crm.gateway.adapters import parse_webhook
from whatsapp_crm.gateway.policies import WEBHOOKS
from whatsapp_crm.gateway.webhook import WebhookRejected
from whatsapp_crm.gateway_records.config import PARKED
from whatsapp_crm.integration import logger

TITLE_PARKED = "WhatsApp Webhook Parked"
MAX_REPLAYS = WEBHOOKS.max_replays
JOB_ID = "whatsapp_crm:webhook:replay"
WAKE_KEY = "whatsapp_crm:webhook:replay:woken"


def park(body: bytes, event, gateway: str, error: Exception | None) -> str | None:
	"""Keep the verified body for the replay job: the parked event's name, or None when even that failed
	(then the gateway is asked to retry). ``error`` None: parked because the site is busy."""
	kind = type(error).__name__ if error is not None else "busy"
	name = frappe.generate_hash(length=12)
	now = now_datetime()
	try:
		# One plain INSERT (no document hooks to run): a burst is answered at the cost of writing it down.
		frappe.db.sql(
			f"""insert into `tab{PARKED}` (name, creation, modified, owner, modified_by, docstatus, idx,
			status, gateway, gateway_type, session_id, event_kind, attempts, next_try_at, last_error, body)
			values (%(name)s, %(now)s, %(now)s, %(user)s, %(user)s, 0, 0, 'Pending', %(gateway)s, %(type)s,
			%(session)s, %(kind)s, %(attempts)s, %(now)s, %(error)s, %(body)s)""",
			{
				"name": name,
				"now": now,
				"user": frappe.session.user,
				"gateway": gateway,
				"type": event.gateway_type,
				"session": event.session_id,
				"kind": event.kind,
				"attempts": 0 if error is None else 1,
				"error": f"{kind}: {str(error)[:500]}" if error is not None else None,
				"body": body.decode("utf-8", "replace"),
			},
		)
		frappe.db.commit()  # nosemgrep: the event must survive whatever follows
	except Exception:
		rollback()
		logger().warning("webhook session=%s parking failed (%s)", event.session_id, kind, exc_info=True)
		return None
	log = logger().info if error is None else logger().warning
	log("webhook session=%s event=%s parked as %s (%s)", event.session_id, event.kind, name, kind)
	_wake_replay()
	return name


def _wake_replay() -> None:
	"""Queue the replay job once for a burst (not once an event): the job runs until nothing is due."""
	try:
		if frappe.cache.set(frappe.cache.make_key(WAKE_KEY), 1, nx=True, ex=60):
			frappe.enqueue(
				"whatsapp_crm.chat.parked.replay_parked", queue="short", job_id=JOB_ID, deduplicate=True
			)
	except Exception:
		logger().warning("webhook: replay job not queued (Redis away?): the scheduler's minute applies it")


def replay_parked(limit: int = 200, budget_s: float = 240.0) -> dict:
	"""Job (and scheduler, every minute): apply parked events, oldest first, until none is due or the
	budget is spent; each try commits on its own."""
	stats = {"applied": 0, "again": 0, "failed": 0, "refused": 0}
	started = time.monotonic()
	seen: set[str] = set()
	woken = False
	while time.monotonic() - started < budget_s:
		names = [
			n
			for n in frappe.get_all(
				PARKED,
				filters={"status": "Pending", "next_try_at": ("<=", now_datetime())},
				pluck="name",
				order_by="creation asc",
				limit=limit,
			)
			if n not in seen
		]
		if not names:
			if woken:
				break
			# Events parked from now on queue a new job; one parked just before is seen in the last round.
			frappe.cache.delete(frappe.cache.make_key(WAKE_KEY))
			woken = True
			continue
		taken = _replay(names, stats)
		seen.update(taken)
		if not taken:
			time.sleep(0.2)  # all held by another replayer (the job, or the scheduler's run): wait for them
	if seen:
		logger().info("op=webhook_replay %s", " ".join(f"{k}={v}" for k, v in stats.items()))
	return stats


def _replay(names: list[str], stats: dict) -> list[str]:
	"""Apply these parked events, each in its own transaction; returns those this run took. One that another
	replayer holds is skipped (its row is locked until that one commits), never applied twice at once."""
	taken = []
	for name in names:
		if not frappe.db.sql(
			f"select name from `tab{PARKED}` where name=%s and status='Pending' for update skip locked",
			(name,),
		):
			continue
		taken.append(name)
		doc = frappe.get_doc(PARKED, name)
		try:
			event = parse_webhook(doc.body.encode("utf-8"))
			with short_lock_wait():
				result = apply_event(event, doc.gateway or "")
			if result.get("stored"):
				# Its place in the conversation is when it arrived, not when the job stored it.
				frappe.db.set_value(
					provider.MESSAGE, result["stored"], "creation", doc.creation, update_modified=False
				)
		except WebhookRejected as e:
			rollback()
			frappe.db.set_value(PARKED, name, {"status": "Failed", "last_error": e.code})
			stats["refused"] += 1
		except Exception as e:
			rollback()
			attempts = (doc.attempts or 0) + 1
			failed = attempts >= MAX_REPLAYS
			frappe.db.set_value(
				PARKED,
				name,
				{
					"attempts": attempts,
					"status": "Failed" if failed else "Pending",
					"next_try_at": add_to_date(now_datetime(), seconds=WEBHOOKS.replay_wait_s(attempts)),
					"last_error": f"{type(e).__name__}: {str(e)[:500]}",
				},
			)
			if failed:
				frappe.log_error(
					title=TITLE_PARKED,
					message=f"parked event: {name}\nsession: {doc.session_id}\nevent: {doc.event_kind}\n"
					f"attempts: {attempts}\nerror: {type(e).__name__}: {str(e)[:500]}",
					reference_doctype=PARKED,
					reference_name=name,
				)
				stats["failed"] += 1
			else:
				stats["again"] += 1
		else:
			frappe.delete_doc(PARKED, name, ignore_permissions=True, force=True)
			stats["applied"] += 1
		frappe.db.commit()  # nosemgrep: one event at a time, whatever the next one does
	return taken
