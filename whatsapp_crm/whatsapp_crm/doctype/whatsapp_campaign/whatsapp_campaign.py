# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""A thin controller: the values checked on save (no network); the work is chat/campaigns.py, its actions
are the doors in api/campaigns.py."""

from __future__ import annotations

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import get_datetime, now_datetime

from whatsapp_crm.chat import campaigns, placeholders
from whatsapp_crm.sending import templates
from whatsapp_crm.sending.errors import TextTooLong, UnknownPlaceholder

PASTED_LIMIT = 2_000_000  # characters: about 100,000 numbers


class WhatsAppCampaign(Document):
	def validate(self) -> None:
		self.title = (self.title or "").strip()
		try:
			templates.checked(self.message or "", placeholders.NAMES)
		except UnknownPlaceholder as e:
			frappe.throw(
				_("{0} is not a placeholder. Use one of: {1}.").format(
					frappe.bold(frappe.utils.escape_html("{" + e.context["placeholder"] + "}")),
					", ".join("{" + n + "}" for n in placeholders.NAMES),
				),
				title=_("Unknown placeholder"),
			)
		except TextTooLong as e:
			frappe.throw(
				_("The message is over {0} characters, WhatsApp's limit for one message.").format(
					e.context["limit"]
				),
				title=_("Message too long"),
			)
		if self.source != campaigns.PASTED:
			campaigns.parse_filters(self.filters)
		elif len(self.pasted_numbers or "") > PASTED_LIMIT:
			frappe.throw(_("Paste at most about 100,000 numbers in one campaign."), title=_("List too long"))
		if self.status == campaigns.DRAFT and self.start_at and get_datetime(self.start_at) < now_datetime():
			frappe.throw(
				_(
					"The start time {0} has passed. Pick a later time, or leave it empty to start when you click Start."
				).format(frappe.utils.format_datetime(self.start_at)),
				title=_("Start time in the past"),
			)
		seen = set()
		for row in self.numbers:
			if row.session in seen:
				frappe.throw(_("{0} is listed twice under Send From.").format(frappe.bold(row.session)))
			seen.add(row.session)
		if self.status not in (campaigns.DRAFT,) and self.has_value_changed("message") and not self.is_new():
			frappe.throw(_("The message of a campaign that has started cannot be changed."))

	def check_ready(self) -> None:
		"""Start's checks: something to send, from somewhere, to someone."""
		self.validate()
		if not self.numbers:
			frappe.throw(_("Choose at least one WhatsApp number under Send From."), title=_("Not ready"))
		if not (self.message or "").strip():
			frappe.throw(_("Write the message first."), title=_("Not ready"))
		if self.source == campaigns.PASTED and not (self.pasted_numbers or "").strip():
			frappe.throw(_("Paste the numbers to send to."), title=_("Not ready"))

	def on_trash(self) -> None:
		if self.status in (campaigns.PREPARING, campaigns.RUNNING, campaigns.SCHEDULED):
			frappe.throw(_("Pause or cancel the campaign before deleting it."), title=_("Campaign running"))
		frappe.db.delete(campaigns.RECIPIENT, {"campaign": self.name})
