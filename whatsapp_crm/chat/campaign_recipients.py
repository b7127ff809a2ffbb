"""A campaign's recipients on their way out: claimed one at a time by a number's outbox, checked on WhatsApp
just ahead, and followed through the message's receipts to a reply. The campaign's life (start, pause,
resume, cancel, progress) is ``chat/campaigns.py``; docs/messaging.md, "Campaigns".
"""

from __future__ import annotations

import html
import json
import mimetypes

import frappe
from frappe.utils import now_datetime

from whatsapp_crm.chat import placeholders, provider
from whatsapp_crm.gateway.errors import GatewayError, NotSupported
from whatsapp_crm.gateway.phones import with_plus
from whatsapp_crm.gateway_records.config import client_for
from whatsapp_crm.integration import logger
from whatsapp_crm.sending import recipients as lists
from whatsapp_crm.sending import templates

CAMPAIGN, RECIPIENT, NUMBER = "WhatsApp Campaign", "WhatsApp Campaign Recipient", "WhatsApp Campaign Number"
OPT_OUT, BLOCKED_NUMBER = "WhatsApp Opt Out", "WhatsApp Blocked Number"
DRAFT, PREPARING, SCHEDULED, RUNNING = "Draft", "Preparing", "Scheduled", "Running"
PAUSED, COMPLETED, CANCELLED = "Paused", "Completed", "Cancelled"
WAITING, SENDING, SENT, DELIVERED, READ = "Waiting", "Sending", "Sent", "Delivered", "Seen"
REPLIED, FAILED, SKIPPED = "Replied", "Failed", "Skipped"
CANCELLED_REASON = "cancelled"
CAMPAIGN_FIELD, RECIPIENT_FIELD = "gateway_campaign", "gateway_campaign_recipient"
CHECK_BATCH = 20  # numbers checked on WhatsApp per gateway call, just ahead of sending
CHECK_TIMEOUT_S = 10.0
# A message's status -> its recipient's; a recipient never moves back (a late receipt after a reply).
FROM_MESSAGE = {"sent": SENT, "delivered": DELIVERED, "read": READ, "failed": FAILED}
EARLIER = {
	SENT: (SENDING,),
	DELIVERED: (SENDING, SENT),
	READ: (SENDING, SENT, DELIVERED),
	FAILED: (SENDING,),
	REPLIED: (SENT, DELIVERED, READ),
}


def add_indexes() -> None:
	frappe.db.add_index(RECIPIENT, ["campaign", "status", "seq"])
	frappe.db.add_index(RECIPIENT, ["number", "status"])


def sessions_of(campaign: str) -> list[str]:
	return frappe.get_all(NUMBER, filters={"parent": campaign, "parenttype": CAMPAIGN}, pluck="session")


def changed(campaign: str) -> None:
	"""The open campaign form reloads its progress (one query)."""
	frappe.publish_realtime(
		"whatsapp_campaign_progress",
		{"campaign": campaign},
		doctype=CAMPAIGN,
		docname=campaign,
		after_commit=True,
	)


def running_for(session: str) -> list[str]:
	"""The Running campaigns this number sends for, oldest start first."""
	return frappe.db.sql_list(
		f"""select c.name from `tab{CAMPAIGN}` c join `tab{NUMBER}` n
		on n.parent = c.name and n.parenttype = %s and n.parentfield = 'numbers'
		where n.session = %s and c.status = %s order by c.started_at, c.creation""",
		(CAMPAIGN, session, RUNNING),
	)


def is_running(campaign: str | None) -> bool:
	return bool(campaign) and frappe.db.get_value(CAMPAIGN, campaign, "status") == RUNNING


# -- claiming the next recipient -----------------------------------------------------------------------------


