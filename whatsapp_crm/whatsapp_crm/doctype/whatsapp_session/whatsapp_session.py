# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import now_datetime

from whatsapp_crm.gateway import errors
from whatsapp_crm.gateway.acquire import (
	CONNECTED,
	DISCONNECTED,
	NOT_CREATED,
	Attempt,
	QrOutcome,
	QrPolicy,
	acquire_qr,
	build_payload,
	outcome_from_error,
)
from whatsapp_crm.gateway.client import SESSION_ID_RE, GatewayClient
from whatsapp_crm.gateway.errors import GatewayError
from whatsapp_crm.integration import (
	MANAGER_ROLE,
	SESSION,
	TITLE_GATEWAY,
	client_from,
	code_message,
	failures_to_log,
	get_settings,
	log_attempt,
	log_gateway_error,
	outcome_message,
	policy_from,
	publish_progress,
)


class WhatsAppSession(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		attempts: DF.Int
		connected_at: DF.Datetime | None
		gateway_status: DF.Data | None
		label: DF.Data | None
		last_checked: DF.Datetime | None
		last_error_code: DF.Data | None
		last_error_message: DF.SmallText | None
		owner_user: DF.Link | None
		phone_number: DF.Data | None
		qr_code: DF.LongText | None
		session_id: DF.Data
		status: DF.Literal["Not Created", "Connecting", "QR Ready", "Connected", "Disconnected", "Failed"]
	# end: auto-generated types

	def validate(self) -> None:
		# No network in save hooks: the gateway is only contacted by the explicit actions below.
		self.session_id = (self.session_id or "").strip()
		if not SESSION_ID_RE.match(self.session_id):
			frappe.throw(code_message(errors.INVALID_SESSION_ID), title=_("Invalid Session ID"))

	def on_update(self) -> None:
		# The owner sees their session even without the WhatsApp Manager role (read-only share).
		if self.owner_user and self.has_value_changed("owner_user"):
			if MANAGER_ROLE not in frappe.get_roles(self.owner_user):
				frappe.share.add_docshare(
					self.doctype, self.name, self.owner_user, read=1, flags={"ignore_share_permission": True}
				)

	def on_trash(self) -> None:
		# Best effort, and only once the delete is committed: a gateway that is down must not block it.
		frappe.db.after_commit.add(partial(delete_on_gateway, self.name, self.session_id))

	# -- actions (each checks write permission itself: frm.call only checks read) ---------------------------

	@frappe.whitelist(methods=["POST"])
	def create_session(self) -> dict:
		"""Create the session on the gateway, then wait (bounded) for its QR."""
		return self._run("create")

	@frappe.whitelist(methods=["POST"])
	def get_status(self, recreate: bool = False) -> dict:
		"""One status read, plus a QR read when the gateway has one (the Status button and the poll)."""
		return self._run("status", recreate=recreate)

	@frappe.whitelist(methods=["POST"])
	def refresh_qr(self) -> dict:
		"""Wait (bounded) for a fresh QR for a session that already exists on the gateway."""
		return self._run("refresh")

	@frappe.whitelist(methods=["POST"])
	def logout(self) -> dict:
		"""Unlink the phone: the session is deleted on the gateway."""
		self._prepare()
		outcome = QrOutcome(session_id=self.session_id, state="ended")
		try:
			with client_from(get_settings()) as client:
				client.delete_session(self.session_id)
		except GatewayError as e:
			outcome = outcome_from_error(self.session_id, e)
			self._record_failures(outcome, "logout")
			return build_payload(outcome, message=outcome_message(outcome), session_db_id=self.name)
		self.db_set(
			{
				"status": DISCONNECTED,
				"qr_code": "",
				"phone_number": "",
				"connected_at": None,
				"gateway_status": "",
				"last_checked": now_datetime(),
			},
			update_modified=False,
		)
		return build_payload(
			outcome,
			message=_("The phone was unlinked and the session was removed from the gateway."),
			session_db_id=self.name,
		)

	# -- plumbing -------------------------------------------------------------------------------------------

	def _prepare(self) -> None:
		self.check_permission("write")
		# frm.call builds the document from the browser's copy: only trust the database.
		self.reload()

	def _run(self, operation: str, recreate: bool = False) -> dict:
		self._prepare()
		settings = get_settings()
		policy = policy_from(settings)
		if operation == "status":
			policy = replace(policy, max_attempts=1)
		try:
			client = client_from(settings)
		except GatewayError as e:
			outcome = outcome_from_error(self.session_id, e, policy)
		else:
			with client:
				outcome = self._talk(client, operation, policy, recreate)
		return self._persist(outcome, operation)

	def _talk(self, client: GatewayClient, operation: str, policy: QrPolicy, recreate: bool) -> QrOutcome:
		"""The one place where a session's acquisition talks to the gateway."""
		if operation == "create":
			started = time.monotonic()
			try:
				client.create_session(
					self.session_id, timeout=min(policy.status_timeout, policy.deadline / 2)
				)
			except GatewayError as e:
				return outcome_from_error(self.session_id, e, policy)
			# create and acquisition share one deadline
			policy = replace(policy, deadline=max(1.0, policy.deadline - (time.monotonic() - started)))
		return acquire_qr(
			client,
			self.session_id,
			policy,
			on_attempt=partial(self._on_attempt, operation),
			recreate_missing=operation != "status" or bool(recreate),
		)

	def _on_attempt(self, operation: str, attempt: Attempt) -> None:
		log_attempt(self.name, operation, attempt)
		if operation != "status":
			publish_progress(self.name, attempt)

	def _persist(self, outcome: QrOutcome, operation: str) -> dict:
		status = outcome.doc_status
		message = outcome_message(outcome)
		never_created = self.status == NOT_CREATED and outcome.error_code == errors.SESSION_NOT_FOUND
		if never_created:
			status = NOT_CREATED
			message = _("This session has not been created on the gateway yet. Click Create session.")
		values = {
			"status": status,
			"last_checked": now_datetime(),
			"attempts": len(outcome.attempts),
		}
		if outcome.gateway_status is not None:
			values["gateway_status"] = outcome.gateway_status
		if outcome.state == "qr":
			values["qr_code"] = outcome.qr_code
		elif outcome.state != "waiting":
			values["qr_code"] = ""
		if outcome.state == "connected":
			values["phone_number"] = outcome.phone or self.phone_number
			if self.status != CONNECTED or not self.connected_at:
				values["connected_at"] = now_datetime()
		last_failure = next(
			(e for _n, e in reversed(outcome.failures) if e.code != errors.QR_NOT_READY), None
		)
		if outcome.error is not None and outcome.error.code != errors.QR_NOT_READY:
			last_failure = outcome.error
		if last_failure is not None and not never_created:
			values["last_error_code"] = last_failure.code
			values["last_error_message"] = code_message(last_failure.code)
		elif outcome.state == "connected":
			values["last_error_code"] = values["last_error_message"] = ""
		self.db_set(values, update_modified=False)
		if not never_created:
			self._record_failures(outcome, operation)

		payload = build_payload(outcome, message=message, session_db_id=self.name)
		payload["status"] = status
		return payload

	def _record_failures(self, outcome: QrOutcome, operation: str) -> None:
		for title, error, attempt in failures_to_log(outcome):
			log_gateway_error(
				title, error, self.name, attempt=attempt, elapsed_ms=outcome.elapsed_ms, operation=operation
			)


def delete_on_gateway(name: str, session_id: str) -> None:
	"""Remove a deleted document's session from the gateway; failures go to the Error Log."""
	try:
		with client_from(get_settings()) as client:
			client.delete_session(session_id, timeout=5)
	except GatewayError as e:
		if e.code != errors.NOT_CONFIGURED:
			log_gateway_error(TITLE_GATEWAY, e, name, operation="delete")
