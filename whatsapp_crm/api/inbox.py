"""The WhatsApp inbox (``/app/whatsapp-inbox``): conversations across every linked number, a thread, a reply.

A user sees a conversation only if they may read its Lead, Deal or Contact (Frappe's own permission rules,
as SQL, so that paging stays right), or it has none and they hold one of the roles that may see unassigned
conversations (WhatsApp CRM Settings; Sales Manager and WhatsApp Manager by default). Every text from a
customer is returned as plain text; the page escapes it. Replies go out through the same provider as CRM's
tab: queued, never waiting on the gateway.
"""

from __future__ import annotations

import html

import frappe
from frappe import _
from frappe.model.db_query import DatabaseQuery
from frappe.utils import cint, now_datetime

from whatsapp_crm.chat import conversations, leads, provider
from whatsapp_crm.chat.conversations import CONVERSATION, READ
from whatsapp_crm.integration import SETTINGS

REFERENCE_TYPES = ("CRM Lead", "CRM Deal", "Contact")
DEFAULT_UNASSIGNED_ROLES = ("Sales Manager", "WhatsApp Manager", "System Manager")
PAGE_MAX = 50
THREAD_MAX = 100


def unassigned_roles() -> set[str]:
	settings = frappe.get_cached_doc(SETTINGS)  # its child rows too, from the cache
	roles = {row.role for row in settings.get("inbox_unassigned_roles") or []}
	return roles or set(DEFAULT_UNASSIGNED_ROLES)


def _reference_types() -> list[str]:
	"""The reference doctypes this site has (CRM's only with Frappe CRM), from the cached list of apps."""
	crm = "crm" in frappe.get_installed_apps()
	return [dt for dt in REFERENCE_TYPES if crm or dt == "Contact"]


def visible(user: str | None = None) -> str:
	"""The SQL condition (on alias ``c``) for the conversations ``user`` may see."""
	user = user or frappe.session.user
	if user == "Administrator":
		return "1=1"
	parts = []
	for doctype in _reference_types():
		kind = frappe.db.escape(doctype)
		if frappe.has_permission(doctype, "read", user=user):
			try:
				match = DatabaseQuery(doctype, user=user).build_match_conditions(as_condition=True)
			except frappe.PermissionError:
				continue
			where = f" and ({match})" if match else ""
			parts.append(
				f"(c.reference_doctype = {kind} and exists (select 1 from `tab{doctype}` "
				f"where `tab{doctype}`.name = c.reference_name{where}))"
			)
		else:
			shared = frappe.share.get_shared(doctype, user)
			if shared:
				names = ", ".join(frappe.db.escape(n) for n in shared)
				parts.append(f"(c.reference_doctype = {kind} and c.reference_name in ({names}))")
	if set(frappe.get_roles(user)) & unassigned_roles():
		parts.append("ifnull(c.reference_name, '') = ''")
	return "(" + " or ".join(parts) + ")" if parts else "1=0"


def _row(name: str) -> frappe._dict:
	"""The conversation if the user may see it; a PermissionError otherwise (the same for one that does not
	exist, so nothing is told about it)."""
	rows = frappe.db.sql(
		f"select c.* from `tab{CONVERSATION}` c where c.name = %s and {visible()}", (name,), as_dict=True
	)
	if not rows:
		frappe.throw(_("You cannot open this conversation."), frappe.PermissionError)
	return rows[0]


@frappe.whitelist(methods=["GET", "POST"])
def conversations_page(
	scope: str = "all", account: str | None = None, search: str | None = None, start: int = 0, limit: int = 20
) -> dict:
	"""One page of conversations, newest first: scope ``mine``, ``unassigned`` or ``all``; by number; a search
	by name or number. One query for the page."""
	if scope not in ("all", "mine", "unassigned"):
		frappe.throw(_("Unknown filter {0}.").format(frappe.bold(frappe.utils.escape_html(scope[:20]))))
	user = frappe.session.user
	limit = max(1, min(cint(limit) or 20, PAGE_MAX))
	start = max(0, cint(start))
	where = [visible(user)]
	values: dict = {"user": user, "start": start, "limit": limit + 1}
	if scope == "mine":
		where.append("c.assignee = %(user)s")
	elif scope == "unassigned":
		where.append("ifnull(c.assignee, '') = ''")
	if account:
		where.append("c.whatsapp_account = %(account)s")
		values["account"] = account
	if search and search.strip():
		term = search.strip()[:60].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
		values["search"] = f"%{term}%"  # what the user typed, wildcards included, is matched as text
		where.append("(c.title like %(search)s or c.number like %(search)s)")
	rows = frappe.db.sql(
		f"""select c.name, c.title, c.number, c.whatsapp_account, c.reference_doctype, c.reference_name,
			c.assignee, c.last_message, c.last_message_at, c.last_direction,
			greatest(c.incoming_count - ifnull(r.read_count, 0), 0) as unread
		from `tab{CONVERSATION}` c
		left join `tab{READ}` r on r.conversation = c.name and r.user = %(user)s
		where {" and ".join(where)}
		order by c.last_message_at desc, c.name desc
		limit %(start)s, %(limit)s""",
		values,
		as_dict=True,
	)
	return {"rows": rows[:limit], "more": len(rows) > limit, "start": start}


