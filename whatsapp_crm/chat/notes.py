"""Private notes in the inbox's thread: a Comment on the conversation's Lead, Deal or Contact (on the
conversation itself when it has none), so CRM shows the work too. A note never becomes a WhatsApp Message,
so nothing can send it. Mentioned colleagues get Frappe's mention notification (Comment.after_insert)."""

from __future__ import annotations

import html
import re

import frappe
from frappe import _

from whatsapp_crm.chat.conversations import CONVERSATION

NOTE_MAX = 5000
NOTES_MAX = 100
_BREAK = re.compile(r"<br\s*/?>|</p>|</div>", re.I)
_TAGS = re.compile(r"<[^>]+>")
_MENTION = re.compile(r'<span[^>]*class="mention"[^>]*data-id="([^"]*)"', re.I)


def target(row) -> tuple[str, str]:
	if row.reference_doctype and row.reference_name:
		return row.reference_doctype, row.reference_name
	return CONVERSATION, row.name


def add(row, text: str, mentions: list[str] | None, user: str) -> str:
	text = (text or "").strip()
	if not text:
		frappe.throw(_("Write the note first."), title=_("Empty note"))
	if len(text) > NOTE_MAX:
		frappe.throw(_("A note holds at most {0} characters.").format(NOTE_MAX), title=_("Note too long"))
	doctype, name = target(row)
	comment = frappe.get_doc(
		{
			"doctype": "Comment",
			"comment_type": "Comment",
			"reference_doctype": doctype,
			"reference_name": name,
			"comment_email": user,
			"comment_by": frappe.utils.get_fullname(user),
			"content": content(text, people(mentions)),
		}
	)
	comment.insert(ignore_permissions=True)  # the caller checked that the user may read the conversation
	return comment.name


def people(mentions: list[str] | None) -> list[tuple[str, str]]:
	"""(user, full name) of each enabled system user mentioned, at most 20, each once."""
	wanted = list(dict.fromkeys(u for u in (mentions or []) if isinstance(u, str)))[:20]
	if not wanted:
		return []
	rows = frappe.get_all(
		"User",
		filters={"name": ("in", wanted), "enabled": 1, "user_type": "System User"},
		fields=["name", "full_name"],
	)
	return [(r.name, r.full_name or r.name) for r in rows]


def content(text: str, mentioned: list[tuple[str, str]]) -> str:
	"""The note as HTML: the text escaped, each mention as Frappe's mention span (which its notifications
	read), at the "@Name" the agent typed or at the end."""
	body = html.escape(text, quote=False)
	for user, full_name in mentioned:
		span = (
			f'<span class="mention" data-id="{html.escape(user)}" data-value="{html.escape(full_name)}" '
			f'data-denotation-char="@">@{html.escape(full_name, quote=False)}</span>'
		)
		typed = "@" + html.escape(full_name, quote=False)
		body = body.replace(typed, span, 1) if typed in body else f"{body} {span}"
	return "<p>" + body.replace("\n", "<br>") + "</p>"


def as_text(content_html: str) -> str:
	return html.unescape(_TAGS.sub("", _BREAK.sub("\n", content_html or ""))).strip()


def for_thread(row) -> list[dict]:
	"""The notes on the conversation's record, oldest first (the newest 100), as text."""
	doctype, name = target(row)
	rows = frappe.get_all(
		"Comment",
		filters={"reference_doctype": doctype, "reference_name": name, "comment_type": "Comment"},
		fields=["name", "content", "owner", "comment_email", "creation"],
		order_by="creation desc",
		limit=NOTES_MAX,
	)
	rows.reverse()
	return [
		{
			"name": r.name,
			"text": as_text(r.content),
			"owner": r.comment_email or r.owner,
			"owner_name": frappe.utils.get_fullname(r.comment_email or r.owner),
			"creation": r.creation,
			"mentions": _MENTION.findall(r.content or ""),
		}
		for r in rows
	]
