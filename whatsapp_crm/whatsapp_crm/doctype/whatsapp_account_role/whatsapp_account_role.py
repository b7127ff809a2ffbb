# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""A role allowed to send through a WhatsApp Account backed by a WhatsApp Session (a row of its custom field)."""

from __future__ import annotations

from frappe.model.document import Document


class WhatsAppAccountRole(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		role: DF.Link
	# end: auto-generated types

	pass
