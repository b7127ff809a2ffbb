"""Quick replies (WhatsApp Quick Reply): saved answers an agent inserts by typing ``/`` and a code. Shared
ones are the team's; personal ones only their owner sees. Their text is checked when saved (known
placeholders, WhatsApp's 4096 characters) and filled from the conversation's Lead, Deal or Contact when
offered; a missing value is left empty. The rules are frappe-free (``whatsapp_crm.inbox.quick_replies``)."""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.chat import placeholders
from whatsapp_crm.inbox import quick_replies as rules
from whatsapp_crm.inbox.errors import InboxError
from whatsapp_crm.sending import templates
from whatsapp_crm.sending.errors import SendingError

QUICK_REPLY = "WhatsApp Quick Reply"
# who may change the team's shared answers (anyone may keep personal ones)
EDITOR_ROLES = {"Sales Manager", "WhatsApp Manager", "System Manager"}
OFFER_MAX = 20


def validate(doc) -> None:
	"""WhatsApp Quick Reply validate: a usable code, free among the replies the owner sees; a known text."""
	try:
		doc.code = rules.checked_code(doc.code or "")
	except InboxError:
		frappe.throw(
			_("A code is 1 to 30 letters, digits, - or _, such as {0}.").format(frappe.bold("prices")),
			title=_("Invalid code"),
		)
	doc.title = (doc.title or "").strip() or doc.code
	try:
		rules.checked_text(doc.message or "", placeholders.NAMES)
	except SendingError as e:
		if e.code == "UNKNOWN_PLACEHOLDER":
			frappe.throw(
				_("Unknown placeholder {0}. Use one of {1}.").format(
					frappe.bold("{" + frappe.utils.escape_html(e.context.get("placeholder", "")) + "}"),
					", ".join("{" + n + "}" for n in placeholders.NAMES),
				),
				title=_("Unknown placeholder"),
			)
		frappe.throw(
			_("A quick reply holds at most {0} characters; this one has {1}.").format(
				templates.MAX_TEXT, len(doc.message or "")
			),
			title=_("Message too long"),
		)
	if not (doc.message or "").strip():
		frappe.throw(_("Write the quick reply's message."), title=_("Empty message"))
	owner = doc.owner or frappe.session.user
	clash = frappe.db.sql(
		f"""select name from `tab{QUICK_REPLY}` where code = %(code)s and name != %(name)s
		and (shared = 1 or owner = %(owner)s or %(shared)s = 1) limit 1""",
		{"code": doc.code, "name": doc.name or "", "owner": owner, "shared": 1 if doc.shared else 0},
	)
	if clash:
		frappe.throw(
			_("The code {0} is already taken by another quick reply.").format(frappe.bold(doc.code)),
			title=_("Code taken"),
		)


def has_permission(doc, ptype: str | None = None, user: str | None = None) -> bool:
	"""Personal replies are their owner's alone; shared ones are read by all, changed by their owner or an
	editor."""
	user = user or frappe.session.user
	if user == "Administrator" or doc.owner == user:
		return True
	if not doc.shared:
		return False
	return ptype in (None, "read", "select", "print", "email", "report") or bool(
		EDITOR_ROLES & set(frappe.get_roles(user))
	)


def query(user: str | None = None) -> str:
	user = user or frappe.session.user
	if user == "Administrator":
		return ""
	return f"(`tab{QUICK_REPLY}`.shared = 1 or `tab{QUICK_REPLY}`.owner = {frappe.db.escape(user)})"


def offered(row, search: str, user: str) -> list[dict]:
	"""The replies ``user`` may use whose code or title matches ``search``, filled for the conversation."""
	term = (search or "").strip().lstrip("/").lower()[:30]
	like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
	rows = frappe.db.sql(
		f"""select name, code, title, message, shared from `tab{QUICK_REPLY}`
		where (shared = 1 or owner = %(user)s) and (code like %(like)s or title like %(like)s)
		order by code limit 200""",
		{"user": user, "like": like},
		as_dict=True,
	)
	values = placeholders.values_for(row.reference_doctype, row.reference_name)
	return [
		{
			"name": r.name,
			"code": r.code,
			"title": r.title,
			"shared": r.shared,
			"text": templates.render(r.message, values),
		}
		for r in rules.rank(term, rows)[:OFFER_MAX]
	]
