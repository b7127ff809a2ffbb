# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""A conversation of the WhatsApp inbox, kept by ``chat.conversations`` as messages come and go."""

import frappe
from frappe.model.document import Document


class WhatsAppConversation(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		assignee: DF.Link | None
		incoming_count: DF.Int
		last_direction: DF.Literal["Incoming", "Outgoing"]
		last_message: DF.SmallText | None
		last_message_at: DF.Datetime | None
		number: DF.Data | None
		reference_doctype: DF.Link | None
		reference_name: DF.DynamicLink | None
		title: DF.Data | None
		whatsapp_account: DF.Link | None
	# end: auto-generated types


def on_doctype_update() -> None:
	# One row per (account, number), found by both; the list pages by last message.
	frappe.db.add_unique(
		"WhatsApp Conversation", ["whatsapp_account", "number"], constraint_name="unique_chat"
	)
	frappe.db.add_index("WhatsApp Conversation", ["reference_doctype", "reference_name"])
	frappe.db.add_index("WhatsApp Conversation", ["assignee", "last_message_at"])
