# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""How much of a conversation a user has read: one row per (conversation, user)."""

import frappe
from frappe.model.document import Document


class WhatsAppConversationRead(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		conversation: DF.Link | None
		read_at: DF.Datetime | None
		read_count: DF.Int
		user: DF.Link | None
	# end: auto-generated types


def on_doctype_update() -> None:
	frappe.db.add_unique(
		"WhatsApp Conversation Read", ["conversation", "user"], constraint_name="unique_reader"
	)
