"""The WhatsApp inbox page's API (``/app/whatsapp-inbox``): Frappe's checks, then the ``whatsapp_crm.chat``
module that does the work.

Every call opens a conversation only if the user may see it (the same refusal for one that does not exist).
"""

from __future__ import annotations

import json

import frappe
from frappe import _
from frappe.utils import cint

from whatsapp_crm.chat import context as crm_context
from whatsapp_crm.chat import files, inbox, leads, notes, presence, provider
from whatsapp_crm.chat import quick_replies as replies
from whatsapp_crm.chat import search as message_search
from whatsapp_crm.chat import status as conversation_status
from whatsapp_crm.gateway.messaging import MAX_CAPTION_CHARS
from whatsapp_crm.inbox import files as file_rules

PAGE_MAX = 50
THREAD_MAX = 100
REPLY_MAX = 4096
UPLOAD_MAX = 17 * 1024 * 1024  # read no further: over every kind's limit


@frappe.whitelist(methods=["GET", "POST"])
def conversations_page(
	scope: str = "all",
	account: str | None = None,
	search: str | None = None,
	start: int = 0,
	limit: int = 20,
	status: str = "Open",
) -> dict:
	"""One page of conversations, newest first: scope ``mine``, ``unassigned`` or ``all``; by number; by
	status (``all`` for every one); a search by name or number. With the counts by status."""
	if scope not in ("all", "mine", "unassigned"):
		frappe.throw(_("Unknown filter {0}.").format(frappe.bold(frappe.utils.escape_html(scope[:20]))))
	if status != "all" and status not in conversation_status.STATUSES:
		frappe.throw(_("Unknown status {0}.").format(frappe.bold(frappe.utils.escape_html(str(status)[:20]))))
	limit = max(1, min(cint(limit) or 20, PAGE_MAX))
	return inbox.page(frappe.session.user, scope, account, search, max(0, cint(start)), limit, status)


@frappe.whitelist(methods=["GET", "POST"])
def search_messages(text: str, start: int = 0, limit: int = 20) -> dict:
	"""Messages whose text has these words, in the conversations the user may see, newest first."""
	limit = max(1, min(cint(limit) or 20, PAGE_MAX))
	return message_search.messages(inbox.visible(), text or "", max(0, cint(start)), limit)


@frappe.whitelist(methods=["GET", "POST"])
def thread(conversation: str, before: str | None = None, limit: int = 50, around: str | None = None) -> dict:
	"""The conversation's messages, newest last (``before``: older ones; ``around``: at a message), its
	private notes, marked read for this user."""
	row = inbox.conversation_for(conversation)
	limit = max(1, min(cint(limit) or 50, THREAD_MAX))
	messages = inbox.thread_messages(row, before, limit, around)
	if not before:
		inbox.mark_read(row, frappe.session.user)
	return {
		"conversation": row,
		"messages": messages,
		"notes": notes.for_thread(row),
		"more": len(messages) == limit,
		"limits": file_rules.limits(),
	}


@frappe.whitelist(methods=["POST"])
def mark_read(conversation: str) -> dict:
	"""This user has read the conversation up to now."""
	inbox.mark_read(inbox.conversation_for(conversation), frappe.session.user)
	return {"unread": 0}


@frappe.whitelist(methods=["POST"])
def set_status(conversation: str, status: str, until: str | None = None) -> dict:
	"""Open, Pending, Snoozed (``until``: 1h, 3h, tomorrow, next_week, reply, or a time) or Resolved."""
	row = inbox.conversation_for(conversation)
	return conversation_status.set_status(row, status, until)


@frappe.whitelist(methods=["POST"])
def reply(conversation: str, text: str = "", file: str | None = None) -> dict:
	"""Send through the conversation's number, with an uploaded file or not: queued like a message from CRM's
	tab (the outbox sends it)."""
	row = inbox.conversation_for(conversation)
	text = (text or "").strip()
	attached = files.attached(row, file, frappe.session.user) if file else None
	if not text and not attached:
		frappe.throw(_("Write a message first."), title=_("Empty message"))
	if attached and len(text) > MAX_CAPTION_CHARS:
		frappe.throw(_("A caption under a file holds at most 1024 characters."), title=_("Message too long"))
	if len(text) > REPLY_MAX:
		frappe.throw(_("A WhatsApp message holds at most 4096 characters."), title=_("Message too long"))
	provider.check_can_send(row.whatsapp_account)
	sent = inbox.queue_reply(row, text, attached)
	inbox.mark_read(row, frappe.session.user)
	return {"name": sent.name, "status": sent.status}


@frappe.whitelist(methods=["POST"])
def upload(conversation: str | None = None) -> dict:
	"""An agent's file for a reply (multipart ``file``): checked against WhatsApp's limits before it is
	stored; nothing is kept when it is refused."""
	row = inbox.conversation_for(conversation or frappe.form_dict.get("conversation"))
	provider.check_can_send(row.whatsapp_account)
	sent = frappe.request.files.get("file") if frappe.request and frappe.request.files else None
	if sent is None:
		frappe.throw(_("Choose a file to attach."), title=_("No file"))
	data = sent.stream.read(UPLOAD_MAX + 1)
	return files.upload(row, data, sent.filename or "", sent.mimetype)


