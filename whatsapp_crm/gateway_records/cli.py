"""``bench --site SITE whatsapp-crm ...``: the command line inside a bench, where ``--gateway NAME`` stands
for a WhatsApp Gateway record's URL, key and type (outside a bench, ``whatsapp-crm ... --url`` as before)."""

from __future__ import annotations

import frappe

from whatsapp_crm.gateway_records.config import GATEWAY, GATEWAY_TYPES
from whatsapp_crm.terminal.cli import main

AUTO_TYPE = "auto"


def resolve(name: str) -> tuple[str, str, str]:
	"""(URL, key, type) of the gateway record ``name``; KeyError with a sentence when there is none."""
	if not frappe.db.exists(GATEWAY, name):
		known = ", ".join(frappe.get_all(GATEWAY, pluck="name", order_by="creation asc")) or "none yet"
		raise KeyError(f"no WhatsApp Gateway named {name!r} on this site (there are: {known})")
	doc = frappe.get_doc(GATEWAY, name)
	gateway_type = GATEWAY_TYPES.get(doc.gateway_type or "Auto-detect", AUTO_TYPE)
	if gateway_type == AUTO_TYPE and doc.detected_gateway_type:
		gateway_type = doc.detected_gateway_type
	return doc.gateway_url or "", doc.get_password("api_key", raise_exception=False) or "", gateway_type


def run(site: str, argv: list[str]) -> int:
	frappe.init(site=site)
	frappe.connect()
	try:
		return main(argv, resolve_gateway=resolve)
	finally:
		frappe.destroy()
