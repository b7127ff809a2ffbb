"""Watching a waiting session: one read at a time, on its own schedule
(see docs/architecture.md, 'Live sessions').

``Watch`` is one session's schedule and memory, small and JSON-friendly so that a watcher job can keep many of
them in a shared store and serve them all from one worker. ``step()`` takes one read's outcome and says
whether it is news (worth a write and a push), whether watching is over, and when to read again. It stops when
the phone is linked, the session ended or failed, the gateway's QR lifetime is over (Baileys gives the first
QR 60 s and each next one 20 s, then gives up), or a cap is reached.

``watch()`` runs the same steps in a loop for one session (tests, the CLI).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .acquire import QrOutcome, QrPolicy, acquire_qr, outcome_from_error
from .client import GatewayClient
from .errors import GatewayError

# Why watching stopped; stored and shown in debug.
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
	first_qr_poll_s: float = 1.0  # until the first QR is shown: the user is looking at an empty dialog
	first_qr_lifetime_s: float = 60.0
	next_qr_lifetime_s: float = 20.0
	grace_s: float = 10.0


def fingerprint(outcome: QrOutcome) -> str:
	"""What the user can see, hashed; a change in any of it is worth a write and a push."""
	seen = (outcome.doc_status, outcome.qr_payload, outcome.error_code, outcome.phone, outcome.gateway_status)
	return hashlib.sha1(repr(seen).encode()).hexdigest()[:16]


@dataclass
class Watch:
	session: str  # the app's name for it (the document name)
	session_id: str  # the gateway's id
	started: float  # on the watcher's clock
	next_due: float
	create_first: bool = False
	shown_qr: str = ""  # fingerprint of the QR on screen
	shown_at: float = 0.0
	qr_count: int = 0
	last_fp: str = ""
	user: str = ""  # who asked: messages are composed in their language
	token: str = ""  # changes when a request re-arms the watch, so a watcher never writes back a stale copy
	gateway: str = ""  # the gateway server's name (its breaker and its share of the reads)

	def to_dict(self) -> dict[str, Any]:
		return asdict(self)

	@classmethod
	def from_dict(cls, data: dict[str, Any]) -> Watch:
		known = {f.name for f in fields(cls)}
		return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Step:
	changed: bool
	stop: str | None  # a reason from the constants above, or None to keep watching
	wait_s: float  # until the next read


def step(watch: Watch, outcome: QrOutcome, now: float, policy: MonitorPolicy) -> Step:
	"""Fold one read into ``watch`` (mutated) and decide what follows."""
	fp = fingerprint(outcome)
	changed = fp != watch.last_fp
	watch.last_fp = fp
	if outcome.state == "connected":
		return Step(changed, CONNECTED, 0.0)
	if outcome.state == "ended":
		return Step(changed, ENDED, 0.0)
	if outcome.state == "failed":
		return Step(changed, FAILED, 0.0)
	if outcome.state == "qr":
		qr = hashlib.sha1(outcome.qr_payload.encode()).hexdigest()[:16]
		if qr != watch.shown_qr:
			watch.shown_qr, watch.shown_at, watch.qr_count = qr, now, watch.qr_count + 1
	if watch.qr_count:
		lifetime = policy.first_qr_lifetime_s if watch.qr_count == 1 else policy.next_qr_lifetime_s
		if now - watch.shown_at > lifetime + policy.grace_s:
			return Step(changed, QR_EXPIRED, 0.0)
	if now - watch.started >= policy.cap_s:
		return Step(changed, CAP, 0.0)
	if outcome.error_code in (None, "QR_NOT_READY"):
		wait = policy.poll_s if watch.qr_count else min(policy.poll_s, policy.first_qr_poll_s)
	else:
		wait = outcome.poll_after_ms / 1000
	wait = max(0.0, min(wait, policy.cap_s - (now - watch.started)))
	watch.next_due = now + wait
	return Step(changed, None, wait)


def lost_reason(outcome: QrOutcome) -> str | None:
	"""Why a session that was linked is not any more, from one read: "unknown" (the gateway forgot it),
	"logged_out" (it ended), "closed" (it waits for a new scan: worth one more read before believing it), or
	None (linked, or the read itself failed: a gateway problem is not a lost phone)."""
	if outcome.state == "connected":
		return None
	code = outcome.error_code
	if code == "SESSION_NOT_FOUND":
		return "unknown"
	if outcome.state == "ended":
		return "logged_out"
	if outcome.state in ("qr", "waiting") and code in (None, "QR_NOT_READY"):
		return "closed"
	return None


def one_read_policy(qr_policy: QrPolicy) -> QrPolicy:
	"""One attempt, no retries inside: the schedule between reads is the watcher's."""
	return replace(qr_policy, max_attempts=1, deadline=qr_policy.status_timeout + qr_policy.qr_timeout)


def read_once(
	client: GatewayClient,
	watch: Watch,
	qr_policy: QrPolicy,
	*,
	clock: Callable[[], float] = time.monotonic,
	sleep: Callable[[float], None] = time.sleep,
) -> QrOutcome:
	"""One read for a watched session; its first read creates the session on the gateway first (a create
	that fails for good is the outcome; one worth retrying leaves the read to find out)."""
	config_error = None
	if watch.create_first:
		watch.create_first = False
		try:
			config_error = client.create_session(
				watch.session_id, timeout=qr_policy.status_timeout
			).config_error
		except GatewayError as e:
			outcome = outcome_from_error(watch.session_id, e, qr_policy)
			if not outcome.keep_polling:
				return outcome
	outcome = acquire_qr(client, watch.session_id, one_read_policy(qr_policy), clock=clock, sleep=sleep)
	if config_error is not None:
		outcome.failures.append((0, config_error))  # logged and shown apart from the QR
	return outcome


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
	"""Watch one session until a stop condition; returns the reason. ``heartbeat`` returning False (the
	watcher lost its lock) stops it too."""
	now = clock()
	state = Watch(session_id, session_id, started=now, next_due=now, create_first=create_first)
	while True:
		outcome = read_once(client, state, qr_policy, clock=clock, sleep=sleep)
		result = step(state, outcome, clock(), policy)
		if result.changed:
			on_change(outcome)
		if result.stop:
			return result.stop
		if not heartbeat():
			return STOPPED
		sleep(result.wait_s)
