# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt

from __future__ import annotations

from frappe.model.document import Document


class WhatsAppCampaignNumber(Document):
	pass
