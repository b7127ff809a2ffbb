"""Business hours per WhatsApp number (the WhatsApp Session's Business Hours tab) and the automatic replies
they bring: an away message outside the hours, at most once per conversation per day, and a greeting for a
new customer. Both are ordinary queued messages, so the number's sending policy paces and counts them. The
rules are frappe-free (``whatsapp_crm.inbox.hours``); this module reads the session and queues the message.
"""

from __future__ import annotations

import time

import frappe
from frappe import _
from frappe.utils import getdate, now_datetime

from whatsapp_crm.chat import conversations, leads, placeholders, provider
from whatsapp_crm.chat.conversations import CONVERSATION
from whatsapp_crm.inbox import hours
from whatsapp_crm.inbox.errors import InboxError
from whatsapp_crm.sending import templates
from whatsapp_crm.sending.errors import SendingError

SESSION = "WhatsApp Session"
HOURS = "WhatsApp Business Hours"
# A message older than this (recovered by catch-up after an outage) gets no automatic reply: the moment
# for one has passed.
FRESH_S = 600


def ranges_for_session(session: str | None) -> list:
	if not session:
		return []
	rows = frappe.get_all(
		HOURS,
		filters={"parent": session, "parenttype": SESSION},
		fields=["weekday", "opens", "closes"],
		order_by="idx asc",
	)
	try:
		return hours.checked_ranges(rows)
	except InboxError:
		return []  # saved before a check existed: treated as always open rather than failing a webhook


def ranges_for_account(account: str | None) -> list:
	return ranges_for_session(provider.session_for_account(account))


def check_session(doc) -> None:
	"""WhatsApp Session validate: hours that end after they start, automatic replies with known placeholders
	(the values themselves: no network)."""
	try:
		hours.checked_ranges(
			[
				{"weekday": r.weekday, "opens": r.opens, "closes": r.closes}
				for r in doc.get("business_hours") or []
			]
		)
	except InboxError as e:
		row = e.context.get("row")
		if e.code == "HOURS_OUT_OF_ORDER":
			frappe.throw(
				_("Business Hours row {0}: it closes before it opens. Pick a closing time after {1}.").format(
					row, frappe.bold(e.context.get("opens") or "")
				),
				title=_("Business hours out of order"),
			)
		frappe.throw(
			_("Business Hours row {0}: pick a day, an opening and a closing time.").format(row),
			title=_("Business hours incomplete"),
		)
	for field in ("away_message", "greeting_message"):
		try:
			templates.checked(doc.get(field) or "", placeholders.NAMES)
		except SendingError as e:
			label = _(doc.meta.get_label(field))
			if e.code == "UNKNOWN_PLACEHOLDER":
				frappe.throw(
					_("{0}: unknown placeholder {1}. Use one of {2}.").format(
						label,
						frappe.bold("{" + frappe.utils.escape_html(e.context.get("placeholder", "")) + "}"),
						", ".join("{" + n + "}" for n in placeholders.NAMES),
					),
					title=_("Unknown placeholder"),
				)
			frappe.throw(
				_("{0}: a WhatsApp message holds at most 4096 characters.").format(label),
				title=_("Message too long"),
			)


def on_incoming(doc, method: str | None = None) -> None:
	"""WhatsApp Message after_insert: an away message or a greeting, when the number has one and it is due."""
	if doc.type != "Incoming" or doc.content_type == "reaction" or doc.flags.get("opt_out_word"):
		return
	sent_at = doc.flags.get("gateway_timestamp")
	if sent_at and time.time() - sent_at > FRESH_S:
		return
	now = now_datetime()
	session = provider.session_for_account(doc.whatsapp_account)
	if not session:
		return
	texts = frappe.db.get_value(SESSION, session, ["away_message", "greeting_message"], as_dict=True)
	if not texts or not (texts.away_message or texts.greeting_message):
		return
	number = conversations.counterpart(doc)
	if leads.is_blocked(number):
		return
	row = frappe.db.get_value(
		CONVERSATION,
		{"whatsapp_account": doc.whatsapp_account, "number": number},
		["name", "away_sent_on", "incoming_count", "number"],
		as_dict=True,
	)
	if not row:
		return
	kind = hours.auto_reply(
		now,
		ranges_for_session(session),
		is_new=row.incoming_count == 1 and not _wrote_before(doc.whatsapp_account, number),
		away_sent_on=getdate(row.away_sent_on) if row.away_sent_on else None,
		has_greeting=bool(texts.greeting_message),
		has_away=bool(texts.away_message),
	)
	if kind == "away":
		# one a day even with two webhooks at once: the row that moves the date sends
		frappe.db.sql(
			f"""update `tab{CONVERSATION}` set away_sent_on = %s
			where name = %s and ifnull(away_sent_on, '1900-01-01') <> %s""",
			(now.date(), row.name, now.date()),
		)
		if not frappe.db._cursor.rowcount:
			return
	if kind:
		text = texts.away_message if kind == "away" else texts.greeting_message
		queue(
			doc,
			kind,
			templates.render(text, placeholders.values_for(doc.reference_doctype, doc.reference_name)),
		)


def _wrote_before(account: str, number: str) -> bool:
	"""The company wrote to this number first (a campaign, CRM): the customer's answer is no new chat."""
	return bool(
		frappe.db.exists(
			provider.MESSAGE,
			{"whatsapp_account": account, "to": ("in", (number, number.lstrip("+"))), "type": "Outgoing"},
		)
	)


def queue(incoming, kind: str, text: str) -> None:
	if not text.strip():
		return
	doc = frappe.get_doc(
		{
			"doctype": provider.MESSAGE,
			"type": "Outgoing",
			"to": conversations.counterpart(incoming),
			"message": text,
			"content_type": "text",
			"whatsapp_account": incoming.whatsapp_account,
			"reference_doctype": incoming.reference_doctype,
			"reference_name": incoming.reference_name,
		}
	)
	doc.flags.automatic = kind  # not a person's first response (chat/status.py)
	doc.insert(ignore_permissions=True)
