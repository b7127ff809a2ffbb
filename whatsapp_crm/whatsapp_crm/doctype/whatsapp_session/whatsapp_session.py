# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt
"""A facade: whitelisted actions (each checks write permission and reloads from the database, since
``frm.call`` only checks read and sends the browser's copy) and hooks. The work is in session_service."""

from __future__ import annotations

from functools import partial

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.model.naming import append_number_if_name_exists

from whatsapp_crm.chat import catchup, hours, sending
from whatsapp_crm.gateway import errors
from whatsapp_crm.gateway.client import SESSION_ID_RE
from whatsapp_crm.gateway.status import SessionState
from whatsapp_crm.gateway_records.config import GATEWAY, pick_gateway, session_counts
from whatsapp_crm.integration import MANAGER_ROLE, code_message
from whatsapp_crm.sessions.service import SessionService, delete_on_gateway


class WhatsAppSession(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from whatsapp_crm.whatsapp_crm.doctype.whatsapp_business_hours.whatsapp_business_hours import (
			WhatsAppBusinessHours,
		)

		attempts: DF.Int
		away_message: DF.SmallText | None
		business_hours: DF.Table[WhatsAppBusinessHours]
		connected_at: DF.Datetime | None
		gap_max_s: DF.Float
		gap_min_s: DF.Float
		gateway: DF.Link | None
		gateway_status: DF.Data | None
		greeting_message: DF.SmallText | None
		label: DF.Data | None
		last_checked: DF.Datetime | None
		last_error_code: DF.Data | None
		last_error_message: DF.SmallText | None
		last_sync_at: DF.Datetime | None
		last_sync_error: DF.SmallText | None
		last_sync_found: DF.Int
		linked_on: DF.Datetime | None
		new_chats_per_day: DF.Int
		owner_user: DF.Link | None
		phone_number: DF.Data | None
		qr_code: DF.LongText | None
		quiet_from: DF.Literal[
			"",
			"00:00",
			"00:30",
			"01:00",
			"01:30",
			"02:00",
			"02:30",
			"03:00",
			"03:30",
			"04:00",
			"04:30",
			"05:00",
			"05:30",
			"06:00",
			"06:30",
			"07:00",
			"07:30",
			"08:00",
			"08:30",
			"09:00",
			"09:30",
			"10:00",
			"10:30",
			"11:00",
			"11:30",
			"12:00",
			"12:30",
			"13:00",
			"13:30",
			"14:00",
			"14:30",
			"15:00",
			"15:30",
			"16:00",
			"16:30",
			"17:00",
			"17:30",
			"18:00",
			"18:30",
			"19:00",
			"19:30",
			"20:00",
			"20:30",
			"21:00",
			"21:30",
			"22:00",
			"22:30",
			"23:00",
			"23:30",
		]
		quiet_to: DF.Literal[
			"",
			"00:00",
			"00:30",
			"01:00",
			"01:30",
			"02:00",
			"02:30",
			"03:00",
			"03:30",
			"04:00",
			"04:30",
			"05:00",
			"05:30",
			"06:00",
			"06:30",
			"07:00",
			"07:30",
			"08:00",
			"08:30",
			"09:00",
			"09:30",
			"10:00",
			"10:30",
			"11:00",
			"11:30",
			"12:00",
			"12:30",
			"13:00",
			"13:30",
			"14:00",
			"14:30",
			"15:00",
			"15:30",
			"16:00",
			"16:30",
			"17:00",
			"17:30",
			"18:00",
			"18:30",
			"19:00",
			"19:30",
			"20:00",
			"20:30",
			"21:00",
			"21:30",
			"22:00",
			"22:30",
			"23:00",
			"23:30",
		]
		recovered_last_7_days: DF.Int
		send_per_day: DF.Int
		send_per_hour: DF.Int
		send_per_minute: DF.Int
		session_id: DF.Data
		show_typing: DF.Check
		status: DF.Literal["Not Created", "Connecting", "QR Ready", "Connected", "Disconnected", "Failed"]
		sync_state: DF.SmallText | None
		sync_watermark: DF.Datetime | None
		warmup_days: DF.Int
	# end: auto-generated types

	def before_insert(self) -> None:
		# A database read, no network: which gateway server the new session goes to.
		if not self.gateway:
			self.gateway = pick_gateway()

	def autoname(self) -> None:
		# The session id is unique per gateway, not per site (two WAHA Core servers each hold "default"):
		# the document keeps the id as its name while it is free.
		session_id = (self.session_id or "").strip()
		name = session_id
		if frappe.db.exists(self.doctype, name):
			name = append_number_if_name_exists(
				self.doctype, f"{session_id}-{frappe.scrub(self.gateway or '')}"
			)
		self.name = name

	def validate(self) -> None:
		sending.check_policy(self)  # no network: the values themselves
		hours.check_session(self)
		# No network in save hooks: the gateway is only contacted by the explicit actions below.
		self.session_id = (self.session_id or "").strip()
		if not SESSION_ID_RE.match(self.session_id):
			frappe.throw(code_message(errors.INVALID_SESSION_ID), title=_("Invalid Session ID"))
		if not self.gateway:
			frappe.throw(
				_(
					"No enabled WhatsApp Gateway has room for a new session. Add one, or raise its Most Sessions."
				),
				title=_("No gateway"),
			)
		if self.is_new():
			self._check_gateway_room()

	def _check_gateway_room(self) -> None:
		taken = frappe.db.exists(self.doctype, {"gateway": self.gateway, "session_id": self.session_id})
		if taken:
			frappe.throw(
				_("The gateway {0} already has a session with the id {1}.").format(
					frappe.bold(self.gateway), frappe.bold(self.session_id)
				),
				title=_("Session ID taken"),
			)
		limit = frappe.db.get_value(GATEWAY, self.gateway, "max_sessions")
		if limit and session_counts().get(self.gateway, 0) >= limit:
			frappe.throw(
				_(
					"The gateway {0} holds at most {1} sessions. Pick another gateway, or raise its Most Sessions."
				).format(frappe.bold(self.gateway), limit),
				title=_("Gateway full"),
			)

	def on_update(self) -> None:
		# The owner sees their session even without the WhatsApp Manager role (read-only share).
		if self.owner_user and self.has_value_changed("owner_user"):
			if MANAGER_ROLE not in frappe.get_roles(self.owner_user):
				frappe.share.add_docshare(
					self.doctype, self.name, self.owner_user, read=1, flags={"ignore_share_permission": True}
				)

	def on_trash(self) -> None:
		# Best effort, and only once the delete is committed: a gateway that is down must not block it.
		frappe.db.after_commit.add(partial(delete_on_gateway, self.name, self.session_id, self.gateway))

	@frappe.whitelist(methods=["POST"])
	def create_session(self) -> dict:
		"""Create the session on the gateway and get its QR."""
		return self._service().create()

	@frappe.whitelist(methods=["POST"])
	def get_status(self, recreate: bool = False) -> dict:
		"""The Status button and the form's poll."""
		return self._service().status(recreate=recreate)

	@frappe.whitelist(methods=["POST"])
	def refresh_qr(self) -> dict:
		"""Wait (bounded) for a fresh QR."""
		return self._service().refresh_qr()

	@frappe.whitelist(methods=["POST"])
	def logout(self) -> dict:
		"""Unlink the phone: the session is deleted on the gateway."""
		return self._service().logout()

	@frappe.whitelist(methods=["POST"])
	def request_pairing_code(self, phone: str) -> dict:
		"""Link by typing a code on the phone instead of scanning; rate-limited per session."""
		return self._service().request_pairing_code(phone)

	@frappe.whitelist(methods=["POST"])
	def sync_messages(self, since: str | None = None) -> dict:
		"""Sync messages: queue a catch-up of what the webhooks missed, from ``since`` or the watermark."""
		self.check_permission("write")
		return catchup.request(self.name, since)

	@property
	def recovered_last_7_days(self) -> int:
		"""Virtual: messages catch-ups stored in the last 7 days (summed from the session's history)."""
		return catchup.recovered_since(self.name) if self.name and not self.is_new() else 0

	def apply_gateway_state(self, state: SessionState, source: str, fetch_qr: bool = False) -> dict:
		"""Store what a trusted source (a verified webhook) says about the session (not whitelisted)."""
		return SessionService(self).apply_gateway_state(state, source, fetch_qr=fetch_qr)

	def _service(self) -> SessionService:
		self.check_permission("write")
		# frm.call builds the document from the browser's copy: only trust the database.
		if not self.flags.fresh_from_db:
			self.reload()
		return SessionService(self)


def on_doctype_update() -> None:
	# Unique per gateway: the database refuses a second (gateway, id) even under concurrent inserts.
	frappe.db.add_unique(
		"WhatsApp Session", ["gateway", "session_id"], constraint_name="unique_gateway_session"
	)
