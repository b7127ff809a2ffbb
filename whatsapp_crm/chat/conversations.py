"""The WhatsApp inbox's conversations: one row per company number (WhatsApp Account) and customer number,
kept as messages are stored, so the inbox lists a page of conversations with one indexed query and never
reads every message. A change is announced on ``whatsapp_inbox`` (ids only; the page asks for what it may
see)."""

from __future__ import annotations

import html
import json
import re

import frappe
from frappe.utils import now_datetime

from whatsapp_crm.chat import provider
from whatsapp_crm.gateway.phones import plus_number

CONVERSATION = "WhatsApp Conversation"
READ = "WhatsApp Conversation Read"
EVENT = "whatsapp_inbox"
EXCERPT = 140
_TAGS = re.compile(r"<[^>]+>")
MEDIA_WORDS = {"image": "📷", "video": "🎬", "audio": "🎤", "document": "📄", "reaction": "👍"}


def counterpart(doc) -> str | None:
	return plus_number(doc.get("from") if doc.type == "Incoming" else doc.get("to"))


def excerpt(doc) -> str:
	"""The message as plain text (the stored field is escaped HTML), short; a media marker for files."""
	text = html.unescape(_TAGS.sub(" ", doc.get("message") or "")).strip()
	text = " ".join(text.split())
	if doc.get("content_type") in MEDIA_WORDS and doc.get("content_type") != "text":
		text = f"{MEDIA_WORDS[doc.content_type]} {text}".strip()
	return text[:EXCERPT]


def _title_field(reference_doctype: str) -> str | None:
	if reference_doctype == "Contact":
		return "full_name"
	meta = frappe.get_meta(reference_doctype)
	return meta.title_field or ("lead_name" if meta.has_field("lead_name") else None)


def describe(
	reference_doctype: str | None, reference_name: str | None, fallback: str
) -> tuple[str, str | None]:
	"""(title, assignee) of a conversation's Lead, Deal or Contact, read in one query; (fallback, None)
	without one. The assignee is the first of Frappe's ``_assign``."""
	if not reference_doctype or not reference_name:
		return fallback[:140], None
	field = _title_field(reference_doctype)
	row = (
		frappe.db.get_value(reference_doctype, reference_name, [field or "name", "_assign"], as_dict=True)
		or frappe._dict()
	)
	try:
		people = json.loads(row.get("_assign") or "[]")
	except ValueError:
		people = []
	title = (row.get(field) if field else None) or reference_name
	return title[:140], (people[0] if people else None)


def assignee_of(reference_doctype: str | None, reference_name: str | None) -> str | None:
	return describe(reference_doctype, reference_name, "")[1]


def on_insert(doc, method: str | None = None) -> None:
	"""WhatsApp Message after_insert: the conversation's last message, count and reference (one statement,
	safe under concurrent webhooks)."""
	number, account = counterpart(doc), doc.get("whatsapp_account")
	if not number or not account:
		return
	reference = (doc.get("reference_doctype"), doc.get("reference_name"))
	title, assignee = describe(*reference, doc.get("profile_name") or number)
	at = doc.get("creation") or now_datetime()
	frappe.db.sql(
		f"""insert into `tab{CONVERSATION}` (name, creation, modified, owner, modified_by, docstatus, idx,
			whatsapp_account, number, title, reference_doctype, reference_name, assignee, last_message,
			last_message_at, last_direction, incoming_count, status)
		values (%(name)s, %(now)s, %(now)s, 'Administrator', 'Administrator', 0, 0, %(account)s, %(number)s,
			%(title)s, %(ref_dt)s, %(ref)s, %(assignee)s, %(text)s, %(at)s, %(direction)s, %(incoming)s, %(status)s)
		on duplicate key update
			last_message = if(%(at)s >= ifnull(last_message_at, '1970-01-01'), values(last_message), last_message),
			last_direction = if(%(at)s >= ifnull(last_message_at, '1970-01-01'), values(last_direction), last_direction),
			last_message_at = greatest(ifnull(last_message_at, %(at)s), %(at)s),
			incoming_count = incoming_count + values(incoming_count),
			reference_doctype = if(values(reference_name) is null, reference_doctype, values(reference_doctype)),
			reference_name = ifnull(values(reference_name), reference_name),
			title = if(values(reference_name) is null, title, values(title)),
			assignee = if(values(reference_name) is null, assignee, values(assignee)),
			modified = %(now)s""",
		{
			"name": frappe.generate_hash(length=12),
			"now": now_datetime(),
			"account": account,
			"number": number,
			"title": title,
			"ref_dt": reference[0] if reference[1] else None,
			"ref": reference[1] or None,
			"assignee": assignee,
			"text": excerpt(doc),
			"at": at,
			"direction": doc.type if doc.type in ("Incoming", "Outgoing") else "Incoming",
			"incoming": 1 if doc.type == "Incoming" else 0,
			# begun by the company (a campaign, a first message from CRM): waiting on the customer
			"status": "Open" if doc.type == "Incoming" else "Pending",
		},
	)
	announce(account, number)


def on_change(doc, method: str | None = None) -> None:
	"""WhatsApp Message on_update (ticks, a reference set later): the open inbox reloads what it shows."""
	number, account = counterpart(doc), doc.get("whatsapp_account")
	if number and account and not doc.flags.get("in_insert"):
		announce(account, number)


def announce(account: str, number: str) -> None:
	name = frappe.db.get_value(CONVERSATION, {"whatsapp_account": account, "number": number}, "name")
	if name:
		frappe.publish_realtime(EVENT, {"conversation": name}, after_commit=True)


def set_reference(name: str, reference_doctype: str, reference_name: str) -> None:
	"""A Lead made from the inbox: the conversation and its messages point at it."""
	row = frappe.db.get_value(CONVERSATION, name, ["whatsapp_account", "number"], as_dict=True)
	title, assignee = describe(reference_doctype, reference_name, row.number)
	frappe.db.set_value(
		CONVERSATION,
		name,
		{
			"reference_doctype": reference_doctype,
			"reference_name": reference_name,
			"title": title,
			"assignee": assignee,
		},
		update_modified=False,
	)
	for field in ("from", "to"):
		frappe.db.sql(
			f"""update `tab{provider.MESSAGE}` set reference_doctype=%s, reference_name=%s
			where whatsapp_account=%s and `{field}` in %s and ifnull(reference_name, '')=''""",
			(reference_doctype, reference_name, row.whatsapp_account, (row.number, row.number[1:])),
		)


def on_assignment(doc, method: str | None = None) -> None:
	"""ToDo after_insert / on_update: a Lead's or Deal's assignee is its conversations' assignee."""
	if doc.reference_type not in ("CRM Lead", "CRM Deal", "Contact") or not doc.reference_name:
		return
	frappe.db.set_value(
		CONVERSATION,
		{"reference_doctype": doc.reference_type, "reference_name": doc.reference_name},
		"assignee",
		assignee_of(doc.reference_type, doc.reference_name),
		update_modified=False,
	)
