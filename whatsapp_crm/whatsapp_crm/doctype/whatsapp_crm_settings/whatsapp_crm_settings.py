# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt

from __future__ import annotations

import frappe
from frappe import _
from frappe.model.document import Document

from whatsapp_crm.gateway.client import normalise_base_url
from whatsapp_crm.gateway.errors import NotConfigured

# fieldname: (lowest, highest). The deadline stays far below gunicorn's 120 s request timeout.
BOUNDS = {
	"max_attempts": (1, 10),
	"deadline": (2, 90),
	"poll_interval": (1, 60),
	"error_log_window": (1, 1440),
	"connect_timeout": (0.5, 30),
	"status_timeout": (1, 60),
	"qr_timeout": (1, 60),
	"wait_initial": (0, 60),
	"wait_step": (0, 30),
	"wait_max": (0, 60),
	"qr_error_wait": (0, 60),
	"timeout_wait": (0, 60),
	"request_wait": (0, 20),
	"monitor_cap": (30, 900),
	"pairing_limit": (1, 20),
	"pairing_window": (1, 120),
	"health_check_interval": (0, 1440),
	"sync_interval": (0, 1440),
	"offline_hold_hours": (0, 168),
}


class WhatsAppCRMSettings(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from whatsapp_crm.whatsapp_crm.doctype.whatsapp_account_role.whatsapp_account_role import (
			WhatsAppAccountRole,
		)

		connect_timeout: DF.Float
		deadline: DF.Float
		enabled: DF.Check
		error_log_window: DF.Int
		inbox_unassigned_roles: DF.TableMultiSelect[WhatsAppAccountRole]
		health_check_interval: DF.Int
		max_attempts: DF.Int
		monitor_cap: DF.Float
		offline_hold_hours: DF.Int
		opt_out_reply: DF.SmallText | None
		opt_out_words: DF.SmallText | None
		pairing_limit: DF.Int
		pairing_window: DF.Int
		poll_interval: DF.Float
		public_site_url: DF.Data | None
		qr_error_wait: DF.Float
		qr_timeout: DF.Float
		request_wait: DF.Float
		status_timeout: DF.Float
		sync_interval: DF.Int
		timeout_wait: DF.Float
		use_monitor: DF.Check
		wait_initial: DF.Float
		wait_max: DF.Float
		wait_step: DF.Float
	# end: auto-generated types

	def validate(self) -> None:
		# No network here: Test connection is a separate, explicit action.
		# A missing URL is allowed while setting up; calls then say "not configured".
		if self.public_site_url:
			try:
				self.public_site_url = normalise_base_url(self.public_site_url)
			except NotConfigured:
				frappe.throw(
					_(
						"The Public Site URL must start with http:// or https:// and name a host, e.g. https://crm.example.com."
					),
					title=_("Invalid Public Site URL"),
				)
		for fieldname, (lowest, highest) in BOUNDS.items():
			value = self.get(fieldname)
			if value is None or value == "":
				self.set(fieldname, self.meta.get_field(fieldname).default)
			elif not lowest <= float(value) <= highest:
				frappe.throw(
					_("{0} must be between {1} and {2}.").format(
						frappe.bold(_(self.meta.get_label(fieldname))), lowest, highest
					),
					title=_("Value out of range"),
				)
		if float(self.wait_max) < float(self.wait_initial):
			frappe.throw(
				_("{0} must not be less than {1}.").format(
					frappe.bold(_(self.meta.get_label("wait_max"))),
					frappe.bold(_(self.meta.get_label("wait_initial"))),
				),
				title=_("Value out of range"),
			)
