"""Phone numbers in international form, so that Frappe CRM matches a message to its Lead or Deal in any
country. A number typed without its country code is read in the site's default country."""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.gateway.client import normalise_phone
from whatsapp_crm.gateway.errors import InvalidPhone


def default_region() -> str | None:
	country = frappe.db.get_single_value("System Settings", "country")
	code = frappe.db.get_value("Country", country, "code") if country else None
	return code.upper() if code else None


def international(number: str | None) -> str:
	"""The number as international digits ("34600111222"); a translated error for anything else."""
	import phonenumbers  # a dependency of Frappe itself

	text = (number or "").strip()
	if text.startswith("00"):
		text = "+" + text[2:]
	try:
		parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region())
		if phonenumbers.is_possible_number(parsed):
			return normalise_phone(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
	except (phonenumbers.NumberParseException, InvalidPhone):
		pass
	frappe.throw(
		_(
			"{0} is not a phone number WhatsApp can use. Write it with its country code, for example +34 600 111 222."
		).format(frappe.bold(frappe.utils.escape_html(text[:40]) or _("(empty)"))),
		title=_("Invalid phone number"),
	)
	raise AssertionError  # frappe.throw raises


def plus(digits: str) -> str:
	return f"+{digits}"
