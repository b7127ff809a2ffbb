"""watch(): the loop one background monitor runs for one session (DESIGN.md §9).

It reads the session the way the form's poll does (a status read, plus the QR when there is one), reports
only changes, and stops when the phone is linked, the session ended or failed, the gateway's QR lifetime is
over (Baileys gives the first QR 60 s and each next one 20 s, then gives up), or a cap is reached. Waits
after errors follow the §4 policy; a QR on screen is re-checked every ``poll_s`` to catch the scan and
rotations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from .acquire import QrOutcome, QrPolicy, acquire_qr, outcome_from_error
from .client import GatewayClient
from .errors import GatewayError

# Why a monitor stopped; stored and shown in debug.
CONNECTED, ENDED, FAILED, QR_EXPIRED, CAP, STOPPED = (
	"connected",
	"ended",
	"failed",
	"qr_expired",
	"cap",
	"stopped",
)


@dataclass(frozen=True)
class MonitorPolicy:
	cap_s: float = 180.0
	poll_s: float = 2.0
	first_qr_lifetime_s: float = 60.0
	next_qr_lifetime_s: float = 20.0
	grace_s: float = 10.0


def fingerprint(outcome: QrOutcome) -> tuple:
	"""What the user can see; a change in any of these is worth a write and a push."""
	return (outcome.doc_status, outcome.qr_payload, outcome.error_code, outcome.phone, outcome.gateway_status)


def watch(
	client: GatewayClient,
	session_id: str,
	qr_policy: QrPolicy,
	policy: MonitorPolicy,
	*,
	on_change: Callable[[QrOutcome], None],
	heartbeat: Callable[[], bool] = lambda: True,
	clock: Callable[[], float] = time.monotonic,
	sleep: Callable[[float], None] = time.sleep,
	create_first: bool = False,
) -> str:
	"""Run until a stop condition; returns the reason. ``heartbeat`` returning False (the monitor lost its
	lock to another one) stops it too."""
	started = clock()
	one_read = replace(qr_policy, max_attempts=1, deadline=qr_policy.status_timeout + qr_policy.qr_timeout)
	last: tuple | None = None
	shown_qr, shown_at, qr_count = "", 0.0, 0
	if create_first:
		try:
			client.create_session(session_id, timeout=qr_policy.status_timeout)
		except GatewayError as e:
			outcome = outcome_from_error(session_id, e, qr_policy)
			if not outcome.keep_polling:
				on_change(outcome)
				return FAILED
	while True:
		outcome = acquire_qr(client, session_id, one_read, clock=clock, sleep=sleep)
		if fingerprint(outcome) != last:
			last = fingerprint(outcome)
			on_change(outcome)
		now = clock()
		if outcome.state == "connected":
			return CONNECTED
		if outcome.state == "ended":
			return ENDED
		if outcome.state == "failed":
			return FAILED
		if outcome.state == "qr" and outcome.qr_payload != shown_qr:
			shown_qr, shown_at, qr_count = outcome.qr_payload, now, qr_count + 1
		if qr_count:
			lifetime = policy.first_qr_lifetime_s if qr_count == 1 else policy.next_qr_lifetime_s
			if now - shown_at > lifetime + policy.grace_s:
				return QR_EXPIRED
		if now - started >= policy.cap_s:
			return CAP
		if not heartbeat():
			return STOPPED
		wait = policy.poll_s if outcome.error_code in (None, "QR_NOT_READY") else outcome.poll_after_ms / 1000
		sleep(max(0.0, min(wait, policy.cap_s - (now - started))))
