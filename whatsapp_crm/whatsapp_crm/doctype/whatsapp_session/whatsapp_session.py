# Copyright (c) 2026, whatsapp_crm developers
# For license information, please see license.txt

from __future__ import annotations

import math
import time
from dataclasses import replace
from functools import partial

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import now_datetime

from whatsapp_crm import live
from whatsapp_crm.gateway import errors, messages
from whatsapp_crm.gateway.acquire import (
	CONNECTED,
	CONNECTING,
	DISCONNECTED,
	NOT_CREATED,
	QR_READY,
	Attempt,
	QrOutcome,
	QrPolicy,
	acquire_qr,
	build_payload,
	ms,
	outcome_from_error,
)
from whatsapp_crm.gateway.client import SESSION_ID_RE, GatewayClient, normalise_phone
from whatsapp_crm.gateway.errors import GatewayError, InvalidPhone
from whatsapp_crm.gateway.monitor import MonitorPolicy, watch
from whatsapp_crm.gateway.qr import to_data_uri
from whatsapp_crm.gateway.status import Kind, SessionState
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
	logger,
	policy_from,
	publish_progress,
	say,
	say_outcome,
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
		"""Create the session on the gateway and get its QR: through the background monitor when a worker
		runs (the request returns at once), else within the request's deadline."""
		self._prepare()
		settings = get_settings()
		mode = self._live_mode(settings)
		if mode == "monitor":
			return self._start_monitor(settings, create=True, wait_s=settings.request_wait)
		return self._run_inline("create", settings, debug={"monitor": mode})

	@frappe.whitelist(methods=["POST"])
	def get_status(self, recreate: bool = False) -> dict:
		"""The Status button and the form's poll. With a live monitor it answers from the stored state;
		otherwise one request per session goes to the gateway at a time, and none while the breaker is open."""
		self._prepare()
		settings = get_settings()
		if live.monitor_alive(self.name):
			return self._stored_payload(settings, source="monitor")
		breaker = live.breaker_for(settings.gateway_url)
		state = breaker.state()
		if state.open:
			return self._stored_payload(
				settings, source="breaker", error_code=state.code, retry_in_s=state.retry_in_s
			)
		token = live.try_single_flight(self.name, settings.status_timeout + settings.qr_timeout + 2)
		if token is None:
			return self._stored_payload(settings, source="single_flight")
		try:
			payload = self._run_inline("status", settings, recreate=recreate)
		finally:
			live.end_single_flight(self.name, token)
		if payload["keep_polling"] and self._live_mode(settings) == "monitor":
			self._start_monitor(settings, create=False, wait_s=0)
			payload["debug"]["monitor"] = "started"
		return payload

	@frappe.whitelist(methods=["POST"])
	def refresh_qr(self) -> dict:
		"""Wait (bounded) for a fresh QR for a session that already exists on the gateway."""
		self._prepare()
		return self._run_inline("refresh", get_settings())

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
			return say_outcome(build_payload(outcome, session_db_id=self.name), outcome)
		live.stop_monitor(self.name)
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
		payload = say(build_payload(outcome, session_db_id=self.name), messages.LOGGED_OUT)
		self._share(payload)
		return payload

	@frappe.whitelist(methods=["POST"])
	def request_pairing_code(self, phone: str) -> dict:
		"""Link by typing a code on the phone instead of scanning; rate-limited per session."""
		self._prepare()
		settings = get_settings()
		limit = live.pairing_limit(self.name, settings.pairing_limit, settings.pairing_window * 60)
		decision = limit.peek()
		if not decision.allowed:
			frappe.throw(
				_(
					"Too many pairing codes for this session. WhatsApp limits device linking; try again in {0} minutes."
				).format(max(1, math.ceil(decision.retry_after_s / 60))),
				exc=frappe.RateLimitExceededError,
				title=_("Please wait"),
			)
		try:
			phone = normalise_phone(phone)  # bad input costs nothing from the quota
			with client_from(settings) as client:
				limit.hit()
				code = client.request_pairing_code(self.session_id, phone, timeout=settings.status_timeout)
		except InvalidPhone:
			frappe.throw(
				_(
					"Enter the phone number with its country code, digits only (8 to 15), for example 34600111222."
				),
				title=_("Invalid phone number"),
			)
		except GatewayError as e:
			outcome = outcome_from_error(self.session_id, e)
			self._record_failures(outcome, "pairing")
			return {"success": False, "code": "", "qr_error": e.code, "message": code_message(e.code)}
		if self._live_mode(settings) == "monitor":
			self._start_monitor(settings, create=False, wait_s=0)
		return {
			"success": True,
			"code": f"{code[:4]}-{code[4:]}",
			"qr_error": None,
			"message": _(
				"On your phone: WhatsApp > Linked devices > Link a device > Link with phone number instead, then type this code."
			),
			"remaining": limit.peek().remaining,
		}

	# -- the background monitor (a job; not callable from the browser) ---------------------------------------

	def run_monitor(self, create: bool = False) -> str:
		"""Watch the session until it is linked, ended, failed, its QR expired or the cap is reached.
		Only one runs per session, across workers and hosts (a Redis lock with a heartbeat)."""
		# Jobs run in the site's default language; speak the language of the user who started it.
		frappe.set_user_lang(frappe.session.user)
		settings = get_settings()
		policy = policy_from(settings)
		lock = live.MonitorLock(
			self.name,
			ttl_s=policy.status_timeout
			+ policy.qr_timeout
			+ max(policy.qr_error_wait, policy.timeout_wait)
			+ 10,
		)
		if not lock.acquire():
			return "already_running"
		reason = "failed"
		try:
			try:
				client = client_from(settings)
			except GatewayError as e:
				self._apply_live(settings, outcome_from_error(self.session_id, e, policy))
				return reason
			with client:
				reason = watch(
					client,
					self.session_id,
					policy,
					MonitorPolicy(cap_s=settings.monitor_cap, poll_s=min(2.0, settings.poll_interval)),
					on_change=partial(self._apply_live, settings),
					heartbeat=lock.heartbeat,
					create_first=bool(create),
				)
		finally:
			lock.release()
			logger().info("session=%s op=monitor stopped reason=%s", self.name, reason)
		return reason

	def apply_gateway_state(self, state: SessionState, source: str, fetch_qr: bool = False) -> dict:
		"""Store what a trusted source (a verified webhook) says about the session, and push it. Only a
		change is written and pushed: gateways repeat themselves (WAHA every 2 s while reconnecting)."""
		if state.kind == Kind.QR and not state.qr and fetch_qr:
			state.qr = self._fetch_qr()
		outcome = QrOutcome(
			session_id=self.session_id,
			state={Kind.QR: "qr", Kind.CONNECTED: "connected", Kind.ENDED: "ended"}.get(
				state.kind, "waiting"
			),
			gateway_status=state.raw_status,
			has_qr=state.qr_available,
			phone=state.phone,
		)
		if state.kind == Kind.QR:
			if not state.qr:
				outcome.state = "waiting"
			else:
				outcome.qr_payload, outcome.qr_code = state.qr, to_data_uri(state.qr)
		if self._unchanged(outcome):
			return self._stored_payload(get_settings(), source=source)
		return self._persist(outcome, source)

	def _fetch_qr(self) -> str | None:
		"""The QR a gateway announced without sending it (WAHA); None leaves it to the next poll."""
		settings = get_settings()
		try:
			with client_from(settings) as client:
				return client.get_qr(self.session_id, timeout=min(5.0, settings.qr_timeout)).payload
		except GatewayError:
			return None

	def _unchanged(self, outcome: QrOutcome) -> bool:
		return (
			outcome.doc_status == self.status
			and (outcome.gateway_status or "") == (self.gateway_status or "")
			and (outcome.state != "qr" or outcome.qr_code == self.qr_code)
			and (outcome.state != "connected" or (outcome.phone or self.phone_number) == self.phone_number)
		)

	# -- plumbing -------------------------------------------------------------------------------------------

	def _prepare(self) -> None:
		self.check_permission("write")
		# frm.call builds the document from the browser's copy: only trust the database.
		if not self.flags.fresh_from_db:
			self.reload()

	@staticmethod
	def _live_mode(settings) -> str:
		if not settings.use_monitor:
			return "disabled"
		return "monitor" if live.workers_available() else "no_worker"

	def _start_monitor(self, settings, *, create: bool, wait_s: float) -> dict:
		"""Hand the waiting to the monitor; optionally wait briefly for its first news."""
		if create:
			live.clear_payload(self.name)
			self.db_set(
				{"status": CONNECTING, "qr_code": "", "last_checked": now_datetime()}, update_modified=False
			)
			frappe.db.commit()  # nosemgrep: the monitor job must see the state this request wrote
		frappe.enqueue_doc(
			SESSION,
			self.name,
			"run_monitor",
			queue=live.MONITOR_QUEUE,
			timeout=int(settings.monitor_cap + settings.deadline + 60),
			job_id=live.monitor_job_id(self.name),
			deduplicate=True,
			create=create,
		)
		deadline = time.monotonic() + max(0.0, wait_s)
		while time.monotonic() < deadline:
			payload = live.latest_payload(self.name)
			if payload and (payload["qr_available"] or not payload["keep_polling"]):
				payload["debug"]["monitor"] = "started"
				return payload
			time.sleep(0.1)
		outcome = QrOutcome(
			session_id=self.session_id, state="waiting", poll_after_ms=ms(settings.poll_interval)
		)
		payload = say(build_payload(outcome, session_db_id=self.name), messages.CREATING)
		payload["debug"]["monitor"] = "started"
		return payload

	def _run_inline(
		self, operation: str, settings, recreate: bool = False, debug: dict | None = None
	) -> dict:
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
			live.breaker_for(settings.gateway_url).record(outcome.error.code if outcome.error else None)
		payload = self._persist(outcome, operation)
		payload["debug"].update(debug or {})
		return payload

	def _talk(self, client: GatewayClient, operation: str, policy: QrPolicy, recreate: bool) -> QrOutcome:
		"""The one place where an in-request acquisition talks to the gateway."""
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

	def _apply_live(self, settings, outcome: QrOutcome) -> None:
		live.breaker_for(settings.gateway_url).record(outcome.error.code if outcome.error else None)
		self._persist(outcome, "monitor")
		frappe.db.commit()  # nosemgrep: each change is visible (and pushed) as it happens, not at job end

	def _stored_payload(
		self, settings, *, source: str, error_code: str | None = None, retry_in_s: float = 0
	) -> dict:
		"""Answer from what is known, without asking the gateway."""
		payload = live.latest_payload(self.name) or self._payload_from_doc(settings)
		payload["debug"]["source"] = source
		if error_code:
			payload.update(
				success=False,
				qr_error=error_code,
				poll_after_ms=max(payload["poll_after_ms"], ms(retry_in_s)),
			)
			say(payload, messages.for_code(error_code))
			payload["debug"]["breaker_open"] = True
		return payload

	def _payload_from_doc(self, settings) -> dict:
		status = self.status or NOT_CREATED
		waiting = status in (CONNECTING, QR_READY)
		qr = self.qr_code if status == QR_READY else ""
		code = self.last_error_code or None
		if status == CONNECTED:
			template, args = messages.for_outcome("connected", None, self.phone_number)
		elif status == QR_READY and qr:
			template, args = messages.QR_READY, []
		elif status == NOT_CREATED:
			template, args = messages.NOT_CREATED_YET, []
		else:
			template, args = messages.for_code(code or errors.QR_NOT_READY), []
		payload = {
			"success": True,
			"session_db_id": self.name,
			"session_id": self.session_id,
			"status": status,
			"qr_available": bool(qr),
			"qr_code": qr,
			"qr_error": code if status != CONNECTED else None,
			"keep_polling": waiting,
			"poll_after_ms": ms(settings.poll_interval),
			"debug": {"gateway_status": self.gateway_status, "last_checked": str(self.last_checked or "")},
		}
		return say(payload, template, args)

	def _persist(self, outcome: QrOutcome, operation: str) -> dict:
		status = outcome.doc_status
		never_created = self.status == NOT_CREATED and outcome.error_code == errors.SESSION_NOT_FOUND
		if never_created:
			status = NOT_CREATED
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

		payload = build_payload(outcome, session_db_id=self.name)
		if never_created:
			say(payload, messages.NOT_CREATED_YET)
		else:
			say_outcome(payload, outcome)
		payload["status"] = status
		payload["debug"]["source"] = operation
		self._share(payload)
		return payload

	def _share(self, payload: dict) -> None:
		"""Every viewer of the form gets the change (after commit), and status reads can answer from it."""
		live.store_payload(self.name, payload)
		live.publish_update(self.name, payload)

	def _record_failures(self, outcome: QrOutcome, operation: str) -> None:
		for title, error, attempt in failures_to_log(outcome):
			log_gateway_error(
				title, error, self.name, attempt=attempt, elapsed_ms=outcome.elapsed_ms, operation=operation
			)


def delete_on_gateway(name: str, session_id: str) -> None:
	"""Remove a deleted document's session from the gateway; failures go to the Error Log."""
	live.stop_monitor(name)
	try:
		with client_from(get_settings()) as client:
			client.delete_session(session_id, timeout=5)
	except GatewayError as e:
		if e.code != errors.NOT_CONFIGURED:
			log_gateway_error(TITLE_GATEWAY, e, name, operation="delete")
