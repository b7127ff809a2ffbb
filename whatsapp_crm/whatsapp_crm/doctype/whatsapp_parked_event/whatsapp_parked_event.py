# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""A webhook body kept for a job (see whatsapp_crm.chat.parked): written and applied by code only."""

from __future__ import annotations

from frappe.model.document import Document


class WhatsAppParkedEvent(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		attempts: DF.Int
		body: DF.LongText | None
		event_kind: DF.Data | None
		gateway: DF.Link | None
		gateway_type: DF.Data | None
		last_error: DF.SmallText | None
		next_try_at: DF.Datetime | None
		session_id: DF.Data | None
		status: DF.Literal["Pending", "Failed"]
	# end: auto-generated types
