# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""A number marked as spam: its messages never create a Lead or a Contact (they are still stored)."""

from __future__ import annotations

import frappe
from frappe import _
from frappe.model.document import Document

from whatsapp_crm.gateway.phones import plus_number


class WhatsAppBlockedNumber(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		blocked_by: DF.Link | None
		number: DF.Data
		reason: DF.SmallText | None
	# end: auto-generated types

	def before_naming(self) -> None:
		number = plus_number(self.number)
		if number is None:
			frappe.throw(
				_(
					"{0} is not a phone number. Write it with its country code, for example +34 600 111 222."
				).format(frappe.bold(frappe.utils.escape_html((self.number or "")[:40]) or _("(empty)"))),
				title=_("Invalid phone number"),
			)
		self.number = number
		self.blocked_by = self.blocked_by or frappe.session.user


@frappe.whitelist(methods=["POST"])
def block(number: str, reason: str | None = None) -> dict:
	"""The Block number action: from now on, this number creates nothing."""
	frappe.has_permission("WhatsApp Blocked Number", "create", throw=True)
	clean = plus_number(number)
	if clean and frappe.db.exists("WhatsApp Blocked Number", clean):
		return {"number": clean, "already": True}
	doc = frappe.get_doc({"doctype": "WhatsApp Blocked Number", "number": number, "reason": reason})
	doc.insert()
	return {"number": doc.name, "already": False}
