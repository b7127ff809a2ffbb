"""Placeholder values from a Lead, Deal or Contact, for campaign texts (and quick replies): the names are
the same whatever the record, so one text serves all three; ``whatsapp_crm.sending.templates`` fills them."""

from __future__ import annotations

import frappe

# placeholder -> the field that holds it, per doctype (None: that record has no such value, left empty)
FIELDS: dict[str, dict[str, str | None]] = {
	"CRM Lead": {
		"first_name": "first_name",
		"last_name": "last_name",
		"full_name": "lead_name",
		"organization": "organization",
		"lead_owner": "lead_owner",
		"status": "status",
		"email": "email",
		"phone": "mobile_no",
	},
	"CRM Deal": {
		"first_name": "first_name",
		"last_name": "last_name",
		"full_name": "lead_name",
		"organization": "organization",
		"lead_owner": "deal_owner",
		"status": "status",
		"email": "email",
		"phone": "mobile_no",
	},
	"Contact": {
		"first_name": "first_name",
		"last_name": "last_name",
		"full_name": "full_name",
		"organization": "company_name",
		"lead_owner": None,
		"status": "status",
		"email": "email_id",
		"phone": "mobile_no",
	},
}
NAMES = tuple(FIELDS["CRM Lead"])
OWNER_FIELDS = {"lead_owner", "deal_owner"}


def values_for(doctype: str | None, name: str | None) -> dict[str, str]:
	"""The record's values by placeholder; an owner is shown by full name. Unknown or deleted: empty."""
	mapping = FIELDS.get(doctype or "")
	if not mapping or not name:
		return {}
	meta = frappe.get_meta(doctype)
	fields = sorted({f for f in mapping.values() if f and meta.has_field(f)})
	row = frappe.db.get_value(doctype, name, fields, as_dict=True) if fields else None
	if not row:
		return {}
	out = {}
	for placeholder, field in mapping.items():
		value = row.get(field) if field else None
		if value and field in OWNER_FIELDS:
			value = frappe.utils.get_fullname(value)
		out[placeholder] = "" if value is None else str(value)
	return out
