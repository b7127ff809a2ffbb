"""The CRM beside the inbox's thread: the conversation's Lead or Deal (name, status, owner, value, stage),
what a CRM user does next (change the status, convert a Lead to a Deal, add a task), the same person's
other conversations, and whether they opted out of campaigns. Reads and writes go through Frappe's
permissions as the user: the panel offers only what CRM itself would let them do."""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.chat import conversations, provider
from whatsapp_crm.chat.conversations import CONVERSATION
from whatsapp_crm.chat.optout import OPT_OUT

LEAD, DEAL = "CRM Lead", "CRM Deal"
STATUS_DOCTYPES = {LEAD: "CRM Lead Status", DEAL: "CRM Deal Status"}
OWNER_FIELDS = {LEAD: "lead_owner", DEAL: "deal_owner", "Contact": None}
VALUE_FIELDS = {LEAD: "annual_revenue", DEAL: "deal_value"}
OTHERS_MAX = 10


def statuses(doctype: str) -> list[str]:
	status_doctype = STATUS_DOCTYPES.get(doctype)
	if not status_doctype or not frappe.db.table_exists(status_doctype):
		return []
	return frappe.get_all(status_doctype, order_by="position asc, name asc", pluck="name")


def reference(row) -> dict | None:
	doctype, name = row.reference_doctype, row.reference_name
	if not doctype or not name or not frappe.db.exists(doctype, name):
		return None
	if not frappe.has_permission(doctype, "read", name):
		return None  # seen through the unassigned roles, not through the record
	doc = frappe.get_doc(doctype, name)
	owner = doc.get(OWNER_FIELDS.get(doctype) or "")
	value_field = VALUE_FIELDS.get(doctype)
	title, _assignee = conversations.describe(doctype, name, name)
	return {
		"doctype": doctype,
		"name": name,
		"title": title,
		"status": doc.get("status"),
		"statuses": statuses(doctype),
		"owner": owner,
		"owner_name": frappe.utils.get_fullname(owner) if owner else None,
		"organization": doc.get("organization") or doc.get("company_name"),
		"value": doc.get(value_field) if value_field else None,
		"currency": doc.get("currency") or frappe.db.get_default("currency"),
		"stage": doc.get("status") if doctype == DEAL else None,
		"can_write": bool(frappe.has_permission(doctype, "write", name)),
		"can_convert": doctype == LEAD
		and not doc.get("converted")
		and bool(frappe.has_permission(doctype, "write", name))
		and bool(frappe.has_permission(DEAL, "create")),
	}


def others(row, visible: str) -> list[dict]:
	"""The same person's other conversations the user may see: the same number on other company numbers, or
	the same Lead, Deal or Contact."""
	return frappe.db.sql(
		f"""select c.name, c.title, c.whatsapp_account, c.number, c.last_message_at, c.status
		from `tab{CONVERSATION}` c
		where c.name != %(name)s and (c.number = %(number)s
			or (%(ref)s != '' and c.reference_doctype = %(ref_dt)s and c.reference_name = %(ref)s))
			and {visible}
		order by c.last_message_at desc limit {OTHERS_MAX}""",
		{
			"name": row.name,
			"number": row.number,
			"ref": row.reference_name or "",
			"ref_dt": row.reference_doctype or "",
		},
		as_dict=True,
	)


def opted_out(row) -> bool:
	session = provider.session_for_account(row.whatsapp_account)
	return bool(
		session
		and frappe.db.exists(OPT_OUT, {"session": session, "number": row.number.lstrip("+"), "opted_out": 1})
	)


def panel(row, visible: str) -> dict:
	return {"reference": reference(row), "others": others(row, visible), "opted_out": opted_out(row)}


def _record(row, doctype: str | None = None):
	if not row.reference_name or (doctype and row.reference_doctype != doctype):
		frappe.throw(
			_("This conversation has no {0}.").format(_(doctype or "Lead")), title=_("Nothing to change")
		)
	return frappe.get_doc(row.reference_doctype, row.reference_name)


def set_status(row, status: str) -> None:
	doc = _record(row)
	doc.check_permission("write")
	if status not in statuses(doc.doctype):
		frappe.throw(
			_("{0} is not a status of a {1}.").format(
				frappe.bold(frappe.utils.escape_html(str(status)[:60])), _(doc.doctype)
			)
		)
	doc.status = status
	doc.save()


def crm_currency() -> str:
	"""CRM's own base currency (FCRM Settings, or the USD CRM falls back to): a Deal in any other makes CRM
	fetch an exchange rate from the internet on convert."""
	if frappe.get_meta("FCRM Settings").has_field("currency"):
		return frappe.db.get_single_value("FCRM Settings", "currency") or "USD"
	return "USD"


def convert(row) -> str:
	"""The Lead becomes a Deal as CRM's own Convert does; the conversation follows (record_links)."""
	lead = _record(row, LEAD)
	lead.check_permission("write")
	frappe.has_permission(DEAL, "create", throw=True)
	if lead.get("converted"):
		deal = frappe.db.get_value(DEAL, {"lead": lead.name}, "name")
		if deal:
			return deal
	convert_to_deal = frappe.get_attr("crm.fcrm.doctype.crm_lead.crm_lead.convert_to_deal")
	return convert_to_deal(lead=lead.name, deal={"currency": crm_currency()})


def add_task(row, title: str, due_date: str | None, assigned_to: str | None) -> str:
	record = _record(row)
	if record.doctype not in (LEAD, DEAL):
		frappe.throw(_("Tasks belong to a Lead or a Deal."), title=_("No Lead"))
	title = (title or "").strip()
	if not title:
		frappe.throw(_("Give the task a title."), title=_("No title"))
	frappe.has_permission("CRM Task", "create", throw=True)
	task = frappe.get_doc(
		{
			"doctype": "CRM Task",
			"title": title[:140],
			"status": "Todo",
			"priority": "Medium",
			"due_date": due_date or None,
			"assigned_to": assigned_to or frappe.session.user,
			"reference_doctype": record.doctype,
			"reference_docname": record.name,
		}
	)
	task.insert()
	return task.name
