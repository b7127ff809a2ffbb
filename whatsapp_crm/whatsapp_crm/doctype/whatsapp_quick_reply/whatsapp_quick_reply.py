# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""A saved answer for the WhatsApp inbox; the checks live in chat/quick_replies.py."""

from __future__ import annotations

from frappe.model.document import Document

from whatsapp_crm.chat import quick_replies


class WhatsAppQuickReply(Document):
	def validate(self) -> None:
		quick_replies.validate(self)
