"""The WhatsApp inbox's data: which conversations a user may see, a page of them, a thread, read marks, and
what an agent does from it (reply, assign, create a Lead). The page's API (``whatsapp_crm.api.inbox``) calls
these after Frappe's own checks.

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
from frappe.desk.form.assign_to import add as assign
from frappe.desk.form.assign_to import remove as unassign_from
from frappe.model.db_query import DatabaseQuery
from frappe.utils import now_datetime

from whatsapp_crm.chat import conversations, files, leads, newcomers, provider, sending
from whatsapp_crm.chat import status as status_rules
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


def conversation_for(name: str) -> frappe._dict:
	"""The conversation if the user may see it; a PermissionError otherwise (the same for one that does not
	exist, so nothing is told about it)."""
	rows = frappe.db.sql(
		f"select c.* from `tab{CONVERSATION}` c where c.name = %s and {visible()}", (name,), as_dict=True
	)
	if not rows:
		frappe.throw(_("You cannot open this conversation."), frappe.PermissionError)
	return rows[0]


def may_read(row, user: str | None = None) -> bool:
	"""The same answer as ``visible()`` for one conversation, by a record-level check (no SQL condition to
	build): each file of a thread asks it."""
	user = user or frappe.session.user
	if user == "Administrator":
		return True
	if row.reference_doctype and row.reference_name:
		return row.reference_doctype in _reference_types() and bool(
			frappe.has_permission(row.reference_doctype, "read", row.reference_name, user=user)
		)
	return bool(set(frappe.get_roles(user)) & unassigned_roles())


def page(
	user: str,
	scope: str,
	account: str | None,
	search: str | None,
	start: int,
	limit: int,
	status: str = "Open",
) -> dict:
	"""One page of conversations, newest first, in one query; the counts by status in a second (grouped, on
	the same conditions but the status)."""
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
	counts = dict(
		frappe.db.sql(
			f"select c.status, count(*) from `tab{CONVERSATION}` c where {' and '.join(where)} group by c.status",
			values,
		)
	)
	if status in status_rules.STATUSES:
		where.append("c.status = %(status)s")
		values["status"] = status
	rows = frappe.db.sql(
		f"""select c.name, c.title, c.number, c.whatsapp_account, c.reference_doctype, c.reference_name,
			c.assignee, u.full_name as assignee_name, u.user_image as assignee_image, c.last_message,
			c.last_message_at, c.last_direction, c.status, c.snoozed_until,
			greatest(c.incoming_count - ifnull(r.read_count, 0), 0) as unread
		from `tab{CONVERSATION}` c
		left join `tab{READ}` r on r.conversation = c.name and r.user = %(user)s
		left join `tabUser` u on u.name = c.assignee
		where {" and ".join(where)}
		order by c.last_message_at desc, c.name desc
		limit %(start)s, %(limit)s""",
		values,
		as_dict=True,
	)
	return {
		"rows": rows[:limit],
		"more": len(rows) > limit,
		"start": start,
		"counts": {s: counts.get(s, 0) for s in status_rules.STATUSES},
	}


def thread_messages(row, before: str | None, limit: int, around: str | None = None) -> list[dict]:
	"""The conversation's messages, newest last (``before``: older ones; ``around``: a message of this
	conversation and up to ``limit`` after it, so a search opens the thread at the hit), as text."""
	numbers = (row.number, row.number.lstrip("+"))
	values = {"account": row.whatsapp_account, "numbers": numbers, "limit": limit}
	older = ""
	if around:
		at = frappe.db.get_value(provider.MESSAGE, around, "creation")
		if at:
			# the hit and what follows it: the newest ``limit`` up to a page after the hit
			later = frappe.db.sql(
				f"""select m.creation from `tab{provider.MESSAGE}` m
				where m.whatsapp_account = %(account)s and (m.`from` in %(numbers)s or m.`to` in %(numbers)s)
					and m.creation > %(at)s order by m.creation asc limit 1 offset %(offset)s""",
				dict(values, at=at, offset=max(0, limit // 2)),
			)
			if later:
				before = str(later[0][0])
	if before:
		older = " and m.creation < %(before)s"
		values["before"] = before
	messages = frappe.db.sql(
		f"""select * from (
			select m.name, m.type, m.message, m.content_type, m.attach, m.status, m.creation, m.is_reply,
				m.reply_to_message_id, m.message_id, m.owner, m.gateway_wait_reason, m.gateway_send_after
			from `tab{provider.MESSAGE}` m
			where m.whatsapp_account = %(account)s and m.`from` in %(numbers)s{older}
			union all
			select m.name, m.type, m.message, m.content_type, m.attach, m.status, m.creation, m.is_reply,
				m.reply_to_message_id, m.message_id, m.owner, m.gateway_wait_reason, m.gateway_send_after
			from `tab{provider.MESSAGE}` m
			where m.whatsapp_account = %(account)s and m.`to` in %(numbers)s and m.type = 'Outgoing'{older}
		) t order by t.creation desc limit %(limit)s""",
		values,
		as_dict=True,
	)
	for m in messages:
		m["text"] = html.unescape(m.pop("message") or "")  # stored as escaped HTML; shown as text
		reason, after = m.pop("gateway_wait_reason"), m.pop("gateway_send_after")
		# a queued message held by its number's sending policy says why and until when
		m["waiting"] = sending.describe(reason, after) if m.status == "queued" and after else None
	messages.reverse()
	files.for_messages(messages)
	return messages


def mark_read(row, user: str) -> None:
	"""``user`` has read the conversation up to now (per user, not per message)."""
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


def queue_reply(row, text: str, file: frappe._dict | None = None) -> frappe._dict:
	"""A reply through the conversation's number, queued like a message from CRM's tab (the outbox sends it);
	``file``: an uploaded File of this conversation, sent with the text as its caption. Who may send was
	checked by the caller: the conversation, the account's roles."""
	doc = frappe.get_doc(
		{
			"doctype": provider.MESSAGE,
			"type": "Outgoing",
			"to": row.number,
			"message": text or (file.file_url if file else ""),
			"attach": file.file_url if file else None,
			"content_type": files.kind_for(file.file_name, None) if file else "text",
			"whatsapp_account": row.whatsapp_account,
			"reference_doctype": row.reference_doctype,
			"reference_name": row.reference_name,
		}
	)
	doc.insert(ignore_permissions=True)
	return frappe._dict(name=doc.name, status=doc.status)


