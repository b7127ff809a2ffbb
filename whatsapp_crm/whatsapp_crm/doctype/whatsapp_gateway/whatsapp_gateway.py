# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""One gateway server. A facade: checks on save (no network), and Test connection (the doctor's checks)."""

from __future__ import annotations

import re

import frappe
from frappe import _
from frappe.model.document import Document

from whatsapp_crm.gateway.adapters import Detection
from whatsapp_crm.gateway.client import normalise_base_url
from whatsapp_crm.gateway.doctor import diagnose
from whatsapp_crm.gateway.errors import NotConfigured
from whatsapp_crm.gateway_records.config import (
	GATEWAY,
	GATEWAY_TYPES,
	PARKED,
	SESSION,
	record_health,
	remember_detection,
)
from whatsapp_crm.integration import code_message, get_settings, timeouts_from

NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,60}$"


def url_problem(reason: str) -> str:
	if reason == "credentials_in_url":
		return _("Do not put a user name or password in the Gateway URL; use the API Key field.")
	return _("The Gateway URL must start with http:// or https:// and name a host, with no query or spaces.")


class WhatsAppGateway(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		api_key: DF.Password | None
		detected_gateway: DF.Data | None
		detected_gateway_type: DF.Data | None
		enabled: DF.Check
		gateway_type: DF.Literal["Auto-detect", "Baileys REST", "Evolution API", "WAHA"]
		gateway_url: DF.Data
		health_status: DF.Literal["Unknown", "Healthy", "Down"]
		is_default: DF.Check
		label: DF.Data
		last_check: DF.Datetime | None
		last_error: DF.SmallText | None
		max_sessions: DF.Int
		sessions: DF.Int
		webhook_secret: DF.Password | None
	# end: auto-generated types

	@property
	def sessions(self) -> int:
		return frappe.db.count(SESSION, {"gateway": self.name}) if self.name else 0

	def autoname(self) -> None:
		self.label = (self.label or "").strip()
		if not re.match(NAME_RE, self.label):
			frappe.throw(
				_("The Gateway Name may hold letters, digits, spaces, dots, - and _ (at most 61)."),
				title=_("Invalid Gateway Name"),
			)
		self.name = self.label

	def validate(self) -> None:
		# No network here: Test connection is a separate, explicit action.
		try:
			self.gateway_url = normalise_base_url(self.gateway_url or "")
		except NotConfigured as e:
			frappe.throw(url_problem(e.reason), title=_("Invalid Gateway URL"))
		if self.has_value_changed("gateway_url") or self.has_value_changed("gateway_type"):
			# What was detected belongs to the old server; the next call detects again.
			self.detected_gateway = self.detected_gateway_type = ""
			self.health_status, self.last_error = "Unknown", ""

	def on_update(self) -> None:
		if self.is_default:  # one default at a time
			frappe.db.set_value(
				GATEWAY, {"name": ("!=", self.name), "is_default": 1}, "is_default", 0, update_modified=False
			)

	def on_trash(self) -> None:
		if frappe.db.exists(SESSION, {"gateway": self.name}):
			frappe.throw(
				_("Sessions still live on the gateway {0}: delete them or move them first.").format(
					frappe.bold(self.name)
				),
				title=_("Gateway in use"),
			)
		# Events parked for a gateway that is gone can never be applied.
		frappe.db.delete(PARKED, {"gateway": self.name})

	@frappe.whitelist(methods=["POST"])
	def test_connection(self) -> dict:
		"""The saved gateway, checked step by step (whatsapp-crm doctor without the probe): reachable, TLS,
		which gateway and version, the key. Auto-detect remembers what it found."""
		self.check_permission("write")
		return check_gateway(self.name)


def check_gateway(name: str) -> dict:
	gateway = frappe.get_doc(GATEWAY, name)  # the saved record, not the browser's copy
	settings = get_settings()
	if not settings.enabled or not gateway.enabled:
		return {
			"ok": False,
			"error_code": "NOT_CONFIGURED",
			"message": code_message("NOT_CONFIGURED"),
			"checks": [],
		}
	report = diagnose(
		gateway.gateway_url or "",
		gateway.get_password("api_key", raise_exception=False) or "",
		GATEWAY_TYPES.get(gateway.gateway_type or "Auto-detect", "auto"),
		timeouts_from(settings),
		timeout=min(5.0, settings.status_timeout),
	)
	if report.gateway_type:
		remember_detection(gateway, Detection(report.gateway_type, report.label, report.version))
	checks = [
		{"name": c.name, "result": c.result, "message": _(c.template).format(*c.args)} for c in report.checks
	]
	failed = next((c for c in report.checks if c.result == "fail"), None)
	record_health(
		gateway.name,
		None if failed is None else (failed.code or "UNREACHABLE"),
		_(failed.template).format(*failed.args) if failed else "",
		checked=True,
	)
	frappe.db.commit()  # nosemgrep: the health and detection stay even if the caller's request fails later
	return {
		"ok": report.ok,
		"gateway": report.description,
		"gateway_type": report.gateway_type,
		"error_code": failed.code if failed else None,
		"message": _(failed.template).format(*failed.args)
		if failed
		else _("The gateway is reachable and ready: {0}.").format(report.description),
		"checks": checks,
	}
