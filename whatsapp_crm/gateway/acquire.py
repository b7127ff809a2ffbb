"""acquire_qr(): the bounded, progressive QR acquisition policy, and the session payload's builder
(see docs/architecture.md, 'QR acquisition' and 'The session payload').

One attempt = a status read, then (only when the status says a QR exists) a QR read. Waits between attempts
depend on what went wrong; the whole acquisition never runs past its deadline, because both the waits and
the next request's timeouts are clipped to the time left. It then returns what it knows and tells the caller
when to poll again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception

from . import errors
from .client import GatewayClient
from .errors import ConfirmOnPhone, GatewayError, GatewayTimeout, QrNotReady, SessionEnded, SessionNotFound
from .qr import to_data_uri
from .status import Kind, confirm_word

# The doc's Status values; the Frappe layer stores exactly these.
# See docs/architecture.md, 'The session payload'.
NOT_CREATED = "Not Created"
CONNECTING = "Connecting"
QR_READY = "QR Ready"
CONNECTED = "Connected"
DISCONNECTED = "Disconnected"
FAILED = "Failed"

# Nothing will change without a person fixing something: stop polling.
HARD_FAILURES = frozenset(
	{
		errors.UNAUTHORIZED,
		errors.NOT_CONFIGURED,
		errors.BAD_RESPONSE,
		errors.SESSION_NOT_FOUND,
		errors.INVALID_SESSION_ID,
		errors.SESSION_NOT_ALLOWED,
		errors.LICENSE_REQUIRED,
	}
)
# The request itself did not work (as opposed to "it worked, the QR is just not there yet").
TRANSPORT_FAILURES = frozenset({errors.TIMEOUT, errors.UNREACHABLE, errors.SERVER_ERROR})


@dataclass(frozen=True)
class QrPolicy:
	max_attempts: int = 5
	connect_timeout: float = 3.0
	status_timeout: float = 10.0
	qr_timeout: float = 10.0
	not_ready_wait: float = 2.0  # first wait while the QR is not there yet...
	not_ready_step: float = 1.0  # ...growing by this much per attempt...
	not_ready_max: float = 5.0  # ...up to this
	qr_error_wait: float = 5.0
	timeout_wait: float = 3.0
	deadline: float = 20.0
	poll_interval: float = 3.0
	min_attempt_time: float = 0.25  # an attempt with less time left than this is not worth sending

	def wait_for(self, code: str, attempt: int) -> float:
		if code == errors.QR_GENERATION_ERROR:
			return self.qr_error_wait
		if code in TRANSPORT_FAILURES:
			return self.timeout_wait
		return min(self.not_ready_wait + self.not_ready_step * (attempt - 1), self.not_ready_max)


@dataclass
class Attempt:
	number: int
	outcome: str  # "qr", "connected", "recreated", "deadline" (cut short by our deadline), or an error code
	http_status: int | None
	elapsed_ms: int  # since the acquisition started, when this attempt ended
	gateway_status: str | None = None
	wait_s: float | None = None  # the wait before the next attempt; None if there was none

	def as_dict(self) -> dict:
		return asdict(self)


@dataclass
class QrOutcome:
	session_id: str
	state: str  # "qr" | "connected" | "waiting" | "ended" | "failed"
	qr_code: str = ""  # image data URI
	qr_payload: str = ""  # as the gateway sent it (rotation detection)
	phone: str | None = None
	gateway_status: str | None = None
	has_qr: bool = False
	error: GatewayError | None = None
	attempts: list[Attempt] = field(default_factory=list)
	elapsed_ms: int = 0
	last_http_status: int | None = None
	poll_after_ms: int = 3000
	recreated: bool = False
	failures: list[tuple[int, GatewayError]] = field(default_factory=list)  # (attempt, error), for logging

	@property
	def error_code(self) -> str | None:
		if self.error is not None:
			return self.error.code
		if self.state == "waiting":
			# A webhook's status has no error: the word alone says the phone must approve the link.
			return errors.CONFIRM_ON_PHONE if confirm_word(self.gateway_status) else errors.QR_NOT_READY
		return None

	@property
	def qr_generation_errors(self) -> int:
		return sum(1 for a in self.attempts if a.outcome == errors.QR_GENERATION_ERROR)

	@property
	def doc_status(self) -> str:
		if self.state == "qr":
			return QR_READY
		if self.state == "connected":
			return CONNECTED
		if self.state == "ended":
			return DISCONNECTED
		if self.state == "failed":
			return FAILED
		return CONNECTING

	@property
	def keep_polling(self) -> bool:
		return self.state in ("qr", "waiting")

	@property
	def success(self) -> bool:
		return self.error_code not in HARD_FAILURES and self.error_code not in TRANSPORT_FAILURES


def acquire_qr(
	client: GatewayClient,
	session_id: str,
	policy: QrPolicy | None = None,
	*,
	clock: Callable[[], float] = time.monotonic,
	sleep: Callable[[float], None] = time.sleep,
	on_attempt: Callable[[Attempt], None] | None = None,
	recreate_missing: bool = True,
) -> QrOutcome:
	"""Run the policy once; never raises a GatewayError, it is reported in the outcome instead."""
	policy = policy or QrPolicy()
	started = clock()
	outcome = QrOutcome(session_id=session_id, state="waiting", poll_after_ms=ms(policy.poll_interval))

	def left() -> float:
		return policy.deadline - (clock() - started)

	def elapsed_ms() -> int:
		return ms(clock() - started)

	def one_attempt() -> None:
		number = len(outcome.attempts) + 1
		record = Attempt(number=number, outcome="", http_status=None, elapsed_ms=0)
		outcome.attempts.append(record)
		clipped = left() < policy.status_timeout
		previous = outcome.error
		try:
			_attempt(client, session_id, policy, outcome, record, left, recreate_missing)
		except GatewayError as e:
			record.outcome = record.outcome or e.code
			if e.http_status is not None:
				record.http_status = e.http_status
			if isinstance(e, GatewayTimeout) and clipped and previous is not None and number > 1:
				# Our deadline cut this attempt short, not the gateway: what the earlier ones said stands.
				record.outcome = "deadline"
				outcome.error = previous
				raise
			outcome.error = e
			outcome.failures.append((number, e))
			if e.http_status is not None:
				outcome.last_http_status = e.http_status
			raise
		finally:
			record.elapsed_ms = elapsed_ms()
		outcome.error = None

	def wait(state: RetryCallState) -> float:
		record = outcome.attempts[-1]
		desired = policy.wait_for(record.outcome, record.number)
		record.wait_s = round(max(0.0, min(desired, left() - policy.min_attempt_time)), 3)
		return record.wait_s

	def stop(state: RetryCallState) -> bool:
		done = len(outcome.attempts) >= policy.max_attempts or left() <= policy.min_attempt_time
		if done:  # tenacity >= 8.3 computes the wait before asking stop: there is no wait after the last one
			outcome.attempts[-1].wait_s = None
		return done

	def report(state: RetryCallState) -> None:
		if on_attempt:
			on_attempt(outcome.attempts[-1])

	retrying = Retrying(
		retry=retry_if_exception(lambda e: isinstance(e, GatewayError) and e.retryable),
		stop=stop,
		wait=wait,
		sleep=sleep,
		before_sleep=report,
		reraise=True,
	)
	try:
		retrying(one_attempt)
	except GatewayError:
		pass  # kept on outcome.error; the last attempt is reported below
	if outcome.attempts and (outcome.attempts[-1].wait_s is None) and on_attempt:
		on_attempt(outcome.attempts[-1])

	outcome.elapsed_ms = elapsed_ms()
	_settle(outcome, policy)
	return outcome


def _attempt(
	client: GatewayClient,
	session_id: str,
	policy: QrPolicy,
	outcome: QrOutcome,
	record: Attempt,
	left: Callable[[], float],
	recreate_missing: bool,
) -> None:
	try:
		state = client.get_status(session_id, timeout=min(policy.status_timeout, left()))
	except SessionNotFound:
		# The gateway restarted and forgot the session: re-create it once, then treat it as "not ready".
		if not recreate_missing or outcome.recreated:
			raise
		outcome.recreated = True
		client.create_session(session_id, timeout=min(policy.status_timeout, left()))
		record.outcome = "recreated"
		raise QrNotReady("session re-created after the gateway forgot it")
	record.http_status = outcome.last_http_status = state.http_status
	record.gateway_status = outcome.gateway_status = state.raw_status
	outcome.has_qr = state.qr_available
	if state.kind == Kind.CONNECTED:
		outcome.state, outcome.phone = "connected", state.phone
		outcome.qr_code = outcome.qr_payload = ""
		record.outcome = "connected"
		return
	if state.kind == Kind.ENDED:
		raise SessionEnded(f"the gateway says {state.raw_status!r}", http_status=state.http_status)
	if state.confirm_on_phone:
		raise ConfirmOnPhone("the phone must approve the link", http_status=state.http_status)
	if not state.qr_available:
		raise QrNotReady("the status says no QR yet", http_status=state.http_status)
	payload = state.qr
	if not payload:
		answer = client.get_qr(session_id, timeout=min(policy.qr_timeout, max(left(), 0.05)))
		payload, record.http_status = answer.payload, answer.http_status
		outcome.last_http_status = answer.http_status
	outcome.qr_code = to_data_uri(payload)
	outcome.qr_payload = payload
	outcome.state = "qr"
	record.outcome = "qr"


def _settle(outcome: QrOutcome, policy: QrPolicy) -> None:
	"""Final state and the next poll delay, from the last error (if any)."""
	code = outcome.error.code if outcome.error else None
	if outcome.state in ("qr", "connected") and code is None:
		return
	if code == errors.SESSION_ENDED:
		outcome.state = "ended"
	elif code in HARD_FAILURES:
		outcome.state = "failed"
	else:
		outcome.state = "waiting"
		outcome.poll_after_ms = ms(max(policy.poll_interval, policy.wait_for(code or "", 1)))


def outcome_from_error(session_id: str, error: GatewayError, policy: QrPolicy | None = None) -> QrOutcome:
	"""An outcome for a failure before any acquisition ran (e.g. creating the session)."""
	policy = policy or QrPolicy()
	outcome = QrOutcome(
		session_id=session_id, state="waiting", error=error, last_http_status=error.http_status
	)
	_settle(outcome, policy)
	return outcome


def ms(seconds: float) -> int:
	return round(seconds * 1000)


def build_payload(
	outcome: QrOutcome,
	*,
	message: str = "",
	session_db_id: str = "",
) -> dict[str, Any]:
	"""The exact session payload (see docs/architecture.md, 'The session payload'). The Frappe layer passes
	the translated message and the document name."""
	return {
		"success": outcome.success,
		"message": message,
		"session_db_id": session_db_id,
		"session_id": outcome.session_id,
		"status": outcome.doc_status,
		"qr_available": bool(outcome.qr_code) and outcome.state == "qr",
		"qr_code": outcome.qr_code if outcome.state == "qr" else "",
		"qr_error": outcome.error_code,
		"keep_polling": outcome.keep_polling,
		"poll_after_ms": max(500, outcome.poll_after_ms),
		"debug": {
			"qr_attempts": len(outcome.attempts),
			"qr_error": outcome.error_code,
			"elapsed_ms": outcome.elapsed_ms,
			"last_http_status": outcome.last_http_status,
			"gateway_status": outcome.gateway_status,
			"has_qr": outcome.has_qr,
			"attempts": [a.as_dict() for a in outcome.attempts],
			"error_detail": outcome.error.detail if outcome.error else None,
			"server_message": outcome.error.server_message if outcome.error else None,
			"recreated": outcome.recreated,
		},
	}
