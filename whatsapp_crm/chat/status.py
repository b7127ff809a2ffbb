"""A conversation's status (Open, Pending, Snoozed, Resolved) and its cycles.

A cycle is one opening of a conversation until it is resolved: the customer's first message (or the first
after Resolved), the team's first answer, the resolution. The reports read cycles, never messages. A
customer's message reopens a Pending, Snoozed or Resolved conversation; a reaction does not (a thumbs-up on
a resolved chat is a thank-you, not a question). A conversation the company started (a campaign, a first
message from CRM) begins Pending: it waits on the customer and does not crowd the Open list.
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import now_datetime

from whatsapp_crm.chat import conversations, hours
from whatsapp_crm.chat.conversations import CONVERSATION
from whatsapp_crm.inbox import snooze
from whatsapp_crm.inbox.errors import InboxError

CYCLE = "WhatsApp Conversation Cycle"
OPEN, PENDING, SNOOZED, RESOLVED = "Open", "Pending", "Snoozed", "Resolved"
STATUSES = (OPEN, PENDING, SNOOZED, RESOLVED)
WAKE_BATCH = 500


def is_automatic(doc) -> bool:
	"""A message no person wrote: a campaign's, an away message or a greeting (not a first response)."""
	return bool(doc.get("gateway_campaign") or doc.flags.get("automatic"))


def on_message(doc, method: str | None = None) -> None:
	"""WhatsApp Message after_insert, after ``conversations.on_insert`` made the row: reopen and open a
	cycle on a customer's message; an agent's first answer is the cycle's first response."""
	number, account = conversations.counterpart(doc), doc.get("whatsapp_account")
	if not number or not account or doc.content_type == "reaction":
		return
	row = frappe.db.get_value(
		CONVERSATION,
		{"whatsapp_account": account, "number": number},
		["name", "status", "cycle", "assignee"],
		as_dict=True,
		for_update=True,
	)
	if not row:
		return
	at = doc.get("creation") or now_datetime()
	if doc.type == "Incoming":
		values = {}
		if row.status != OPEN:
			values.update(status=OPEN, snoozed_until=None, status_changed_at=at)
		if not row.cycle:
			values["cycle"] = open_cycle(row.name, account, number, row.assignee, at)
		if values:
			frappe.db.set_value(CONVERSATION, row.name, values, update_modified=False)
	elif doc.type == "Outgoing" and row.cycle and not is_automatic(doc):
		# from the phone itself (stored from the gateway): answered, by no user of this site
		by = None if doc.flags.get("from_gateway") else doc.owner
		frappe.db.sql(
			f"""update `tab{CYCLE}` set first_response_at = %s, first_response_by = %s
			where name = %s and first_response_at is null""",
			(at, by, row.cycle),
		)


def open_cycle(conversation: str, account: str, number: str, assignee: str | None, at) -> str:
	doc = frappe.get_doc(
		{
			"doctype": CYCLE,
			"conversation": conversation,
			"whatsapp_account": account,
			"number": number,
			"assignee": assignee,
			"opened_at": at,
		}
	)
	doc.insert(ignore_permissions=True)
	return doc.name


def set_status(row, status: str, until: str | None = None, user: str | None = None) -> dict:
	"""Move a conversation to ``status`` (for Snoozed, ``until`` a preset or a time, checked)."""
	if status not in STATUSES:
		frappe.throw(_("Unknown status {0}.").format(frappe.bold(frappe.utils.escape_html(str(status)[:20]))))
	now = now_datetime()
	values = {"status": status, "snoozed_until": None, "status_changed_at": now}
	if status == SNOOZED:
		try:
			values["snoozed_until"] = snooze.parse(
				until or "reply", now, hours.ranges_for_account(row.whatsapp_account)
			)
		except InboxError as e:
			frappe.throw(snooze_message(e), title=_("Cannot snooze"))
	user = user or frappe.session.user
	if status == RESOLVED and row.cycle:
		frappe.db.set_value(
			CYCLE,
			row.cycle,
			{"resolved_at": now, "resolved_by": user, "assignee": row.assignee},
			update_modified=False,
		)
		values["cycle"] = None
	elif status == OPEN and not row.cycle:
		values["cycle"] = open_cycle(row.name, row.whatsapp_account, row.number, row.assignee, now)
	frappe.db.set_value(CONVERSATION, row.name, values, update_modified=False)
	conversations.announce(row.whatsapp_account, row.number)
	return {"status": status, "snoozed_until": values["snoozed_until"]}


def snooze_message(e: InboxError) -> str:
	return {
		"SNOOZE_IN_PAST": _("Pick a time in the future to snooze until."),
		"SNOOZE_TOO_FAR": _("A conversation can be snoozed for at most a year."),
		"UNKNOWN_SNOOZE": _("Unknown snooze choice."),
	}.get(e.code, _("That is not a date and time the inbox understands."))


def wake_snoozed() -> None:
	"""Every minute: snoozed conversations whose time has come are Open again (their cycle never closed)."""
	# plain SQL: Frappe's filters would read an empty time ("until they reply") as long past
	due = frappe.db.sql(
		f"""select name, whatsapp_account, number from `tab{CONVERSATION}`
		where status = %s and snoozed_until is not null and snoozed_until <= %s limit {WAKE_BATCH}""",
		(SNOOZED, now_datetime()),
		as_dict=True,
	)
	for row in due:
		frappe.db.sql(
			f"""update `tab{CONVERSATION}` set status = %s, snoozed_until = null, status_changed_at = %s
			where name = %s and status = %s""",
			(OPEN, now_datetime(), row.name, SNOOZED),
		)
		conversations.announce(row.whatsapp_account, row.number)
	if due:
		frappe.db.commit()
