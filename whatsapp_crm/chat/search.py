"""Search in message texts across the conversations a user may see. A FULLTEXT index on the WhatsApp
Message's text (added on migrate, ``ensure_indexes``) answers the words; each hit is joined to its
conversation by (number, customer number), where the same permission condition as the list applies. Words
of fewer than three letters are not in a MariaDB full-text index, so the search asks for three."""

from __future__ import annotations

import html
import re

import frappe
from frappe import _

from whatsapp_crm.chat import provider
from whatsapp_crm.chat.conversations import CONVERSATION

FULLTEXT = "wa_message_text"
STATUS_INDEX = "wa_status_last"
FILE_URL_INDEX = "wa_file_url"
MIN_CHARS = 3
EXCERPT = 200
_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
_TAGS = re.compile(r"<[^>]+>")


def ensure_indexes() -> None:
	"""after_migrate: the indexes the inbox's queries are made for (each idempotent)."""
	if frappe.db.table_exists(provider.MESSAGE):
		have = frappe.db.sql(f"show index from `tab{provider.MESSAGE}` where Key_name = %s", FULLTEXT)
		if not have:
			frappe.db.sql_ddl(
				f"alter table `tab{provider.MESSAGE}` add fulltext index `{FULLTEXT}` (message)"
			)
	have = frappe.db.sql(f"show index from `tab{CONVERSATION}` where Key_name = %s", STATUS_INDEX)
	if not have:
		frappe.db.sql_ddl(
			f"alter table `tab{CONVERSATION}` add index `{STATUS_INDEX}` (status, last_message_at)"
		)
	# a thread's files and each thumbnail are found by address; Frappe keeps it unindexed (longtext)
	have = frappe.db.sql("show index from `tabFile` where Key_name = %s", FILE_URL_INDEX)
	if not have:
		frappe.db.sql_ddl(f"alter table `tabFile` add index `{FILE_URL_INDEX}` (file_url(255))")


def terms(text: str) -> str:
	"""The words as a boolean-mode query: every word required, each a prefix (``order 12345`` finds
	"order number 123456"); the user's operators are never passed through."""
	words = _WORD.findall((text or "")[:200])[:8]
	return " ".join(f"+{w}*" for w in words)


def messages(visible: str, text: str, start: int, limit: int) -> dict:
	query = terms(text)
	if not query:
		frappe.throw(
			_("Type at least {0} letters or digits of a word to search the messages.").format(MIN_CHARS),
			title=_("Search too short"),
		)
	rows = frappe.db.sql(
		f"""select m.name as message, m.type, m.message as body, m.creation, c.name as conversation,
			c.title, c.number, c.whatsapp_account
		from `tab{provider.MESSAGE}` m
		join `tab{CONVERSATION}` c on c.whatsapp_account = m.whatsapp_account
			and c.number = concat('+', trim(leading '+' from if(m.type = 'Incoming', m.`from`, m.`to`)))
		where match(m.message) against (%(q)s in boolean mode) and m.content_type != 'reaction' and {visible}
		order by m.creation desc
		limit %(start)s, %(limit)s""",
		{"q": query, "start": start, "limit": limit + 1},
		as_dict=True,
	)
	words = _WORD.findall(text or "")
	for r in rows:
		r["text"] = excerpt(html.unescape(_TAGS.sub(" ", r.pop("body") or "")), words)
	return {"rows": rows[:limit], "more": len(rows) > limit, "start": start}


def excerpt(text: str, words: list[str]) -> str:
	"""Up to 200 characters of ``text`` around the first word found."""
	text = " ".join(text.split())
	low = text.lower()
	at = min((i for i in (low.find(w.lower()) for w in words) if i >= 0), default=0)
	begin = max(0, at - 60)
	cut = text[begin : begin + EXCERPT]
	return ("…" if begin else "") + cut + ("…" if begin + EXCERPT < len(text) else "")