@frappe.whitelist(methods=["GET", "POST"])
def thread(conversation: str, before: str | None = None, limit: int = 50) -> dict:
	"""The conversation's messages, newest last (``before``: older ones), marked read for this user."""
	row = _row(conversation)
	limit = max(1, min(cint(limit) or 50, THREAD_MAX))
	numbers = (row.number, row.number.lstrip("+"))
	values = {"account": row.whatsapp_account, "numbers": numbers, "limit": limit}
	older = ""
	if before:
		older = " and m.creation < %(before)s"
		values["before"] = before
	messages = frappe.db.sql(
		f"""select * from (
			select m.name, m.type, m.message, m.content_type, m.attach, m.status, m.creation, m.is_reply,
				m.reply_to_message_id, m.message_id, m.owner
			from `tab{provider.MESSAGE}` m
			where m.whatsapp_account = %(account)s and m.`from` in %(numbers)s{older}
			union all
			select m.name, m.type, m.message, m.content_type, m.attach, m.status, m.creation, m.is_reply,
				m.reply_to_message_id, m.message_id, m.owner
			from `tab{provider.MESSAGE}` m
			where m.whatsapp_account = %(account)s and m.`to` in %(numbers)s and m.type = 'Outgoing'{older}
		) t order by t.creation desc limit %(limit)s""",
		values,
		as_dict=True,
	)
	for m in messages:
		m["text"] = html.unescape(m.pop("message") or "")  # stored as escaped HTML; shown as text
	messages.reverse()
	if not before:
		mark_read(conversation)
	return {"conversation": row, "messages": messages, "more": len(messages) == limit}


@frappe.whitelist(methods=["POST"])
def mark_read(conversation: str) -> dict:
	"""This user has read the conversation up to now (per user, not per message)."""
	row = _row(conversation)
	user = frappe.session.user
	frappe.db.sql(
		f"""insert into `tab{READ}` (name, creation, modified, owner, modified_by, docstatus, idx,
			conversation, user, read_count, read_at)
		values (%(name)s, %(now)s, %(now)s, %(user)s, %(user)s, 0, 0, %(c)s, %(user)s, %(count)s, %(now)s)
		on duplicate key update read_count = greatest(read_count, values(read_count)), read_at = values(read_at)""",
		{
			"name": frappe.generate_hash(length=12),
			"now": now_datetime(),
			"user": user,
			"c": row.name,
			"count": row.incoming_count,
		},
	)
	return {"unread": 0}


@frappe.whitelist(methods=["POST"])
def reply(conversation: str, text: str) -> dict:
	"""Send through the conversation's number: queued like a message from CRM's tab (the outbox sends it)."""
	row = _row(conversation)
	text = (text or "").strip()
	if not text:
		frappe.throw(_("Write a message first."), title=_("Empty message"))
	if len(text) > 4096:
		frappe.throw(_("A WhatsApp message holds at most 4096 characters."), title=_("Message too long"))
	provider.check_can_send(row.whatsapp_account)
	doc = frappe.get_doc(
		{
			"doctype": provider.MESSAGE,
			"type": "Outgoing",
			"to": row.number,
			"message": text,
			"content_type": "text",
			"whatsapp_account": row.whatsapp_account,
			"reference_doctype": row.reference_doctype,
			"reference_name": row.reference_name,
		}
	)
	doc.insert(
		ignore_permissions=True
	)  # who may send was checked above: the conversation, the account's roles
	mark_read(conversation)
	return {"name": doc.name, "status": doc.status}


@frappe.whitelist(methods=["POST"])
def assign_to_me(conversation: str) -> dict:
	row = _row(conversation)
	if not row.reference_name:
		frappe.throw(
			_("Create a Lead for this conversation first, then assign it."), title=_("Nothing to assign")
		)
	from frappe.desk.form.assign_to import add

	if frappe.session.user not in (
		frappe.db.get_value(row.reference_doctype, row.reference_name, "_assign") or ""
	):
		add(
			{"doctype": row.reference_doctype, "name": row.reference_name, "assign_to": [frappe.session.user]}
		)
	conversations.on_assignment(
		frappe._dict(reference_type=row.reference_doctype, reference_name=row.reference_name)
	)
	return {"assignee": frappe.session.user}


@frappe.whitelist(methods=["POST"])
def create_lead(conversation: str) -> dict:
	"""A Lead for a conversation that has none (its number was new when the account said Do nothing)."""
	row = _row(conversation)
	if row.reference_name:
		return {"reference_doctype": row.reference_doctype, "reference_name": row.reference_name}
	if not leads.crm_installed():
		frappe.throw(_("Frappe CRM is not installed on this site."), title=_("No CRM"))
	frappe.has_permission(leads.LEAD, "create", throw=True)
	from whatsapp_crm.gateway.newcomers import lead_name

	doctype, name = leads._create_lead(lead_name(row.title, row.number), row.number, row.whatsapp_account)
	conversations.set_reference(row.name, doctype, name)
	return {"reference_doctype": doctype, "reference_name": name}
