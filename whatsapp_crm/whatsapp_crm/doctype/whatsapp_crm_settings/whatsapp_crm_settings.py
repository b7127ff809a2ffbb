# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt

from __future__ import annotations

import frappe
from frappe import _
from frappe.model.document import Document

from whatsapp_crm.gateway.client import normalise_base_url
from whatsapp_crm.gateway.errors import GatewayError, NotConfigured
from whatsapp_crm.integration import SETTINGS, client_from, code_message

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
}


def url_problem(reason: str) -> str:
	if reason == "credentials_in_url":
		return _("Do not put a user name or password in the Gateway URL; use the API Key field.")
	return _("The Gateway URL must start with http:// or https:// and name a host, with no query or spaces.")


class WhatsAppCRMSettings(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		api_key: DF.Password | None
		connect_timeout: DF.Float
		deadline: DF.Float
		enabled: DF.Check
		error_log_window: DF.Int
		gateway_url: DF.Data | None
		max_attempts: DF.Int
		monitor_cap: DF.Float
		pairing_limit: DF.Int
		pairing_window: DF.Int
		poll_interval: DF.Float
		qr_error_wait: DF.Float
		qr_timeout: DF.Float
		request_wait: DF.Float
		status_timeout: DF.Float
		timeout_wait: DF.Float
		use_monitor: DF.Check
		wait_initial: DF.Float
		wait_max: DF.Float
		wait_step: DF.Float
		webhook_secret: DF.Password | None
	# end: auto-generated types

	def validate(self) -> None:
		# No network here: Test connection is a separate, explicit action.
		# A missing URL is allowed while setting up; calls then say "not configured".
		if self.gateway_url:
			try:
				self.gateway_url = normalise_base_url(self.gateway_url)
			except NotConfigured as e:
				frappe.throw(url_problem(e.reason), title=_("Invalid Gateway URL"))
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


@frappe.whitelist(methods=["POST"])
def test_connection() -> dict:
	"""Is the gateway reachable, does it accept the key, and what does it say about itself (saved settings)."""
	frappe.has_permission(SETTINGS, "write", throw=True)
	settings = frappe.get_doc(SETTINGS)
	try:
		client = client_from(settings)
	except GatewayError as e:
		return {
			"reachable": False,
			"key_accepted": None,
			"error_code": e.code,
			"message": code_message(e.code),
		}
	with client:
		health = client.health(timeout=min(5.0, settings.status_timeout))
	if not health.reachable:
		code = health.error.code if health.error else "UNREACHABLE"
		message = code_message(code)
	elif health.key_accepted is False:
		code, message = "UNAUTHORIZED", code_message("UNAUTHORIZED")
	elif health.key_accepted is None:
		code = health.error.code if health.error else "BAD_RESPONSE"
		message = _("The gateway is reachable, but its answer to an authenticated call was unexpected.")
	else:
		code, message = None, _("The gateway is reachable and accepts the API key.")
	return {
		"reachable": health.reachable,
		"key_accepted": health.key_accepted,
		"latency_ms": health.latency_ms,
		"http_status": health.http_status,
		"gateway_name": health.name,
		"gateway_version": health.version,
		"gateway_status": health.status,
		"error_code": code,
		"message": message,
	}
