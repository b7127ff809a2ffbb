"""Every retry, back-off, breaker and pacing value of the app, with its reason: one place to read and tune.

Frozen values, frappe-free. The QR acquisition's own policy (waits between tries, the deadline) is
``acquire.QrPolicy``, built from WhatsApp CRM Settings; what is here is not a setting. In-process retries
use one mechanism, tenacity (``retrying``); work that must outlive a process (a parked webhook, a queued
message) is retried by jobs on the schedules below.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_chain, wait_fixed


@dataclass(frozen=True)
class SendRetry:
	"""A send the gateway did not take: tried again at once, in the job, only when it surely never arrived."""

	waits_s: tuple[float, ...] = (1.0, 3.0)  # three tries in all: a short blip, not an outage
	proxy_statuses: tuple[int, ...] = (502, 503, 504)  # a proxy's answer: the gateway never saw the message


@dataclass(frozen=True)
class Outbox:
	claim_stale_s: float = 50  # longer than any send (three tries of the read timeout): its job is gone
	lock_ttl_s: float = (
		45  # the flush lock, renewed before each send: a killed job frees its outbox this soon
	)
	stale_queued_s: float = 60  # a queued message with no claim this long after it was written lost its job
	suspect_s: float = 120  # after a send timed out, the gateway is suspect this long (or until it answers)
	probe_timeout_s: float = 2.0  # a suspect gateway's probe: one quick status read
	probe_rounds: int = 300  # a probe chain gives up after this many tries (about 10 min); the sweep goes on
	read_back_s: float = 300  # how far around a claim the gateway's store is searched for the message
	batch: int = 50  # messages one flush job sends before it hands over to the next
	# Pacing (docs/messaging.md, "Sending policy"): a wait this short is slept in the job; a longer one up to
	# pace_relay_s hands the worker over every pace_nap_s (the job re-queues itself behind other work); a
	# longer one still is left to the minute sweep. A job paces at most pace_turn_s before handing over.
	pace_nap_s: float = 2.0
	pace_relay_s: float = 90.0
	pace_turn_s: float = 60.0


@dataclass(frozen=True)
class Webhooks:
	replay_window_s: float = 600  # twice the signature tolerance: a replayed, still-valid signature is caught
	retry_after_s: int = 10  # when even parking failed: every gateway that retries, retries after this
	lock_wait_s: int = 1  # a row lock is waited for this long while storing (MariaDB's default is 50 s)
	inline_limit: int = 1  # message events handled at once site-wide; while more arrive, they are parked
	max_replays: int = 12  # a parked event still failing after this many tries is Failed, for an admin
	replay_backoff_s: float = 5  # the n-th retry of a parked event waits backoff * 2**n ...
	replay_backoff_max_s: float = 600  # ... at most this

	def replay_wait_s(self, attempts: int) -> float:
		return min(self.replay_backoff_max_s, self.replay_backoff_s * 2**attempts)


@dataclass(frozen=True)
class Catchup:
	max_pages: int = 20  # per run; an unfinished window is resumed by the next job
	budget_s: float = 60.0  # one run never holds its worker longer
	lock_ttl_s: float = 180  # one run per session; a dead run's lock frees the session this soon
	site_quiet_s: float = 180  # the scheduler missed three ticks: the site (or its scheduler) was down
	unavailable_backoff_h: float = 6  # a gateway that keeps no history is asked again this seldom


@dataclass(frozen=True)
class GatewayHealth:
	# Timeouts of this many different sessions within the breaker's window make the gateway count as down:
	# two could be two stuck sessions; three on one server is the server.
	distinct_sessions: int = 3
	check_every_s: float = 60  # an unchanged health refreshes its Last Check at most this often


@dataclass(frozen=True)
class Watching:
	slice_s: float = 2.0  # how long one watcher tick holds its (short-queue) worker before it yields
	lock_ttl_s: float = 30.0  # a dead watcher is replaced within this (plus the next wake-up)
	max_parallel: int = 8  # gateway reads in flight at once
	per_gateway: int = 6  # of which one gateway may hold (a hanging server leaves threads for the others)
	factory_ttl_s: float = 5.0  # a changed key or URL is picked up within this
	slow_s: float = 1.5  # a read running this long is slow: past the slice, others are served meanwhile
	webhook_period_s: float = 10.0  # with a session's webhooks arriving, reads are only a safety net
	sweep_per_gateway: int = 4  # the health sweep's share of one gateway
	sweep_budget_s: float = 60.0  # one sweep never holds its worker longer (plus one batch's reads)
	recheck_s: float = 3.0  # a "closed" answer is read once more: Evolution reports close while reconnecting


SEND_RETRY = SendRetry()
OUTBOX = Outbox()
WEBHOOKS = Webhooks()
CATCHUP = Catchup()
GATEWAY_HEALTH = GatewayHealth()
WATCHING = Watching()


def retrying(
	waits_s: tuple[float, ...],
	retry_on: Callable[[BaseException], bool],
	*,
	sleep: Callable[[float], None] = time.sleep,
) -> Retrying:
	"""Tenacity's loop for ``len(waits_s) + 1`` tries, waiting ``waits_s`` between them, retrying only the
	errors ``retry_on`` accepts; the last error is raised as it was."""
	return Retrying(
		stop=stop_after_attempt(len(waits_s) + 1),
		wait=wait_chain(*(wait_fixed(w) for w in waits_s)) if waits_s else wait_fixed(0),
		retry=retry_if_exception(retry_on),
		sleep=sleep,
		reraise=True,
	)
