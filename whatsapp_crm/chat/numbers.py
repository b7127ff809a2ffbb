"""Phone numbers read in the site's own country, so that Frappe CRM matches a message to its Lead or Deal in any
country: the Frappe side of ``whatsapp_crm.gateway.phones`` (where every other phone helper lives)."""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.gateway.errors import InvalidPhone
from whatsapp_crm.gateway.phones import digits_in_region


def default_region() -> str | None:
	country = frappe.db.get_single_value("System Settings", "country")
	code = frappe.db.get_value("Country", country, "code") if country else None
	return code.upper() if code else None


def site_digits(number: str | None) -> str:
	"""The number as international digits ("34600111222"), read in the site's country when it has no
	country code; a translated error for anything else."""
	try:
		return digits_in_region(number, default_region())
	except InvalidPhone:
		text = (number or "").strip()
		frappe.throw(
			_(
				"{0} is not a phone number WhatsApp can use. Write it with its country code, for example +34 600 111 222."
			).format(frappe.bold(frappe.utils.escape_html(text[:40]) or _("(empty)"))),
			title=_("Invalid phone number"),
		)
		raise  # frappe.throw raises
