# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""Written by chat/optout.py when a customer writes an opt-out word; opting in again is its door in
api/sending.py."""

from __future__ import annotations

from frappe.model.document import Document

from whatsapp_crm.chat import optout


class WhatsAppOptOut(Document):
	pass


def on_doctype_update() -> None:
	optout.add_indexes()
