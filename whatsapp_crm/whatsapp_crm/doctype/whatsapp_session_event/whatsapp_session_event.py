# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""A log row: one change of a session's status. Created by whatsapp_crm.sessions.history.record only."""

from __future__ import annotations

from frappe.model.document import Document

from whatsapp_crm.sessions.history import clear_old


class WhatsAppSessionEvent(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from_status: DF.Literal[
			"", "Not Created", "Connecting", "QR Ready", "Connected", "Disconnected", "Failed"
		]
		gateway_status: DF.Data | None
		messages_found: DF.Int
		reason: DF.SmallText | None
		session: DF.Link
		source: DF.Literal["User", "Watcher", "Webhook", "Sweep", "Catch-up"]
		to_status: DF.Literal["Not Created", "Connecting", "QR Ready", "Connected", "Disconnected", "Failed"]
	# end: auto-generated types

	@staticmethod
	def clear_old_logs(days: int = 90) -> None:
		"""Log Settings calls this daily (default_log_clearing_doctypes in hooks.py sets the 90 days)."""
		clear_old(days)