def claim_next(session: str, row, account: str) -> str | None:
	"""The next recipient of a Running campaign this number sends for, made a queued WhatsApp Message in the
	commit that marks it Sending; None when there is none."""
	for campaign in running_for(session):
		for _round in range(CHECK_BATCH + 2):
			found = _lock_next(campaign)
			if not found:
				frappe.db.commit()  # nosemgrep: release the lock before the gateway is asked
				if _check_ahead(campaign, session, row):
					continue
				complete_if_done(campaign)
				break
			if _opted_out(campaign, found.number):
				_skip(found.name, lists.OPTED_OUT, session)
				continue
			name = _make_message(campaign, found, session, account)
			frappe.db.sql(
				f"update `tab{RECIPIENT}` set status=%s, session=%s, message=%s, modified=%s where name=%s",
				(SENDING, session, name, now_datetime(), found.name),
			)
			frappe.db.commit()  # nosemgrep: the recipient and its message exist together, or neither
			changed(campaign)
			return name
	return None


def _lock_next(campaign: str):
	rows = frappe.db.sql(
		f"""select name, number, reference_doctype, reference_name from `tab{RECIPIENT}`
		where campaign = %s and status = %s and checked = 1 order by seq limit 1 for update skip locked""",
		(campaign, WAITING),
		as_dict=True,
	)
	return rows[0] if rows else None


def _skip(name: str, reason: str, session: str | None = None) -> None:
	frappe.db.sql(
		f"update `tab{RECIPIENT}` set status=%s, skip_reason=%s, session=%s, modified=%s where name=%s",
		(SKIPPED, reason, session, now_datetime(), name),
	)
	frappe.db.commit()  # nosemgrep


def _opted_out(campaign: str, number: str) -> bool:
	return bool(
		frappe.db.exists(
			OPT_OUT, {"session": ("in", sessions_of(campaign)), "number": number, "opted_out": 1}
		)
	)


def _check_ahead(campaign: str, session: str, row) -> bool:
	"""Check the next numbers on WhatsApp through the gateway; False when none was left to check. A gateway
	that cannot check (or fails to) lets them through: the send itself then says "not on WhatsApp"."""
	rows = frappe.get_all(
		RECIPIENT,
		filters={"campaign": campaign, "status": WAITING, "checked": 0},
		fields=["name", "number"],
		order_by="seq asc",
		limit=CHECK_BATCH,
	)
	if not rows:
		return False
	found: dict = {}
	try:
		with client_for(session) as client:
			found = client.check_numbers(row.session_id, [r.number for r in rows], timeout=CHECK_TIMEOUT_S)
	except NotSupported:
		pass
	except GatewayError as e:
		logger().info("op=campaign campaign=%s session=%s check failed code=%s", campaign, session, e.code)
	now = now_datetime()
	for r in rows:
		check = found.get(r.number)
		if check is not None and not check.exists:
			frappe.db.sql(
				f"""update `tab{RECIPIENT}` set status=%s, skip_reason=%s, checked=1, session=%s, modified=%s
				where name=%s and status=%s""",
				(SKIPPED, lists.NOT_ON_WHATSAPP, session, now, r.name, WAITING),
			)
		else:
			frappe.db.sql(f"update `tab{RECIPIENT}` set checked=1, modified=%s where name=%s", (now, r.name))
	frappe.db.commit()  # nosemgrep
	changed(campaign)
	return True


def _make_message(campaign: str, recipient, session: str, account: str) -> str:
	text, attach = frappe.db.get_value(CAMPAIGN, campaign, ["message", "attach"])
	shown = templates.render(
		text or "", placeholders.values_for(recipient.reference_doctype, recipient.reference_name)
	)
	doc = frappe.new_doc(provider.MESSAGE)
	doc.flags.gateway_session = session
	doc.flags.gateway_system_send = True  # checked when the campaign was started, by whoever started it
	doc.flags.gateway_no_flush = True  # the outbox that claimed it sends it next
	doc.update(
		{
			"type": "Outgoing",
			"to": with_plus(recipient.number),
			# the field holds HTML (CRM renders it): the text, markup and all, stays text
			"message": html.escape(shown, quote=False),
			"content_type": _content_type(attach),
			"attach": attach,
			"whatsapp_account": account,
			"reference_doctype": recipient.reference_doctype if recipient.reference_name else None,
			"reference_name": recipient.reference_name or None,
			CAMPAIGN_FIELD: campaign,
			RECIPIENT_FIELD: recipient.name,
		}
	)
	doc.insert(ignore_permissions=True)
	return doc.name


