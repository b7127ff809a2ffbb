"""The session service: everything that happens to a WhatsApp Session, in one place.

The doctype controller, the API, the watcher, the health sweep and the webhook receiver all call this; the
controller is a short facade of whitelisted methods and hooks. The protocol and the policy live in
``whatsapp_crm.gateway``; this module does permissions-free orchestration: which path a call takes (the
watcher, or the request itself when a site has no worker), persistence (write on change), history, the
Error Log and realtime pushes.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from functools import partial

import frappe
from frappe import _
from frappe.utils import now_datetime

from whatsapp_crm.gateway import errors, texts
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
from whatsapp_crm.gateway.client import GatewayClient
from whatsapp_crm.gateway.errors import GatewayError, InvalidPhone
from whatsapp_crm.gateway.phones import phone_digits
from whatsapp_crm.gateway.qr import to_data_uri
from whatsapp_crm.gateway.status import Kind, SessionState
from whatsapp_crm.gateway_records.config import client_for, note_outcome, open_breaker
from whatsapp_crm.integration import (
	TITLE_GATEWAY,
	code_message,
	failures_to_log,
	get_settings,
	log_attempt,
	log_gateway_error,
	policy_from,
	publish_progress,
	say,
	say_outcome,
)
from whatsapp_crm.sessions import history, live

# Where a change came from, as the history records it.
SOURCES = {"webhook": "Webhook", "watcher": "Watcher", "sweep": "Sweep"}


class SessionService:
	def __init__(self, doc) -> None:
		self.doc = doc

	# -- what users ask for -------------------------------------------------------------------------------------

	def create(self) -> dict:
		"""Create the session on the gateway and get its QR: through the watcher when a worker runs (the
		request returns within the in-request wait), else within the request's deadline."""
		settings = get_settings()
		mode = live_mode(settings)
		if mode == "watcher":
			live.clear_payload(self.doc.name)
			previous = self.doc.status
			self.write({"status": CONNECTING, "qr_code": "", "last_checked": now_datetime()})
			if previous != CONNECTING:
				history.record(self.doc.name, previous, CONNECTING, "User")
			frappe.db.commit()  # nosemgrep: the watcher must see the state this request wrote
			return self._hand_to_watcher(settings, create=True, wait_s=settings.request_wait)
		return self._run_inline("create", settings, debug={"monitor": mode})

	def status(self, recreate: bool = False) -> dict:
		"""The Status button and the form's poll. Never waits on the gateway while a worker runs: answers
		from the watcher's latest news, or from a read younger than the poll interval, or asks the watcher
		for one and waits at most the in-request wait."""
		settings = get_settings()
		if live.watched(self.doc.name):
			return self.stored_payload(settings, source="watcher")
		fresh = live.fresh_payload(self.doc.name, settings.poll_interval)
		# ``recreate`` (the form's poll) asks to re-create a session the gateway forgot, not for a read of
		# its own: a fresh answer serves it too, unless that answer is the forgotten session itself.
		if fresh is not None and not (recreate and fresh.get("qr_error") == errors.SESSION_NOT_FOUND):
			fresh["debug"]["source"] = "fresh"
			return fresh
		mode = live_mode(settings)
		if mode == "watcher":
			return self._hand_to_watcher(settings, create=False, wait_s=settings.request_wait)
		state = open_breaker(self.doc.gateway, self.doc.name)
		if state is not None:
			return self.stored_payload(
				settings, source="breaker", error_code=state.code, retry_in_s=state.retry_in_s
			)
		token = live.try_single_flight(self.doc.name, settings.status_timeout + settings.qr_timeout + 2)
		if token is None:
			return self.stored_payload(settings, source="single_flight")
		try:
			return self._run_inline("status", settings, recreate=recreate, debug={"monitor": mode})
		finally:
			live.end_single_flight(self.doc.name, token)

	def refresh_qr(self) -> dict:
		"""Wait (bounded) for a fresh QR for a session that already exists on the gateway."""
		settings = get_settings()
		mode = live_mode(settings)
		if mode == "watcher":
			return self._hand_to_watcher(settings, create=False, wait_s=settings.request_wait)
		return self._run_inline("refresh", settings, debug={"monitor": mode})

	def logout(self) -> dict:
		"""Unlink the phone: the session is deleted on the gateway."""
		outcome = QrOutcome(session_id=self.doc.session_id, state="ended")
		try:
			with client_for(self.doc) as client:
				client.delete_session(self.doc.session_id)
		except GatewayError as e:
			outcome = outcome_from_error(self.doc.session_id, e)
			self.record_failures(outcome, "logout")
			return say_outcome(build_payload(outcome, session_db_id=self.doc.name), outcome)
		live.watch_drop(self.doc.name)
		previous = self.doc.status
		self.write(
			{
				"status": DISCONNECTED,
				"qr_code": "",
				"phone_number": "",
				"connected_at": None,
				"gateway_status": "",
				"last_checked": now_datetime(),
			}
		)
		history.record(self.doc.name, previous, DISCONNECTED, "User", reason=_(texts.LOGGED_OUT))
		payload = say(build_payload(outcome, session_db_id=self.doc.name), texts.LOGGED_OUT)
		self.share(payload)
		return payload

	def request_pairing_code(self, phone: str) -> dict:
		"""Link by typing a code on the phone instead of scanning; rate-limited per session."""
		settings = get_settings()
		limit = live.pairing_limit(self.doc.name, settings.pairing_limit, settings.pairing_window * 60)
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
			phone = phone_digits(phone)  # bad input costs nothing from the quota
			with client_for(self.doc, settings) as client:
				limit.hit()
				code = client.request_pairing_code(
					self.doc.session_id, phone, timeout=settings.status_timeout
				)
		except InvalidPhone:
			frappe.throw(
				_(
					"Enter the phone number with its country code, digits only (8 to 15), for example 34600111222."
				),
				title=_("Invalid phone number"),
			)
		except GatewayError as e:
			outcome = outcome_from_error(self.doc.session_id, e)
			self.record_failures(outcome, "pairing")
			return {"success": False, "code": "", "qr_error": e.code, "message": code_message(e.code)}
		if live_mode(settings) == "watcher":
			self._hand_to_watcher(settings, create=False, wait_s=0)
		return {
			"success": True,
			"code": f"{code[:4]}-{code[4:]}",
			"qr_error": None,
			"message": _(
				"On your phone: WhatsApp > Linked devices > Link a device > Link with phone number instead, then type this code."
			),
			"remaining": limit.peek().remaining,
		}

	# -- what gateways and the sweep tell -----------------------------------------------------------------------

	def apply_gateway_state(self, state: SessionState, source: str, fetch_qr: bool = False) -> dict:
		"""Store what a trusted source (a verified webhook) says about the session, and push it. Only a
		change is written and pushed: gateways repeat themselves (WAHA every 2 s while reconnecting)."""
		if state.kind == Kind.QR and not state.qr and fetch_qr:
			state.qr = self._fetch_qr()
		outcome = QrOutcome(
			session_id=self.doc.session_id,
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
		if self.unchanged(outcome):
			return self.stored_payload(get_settings(), source=source)
		return self.persist(outcome, source)

	def _fetch_qr(self) -> str | None:
		"""The QR a gateway announced without sending it (WAHA); None leaves it to the next read."""
		settings = get_settings()
		try:
			with client_for(self.doc, settings) as client:
				return client.get_qr(self.doc.session_id, timeout=min(5.0, settings.qr_timeout)).payload
		except GatewayError:
			return None

	def unchanged(self, outcome: QrOutcome) -> bool:
		"""Whether the session already shows what this outcome says (then there is nothing to write or push)."""
		doc = self.doc
		return (
			outcome.doc_status == doc.status
			and (outcome.gateway_status or "") == (doc.gateway_status or "")
			and (outcome.state != "qr" or outcome.qr_code == doc.qr_code)
			and (outcome.state != "connected" or (outcome.phone or doc.phone_number) == doc.phone_number)
		)

	# -- the two paths to the gateway ----------------------------------------------------------------------------

	def _hand_to_watcher(self, settings, *, create: bool, wait_s: float) -> dict:
		"""Put the session on the watcher's list, wake the watcher, and wait briefly for its first news."""
		before = (live.latest_payload(self.doc.name) or {}).get("debug", {}).get("checked_at")
		live.watch(self.doc, create_first=create)
		deadline = time.monotonic() + max(0.0, wait_s)
		while time.monotonic() < deadline:
			payload = live.latest_payload(self.doc.name)
			if payload and payload.get("debug", {}).get("checked_at") != before:
				payload["debug"]["monitor"] = "started"
				return payload
			time.sleep(0.1)
		if create:
			outcome = QrOutcome(
				session_id=self.doc.session_id, state="waiting", poll_after_ms=ms(settings.poll_interval)
			)
			payload = say(build_payload(outcome, session_db_id=self.doc.name), texts.CREATING)
		else:
			payload = self.stored_payload(settings, source="watcher")
		payload["debug"]["monitor"] = "started"
		return payload

	def _run_inline(
		self, operation: str, settings, recreate: bool = False, debug: dict | None = None
	) -> dict:
		"""The request waits on the gateway itself: only when no worker runs (or the watcher is switched off)."""
		policy = policy_from(settings)
		if operation == "status":
			policy = replace(policy, max_attempts=1)
		try:
			client = client_for(self.doc, settings)
		except GatewayError as e:
			outcome = outcome_from_error(self.doc.session_id, e, policy)
		else:
			with client:
				outcome = self._talk(client, operation, policy, recreate)
			note_outcome(self.doc.gateway, self.doc.name, outcome.error)
		payload = self.persist(outcome, operation)
		payload["debug"].update(debug or {})
		if (debug or {}).get("monitor") == "no_worker":
			payload["debug"]["notice"] = (
				"no background worker listens on the watcher's queue: the request waited"
			)
		return payload

	def _talk(self, client: GatewayClient, operation: str, policy: QrPolicy, recreate: bool) -> QrOutcome:
		"""The one place where an in-request acquisition talks to the gateway."""
		config_error = None
		if operation == "create":
			started = time.monotonic()
			try:
				config_error = client.create_session(
					self.doc.session_id, timeout=min(policy.status_timeout, policy.deadline / 2)
				).config_error
			except GatewayError as e:
				return outcome_from_error(self.doc.session_id, e, policy)
			# create and acquisition share one deadline
			policy = replace(policy, deadline=max(1.0, policy.deadline - (time.monotonic() - started)))
		outcome = acquire_qr(
			client,
			self.doc.session_id,
			policy,
			on_attempt=partial(self._on_attempt, operation),
			recreate_missing=operation != "status" or bool(recreate),
		)
		if config_error is not None:
			outcome.failures.append((0, config_error))  # logged and shown apart from the QR
		return outcome

	def _on_attempt(self, operation: str, attempt: Attempt) -> None:
		log_attempt(self.doc.name, operation, attempt)
		if operation != "status":
			publish_progress(self.doc.name, attempt)

	# -- persistence -----------------------------------------------------------------------------------------------

	def stored_payload(
		self, settings, *, source: str, error_code: str | None = None, retry_in_s: float = 0
	) -> dict:
		"""Answer from what is known, without asking the gateway."""
		payload = live.latest_payload(self.doc.name) or self.payload_from_doc(settings)
		payload["debug"]["source"] = source
		if error_code:
			payload.update(
				success=False,
				qr_error=error_code,
				poll_after_ms=max(payload["poll_after_ms"], ms(retry_in_s)),
			)
			say(payload, texts.for_code(error_code))
			payload["debug"]["breaker_open"] = True
		return payload

	def payload_from_doc(self, settings) -> dict:
		doc = self.doc
		status = doc.status or NOT_CREATED
		waiting = status in (CONNECTING, QR_READY)
		qr = doc.qr_code if status == QR_READY else ""
		code = doc.last_error_code or None
		if status == CONNECTED:
			template, args = texts.for_outcome("connected", None, doc.phone_number)
		elif status == QR_READY and qr:
			template, args = texts.QR_READY, []
		elif status == NOT_CREATED:
			template, args = texts.NOT_CREATED_YET, []
		else:
			template, args = texts.for_code(code or errors.QR_NOT_READY), []
		payload = {
			"success": True,
			"session_db_id": doc.name,
			"session_id": doc.session_id,
			"status": status,
			"qr_available": bool(qr),
			"qr_code": qr,
			"qr_error": code if status != CONNECTED else None,
			"keep_polling": waiting,
			"poll_after_ms": ms(settings.poll_interval),
			"debug": {"gateway_status": doc.gateway_status, "last_checked": str(doc.last_checked or "")},
		}
		return say(payload, template, args)

	def persist(self, outcome: QrOutcome, operation: str, reason: str | None = None) -> dict:
		"""Store an outcome on the document, record a status change in the history, log failures, push."""
		doc = self.doc
		previous = doc.status
		status = outcome.doc_status
		never_created = doc.status == NOT_CREATED and outcome.error_code == errors.SESSION_NOT_FOUND
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
			values["phone_number"] = outcome.phone or doc.phone_number
			if doc.status != CONNECTED or not doc.connected_at:
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
		self.write(values)
		if status != previous:
			history.record(
				doc.name,
				previous,
				status,
				SOURCES.get(operation, "User"),
				gateway_status=outcome.gateway_status,
				reason=reason or values.get("last_error_message") or None,
			)
		if not never_created:
			self.record_failures(outcome, operation)

		payload = build_payload(outcome, session_db_id=doc.name)
		if never_created:
			say(payload, texts.NOT_CREATED_YET)
		else:
			say_outcome(payload, outcome)
		payload["status"] = status
		payload["debug"]["source"] = operation
		self.share(payload)
		return payload

	def write(self, values: dict) -> None:
		"""Store the session's state: one UPDATE, no ``modified`` bump (an open form never reads as changed
		by someone else) and none of db_set's reload of the whole document first. Status changes are
		recorded as WhatsApp Session Events, which is where other apps can hook in."""
		frappe.db.set_value("WhatsApp Session", self.doc.name, values, update_modified=False)
		self.doc.update(values)

	def share(self, payload: dict) -> None:
		"""Every viewer of the form gets the change (after commit), and status reads can answer from it."""
		live.store_payload(self.doc.name, payload)
		live.publish_update(self.doc.name, payload)

	def record_failures(self, outcome: QrOutcome, operation: str) -> None:
		for title, error, attempt in failures_to_log(outcome):
			log_gateway_error(
				title,
				error,
				self.doc.name,
				attempt=attempt,
				elapsed_ms=outcome.elapsed_ms,
				operation=operation,
			)


def live_mode(settings) -> str:
	"""How gateway reads happen: "watcher" (a background job), or in the request ("disabled": switched off
	in the settings; "no_worker": the site runs no worker that could serve the watcher)."""
	if not settings.use_monitor:
		return "disabled"
	return "watcher" if live.workers_available() else "no_worker"


def delete_on_gateway(name: str, session_id: str, gateway: str) -> None:
	"""Remove a deleted document's session from the gateway; failures go to the Error Log."""
	live.watch_drop(name)
	live.clear_payload(name)
	try:
		with client_for({"gateway": gateway}) as client:
			client.delete_session(session_id, timeout=5)
	except GatewayError as e:
		if e.code != errors.NOT_CONFIGURED:
			log_gateway_error(TITLE_GATEWAY, e, name, operation="delete")