@frappe.whitelist(methods=["GET"])
def media(message: str, thumb: int = 0) -> None:
	"""A message's file, for users who may read its conversation (a thumbnail for images with ``thumb``)."""
	row = files.message_for_media(message)
	number = row.get("from") if row.type == "Incoming" else row.get("to")
	conversation = frappe.db.get_value(
		inbox.CONVERSATION,
		{"whatsapp_account": row.whatsapp_account, "number": "+" + (number or "").lstrip("+")},
		["name", "reference_doctype", "reference_name"],
		as_dict=True,
	)
	if not conversation or not inbox.may_read(conversation):
		raise frappe.PermissionError(_("You cannot open this file."))
	files.serve(row, bool(cint(thumb)))


@frappe.whitelist(methods=["GET", "POST"])
def quick_replies(conversation: str, search: str = "") -> list[dict]:
	"""The quick replies this user may use, filled from the conversation's Lead, Deal or Contact."""
	row = inbox.conversation_for(conversation)
	return replies.offered(row, search, frappe.session.user)


@frappe.whitelist(methods=["POST"])
def add_note(conversation: str, text: str, mentions: str | list | None = None) -> dict:
	"""A private note for the team (a Comment on the Lead, Deal or Contact); never sent to the customer."""
	row = inbox.conversation_for(conversation)
	if isinstance(mentions, str):
		try:
			mentions = json.loads(mentions or "[]")
		except ValueError:
			mentions = []
	name = notes.add(row, text, mentions if isinstance(mentions, list) else [], frappe.session.user)
	inbox.conversations.announce(row.whatsapp_account, row.number)
	return {"name": name}


@frappe.whitelist(methods=["POST"])
def assign(conversation: str, user: str | None = None) -> dict:
	"""Assign the conversation's Lead, Deal or Contact to a teammate (to me without ``user``)."""
	row = inbox.conversation_for(conversation)
	user = user or frappe.session.user
	if not row.reference_name:
		frappe.throw(
			_("Create a Lead for this conversation first, then assign it."), title=_("Nothing to assign")
		)
	if not frappe.db.get_value("User", {"name": user, "enabled": 1, "user_type": "System User"}):
		frappe.throw(
			_("{0} is not an active user.").format(frappe.bold(frappe.utils.escape_html(user[:140])))
		)
	inbox.assign_to(row, user)
	return {"assignee": user}


@frappe.whitelist(methods=["POST"])
def assign_to_me(conversation: str) -> dict:
	return assign(conversation)


@frappe.whitelist(methods=["POST"])
def unassign(conversation: str, user: str) -> dict:
	row = inbox.conversation_for(conversation)
	if not row.reference_name:
		return {"assignee": None}
	inbox.unassign(row, user)
	return {"assignee": inbox.conversations.assignee_of(row.reference_doctype, row.reference_name)}


@frappe.whitelist(methods=["GET", "POST"])
def users(search: str = "") -> list[dict]:
	"""Teammates to assign to or mention."""
	return inbox.teammates(search)


@frappe.whitelist(methods=["POST"])
def viewing(conversation: str) -> dict:
	"""This user has the conversation open (every 20 s); the others who do."""
	inbox.conversation_for(conversation)
	return {"viewers": presence.seen(conversation, frappe.session.user)}


@frappe.whitelist(methods=["POST"])
def stop_viewing(conversation: str) -> dict:
	presence.left(conversation, frappe.session.user)
	return {}


@frappe.whitelist(methods=["GET", "POST"])
def context(conversation: str) -> dict:
	"""The CRM beside the thread: the Lead or Deal, the person's other conversations, the opt-out."""
	row = inbox.conversation_for(conversation)
	return context_panel(row)


def context_panel(row) -> dict:
	return crm_context.panel(row, inbox.visible())


@frappe.whitelist(methods=["POST"])
def set_reference_status(conversation: str, status: str) -> dict:
	row = inbox.conversation_for(conversation)
	crm_context.set_status(row, status)
	return context_panel(row)


@frappe.whitelist(methods=["POST"])
def convert_to_deal(conversation: str) -> dict:
	row = inbox.conversation_for(conversation)
	return {"deal": crm_context.convert(row)}


@frappe.whitelist(methods=["POST"])
def add_task(
	conversation: str, title: str, due_date: str | None = None, assigned_to: str | None = None
) -> dict:
	row = inbox.conversation_for(conversation)
	return {"task": crm_context.add_task(row, title, due_date, assigned_to)}


@frappe.whitelist(methods=["POST"])
def create_lead(conversation: str) -> dict:
	"""A Lead for a conversation that has none (its number was new when the account said Do nothing)."""
	row = inbox.conversation_for(conversation)
	if row.reference_name:
		return {"reference_doctype": row.reference_doctype, "reference_name": row.reference_name}
	if not leads.crm_installed():
		frappe.throw(_("Frappe CRM is not installed on this site."), title=_("No CRM"))
	frappe.has_permission(leads.LEAD, "create", throw=True)
	doctype, name = inbox.lead_for(row)
	return {"reference_doctype": doctype, "reference_name": name}
