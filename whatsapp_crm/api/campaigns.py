"""The campaign form's doors: start, pause, resume, cancel and progress. Who may: whoever may write the
campaign (Sales Manager, WhatsApp Manager and System Manager by default)."""

from __future__ import annotations

import frappe
from frappe import _

from whatsapp_crm.chat import campaigns

CAMPAIGN = campaigns.CAMPAIGN


def _allowed(name: str, ptype: str = "write") -> None:
	if not name or not frappe.db.exists(CAMPAIGN, name):
		frappe.throw(
			_("WhatsApp Campaign {0} not found.").format(frappe.bold(name)), frappe.DoesNotExistError
		)
	frappe.has_permission(CAMPAIGN, ptype, doc=name, throw=True)


@frappe.whitelist(methods=["POST"])
def start(name: str) -> dict:
	_allowed(name)
	campaigns.start(name)
	return campaigns.progress(name)


@frappe.whitelist(methods=["POST"])
def pause(name: str) -> dict:
	_allowed(name)
	campaigns.pause(name)
	return campaigns.progress(name)


@frappe.whitelist(methods=["POST"])
def resume(name: str) -> dict:
	_allowed(name)
	campaigns.resume(name)
	return campaigns.progress(name)


@frappe.whitelist(methods=["POST"])
def cancel(name: str) -> dict:
	_allowed(name)
	campaigns.cancel(name)
	return campaigns.progress(name)


@frappe.whitelist()
def progress(name: str) -> dict:
	_allowed(name, "read")
	return campaigns.progress(name)
