"""The sending policy's doors: what a number is sending now (its session form), and opting a customer in
again after an opt-out."""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.chat import optout, sending
from whatsapp_crm.integration import SESSION


@frappe.whitelist()
def session_status(name: str) -> dict:
	if not name or not frappe.db.exists(SESSION, name):
		frappe.throw(_("WhatsApp Session {0} not found.").format(frappe.bold(name)), frappe.DoesNotExistError)
	frappe.has_permission(SESSION, "read", doc=name, throw=True)
	return sending.status(name)


@frappe.whitelist(methods=["POST"])
def opt_in(name: str, reason: str) -> dict:
	if not name or not frappe.db.exists(optout.OPT_OUT, name):
		frappe.throw(_("Opt-out {0} not found.").format(frappe.bold(name)), frappe.DoesNotExistError)
	frappe.has_permission(optout.OPT_OUT, "write", doc=name, throw=True)
	optout.opt_in(name, reason)
	return {"name": name, "opted_out": 0}
