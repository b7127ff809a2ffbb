"""The WhatsApp inbox page's API (``/app/whatsapp-inbox``): Frappe's checks, then ``whatsapp_crm.chat.inbox``.

Every call opens a conversation only if the user may see it (the same refusal for one that does not exist).
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import cint

from whatsapp_crm.chat import inbox, leads, provider

PAGE_MAX = 50
THREAD_MAX = 100
REPLY_MAX = 4096


@frappe.whitelist(methods=["GET", "POST"])
def conversations_page(
	scope: str = "all", account: str | None = None, search: str | None = None, start: int = 0, limit: int = 20
) -> dict:
	"""One page of conversations, newest first: scope ``mine``, ``unassigned`` or ``all``; by number; a search
	by name or number."""
	if scope not in ("all", "mine", "unassigned"):
		frappe.throw(_("Unknown filter {0}.").format(frappe.bold(frappe.utils.escape_html(scope[:20]))))
	limit = max(1, min(cint(limit) or 20, PAGE_MAX))
	return inbox.page(frappe.session.user, scope, account, search, max(0, cint(start)), limit)


@frappe.whitelist(methods=["GET", "POST"])
def thread(conversation: str, before: str | None = None, limit: int = 50) -> dict:
	"""The conversation's messages, newest last (``before``: older ones), marked read for this user."""
	row = inbox.conversation_for(conversation)
	limit = max(1, min(cint(limit) or 50, THREAD_MAX))
	messages = inbox.thread_messages(row, before, limit)
	if not before:
		inbox.mark_read(row, frappe.session.user)
	return {"conversation": row, "messages": messages, "more": len(messages) == limit}


@frappe.whitelist(methods=["POST"])
def mark_read(conversation: str) -> dict:
	"""This user has read the conversation up to now."""
	inbox.mark_read(inbox.conversation_for(conversation), frappe.session.user)
	return {"unread": 0}


@frappe.whitelist(methods=["POST"])
def reply(conversation: str, text: str) -> dict:
	"""Send through the conversation's number: queued like a message from CRM's tab (the outbox sends it)."""
	row = inbox.conversation_for(conversation)
	text = (text or "").strip()
	if not text:
		frappe.throw(_("Write a message first."), title=_("Empty message"))
	if len(text) > REPLY_MAX:
		frappe.throw(_("A WhatsApp message holds at most 4096 characters."), title=_("Message too long"))
	provider.check_can_send(row.whatsapp_account)
	sent = inbox.queue_reply(row, text)
	inbox.mark_read(row, frappe.session.user)
	return {"name": sent.name, "status": sent.status}


@frappe.whitelist(methods=["POST"])
def assign_to_me(conversation: str) -> dict:
	row = inbox.conversation_for(conversation)
	if not row.reference_name:
		frappe.throw(
			_("Create a Lead for this conversation first, then assign it."), title=_("Nothing to assign")
		)
	inbox.assign_to(row, frappe.session.user)
	return {"assignee": frappe.session.user}


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