def _content_type(attach: str | None) -> str:
	if not attach:
		return "text"
	kind = (mimetypes.guess_type(attach)[0] or "").split("/")[0]
	return kind if kind in ("image", "video", "audio") else "document"


# -- what the outbox noted about waiting ---------------------------------------------------------------------


def _wait_key(session: str) -> str:
	return frappe.cache.make_key(f"whatsapp_crm:campaign:wait:{session}")


def note_wait(session: str, reason: str | None, at) -> None:
	frappe.cache.set(_wait_key(session), json.dumps({"reason": reason, "at": str(at)}), ex=3600)


def clear_wait(session: str) -> None:
	frappe.cache.delete(_wait_key(session))


def noted_wait(session: str) -> dict | None:
	raw = frappe.cache.get(_wait_key(session))
	if not raw:
		return None
	note = json.loads(raw)
	return {"reason": note.get("reason"), "at": frappe.utils.get_datetime(note.get("at"))}


# -- following the messages ----------------------------------------------------------------------------------


def on_message_change(doc, method: str | None = None) -> None:
	"""WhatsApp Message on_update: a campaign message's receipts move its recipient forward."""
	recipient = doc.get(RECIPIENT_FIELD)
	status = FROM_MESSAGE.get(doc.status or "")
	if not recipient or not status:
		return
	values = {"status": status, "modified": now_datetime()}
	if status == SENT:
		values["sent_at"] = doc.get("gateway_sent_at") or now_datetime()
	moved = _move(recipient, status, values)
	if moved:
		changed(doc.get(CAMPAIGN_FIELD))
		if status in (SENT, FAILED):
			complete_if_done(doc.get(CAMPAIGN_FIELD))


def _move(recipient: str, status: str, values: dict) -> bool:
	sets = ", ".join(f"`{k}` = %({k})s" for k in values)
	frappe.db.sql(
		f"update `tab{RECIPIENT}` set {sets} where name = %(name)s and status in %(earlier)s",
		{**values, "name": recipient, "earlier": EARLIER[status]},
	)
	return frappe.db._cursor.rowcount > 0


def on_incoming(doc, method: str | None = None) -> None:
	"""WhatsApp Message after_insert: a customer who writes after a campaign message has replied to it."""
	if doc.type != "Incoming" or not doc.get("from"):
		return
	session = provider.session_for_account(doc.whatsapp_account)
	if not session:
		return
	rows = frappe.get_all(
		RECIPIENT,
		filters={
			"number": doc.get("from").lstrip("+"),
			"status": ("in", EARLIER[REPLIED]),
			"session": session,
		},
		fields=["name", "campaign"],
		limit=20,
	)
	for r in rows:
		if _move(r.name, REPLIED, {"status": REPLIED, "modified": now_datetime()}):
			changed(r.campaign)


def complete_if_done(campaign: str | None) -> None:
	"""A Running campaign with no recipient waiting or being sent is Completed."""
	if not campaign or frappe.db.exists(
		RECIPIENT, {"campaign": campaign, "status": ("in", [WAITING, SENDING])}
	):
		return
	frappe.db.sql(
		f"update `tab{CAMPAIGN}` set status=%s, finished_at=%s, modified=%s where name=%s and status=%s",
		(COMPLETED, now_datetime(), now_datetime(), campaign, RUNNING),
	)
	if frappe.db._cursor.rowcount:
		changed(campaign)
