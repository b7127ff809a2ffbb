# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""Rows written by the campaign's preparing job and moved by the outbox (chat/campaign_recipients.py)."""

from __future__ import annotations

from frappe.model.document import Document

from whatsapp_crm.chat import campaign_recipients


class WhatsAppCampaignRecipient(Document):
	pass


def on_doctype_update() -> None:
	campaign_recipients.add_indexes()