def assign_to(row, user: str) -> None:
	"""The conversation's Lead, Deal or Contact assigned to ``user`` (Frappe's own assignment, which checks
	the user may be given it and shares it when they could not read it)."""
	if user not in (frappe.db.get_value(row.reference_doctype, row.reference_name, "_assign") or ""):
		assign({"doctype": row.reference_doctype, "name": row.reference_name, "assign_to": [user]})
	conversations.on_assignment(
		frappe._dict(reference_type=row.reference_doctype, reference_name=row.reference_name)
	)
	conversations.announce(row.whatsapp_account, row.number)


def unassign(row, user: str) -> None:
	if user in (frappe.db.get_value(row.reference_doctype, row.reference_name, "_assign") or ""):
		unassign_from(row.reference_doctype, row.reference_name, user)
	conversations.on_assignment(
		frappe._dict(reference_type=row.reference_doctype, reference_name=row.reference_name)
	)
	conversations.announce(row.whatsapp_account, row.number)


def teammates(search: str, limit: int = 20) -> list[dict]:
	"""Enabled desk users by name or e-mail, for assignment and @mentions."""
	term = "%" + (search or "").strip()[:60].replace("%", "\\%").replace("_", "\\_") + "%"
	return frappe.db.sql(
		"""select name as user, full_name, user_image as image from `tabUser`
		where enabled = 1 and user_type = 'System User' and name not in ('Guest', 'Administrator')
			and (full_name like %(t)s or name like %(t)s)
		order by full_name limit %(limit)s""",
		{"t": term, "limit": limit},
		as_dict=True,
	)


def lead_for(row) -> tuple[str, str]:
	"""A Lead for a conversation that has none; the conversation and its messages point at it."""
	doctype, name = leads.create_lead(
		newcomers.lead_name(row.title, row.number), row.number, row.whatsapp_account
	)
	conversations.set_reference(row.name, doctype, name)
	return doctype, name
