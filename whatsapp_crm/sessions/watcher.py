"""One watcher for every waiting session: its cost does not grow with the sessions
(see docs/architecture.md, 'Live sessions').

A session that waits for its QR or its scan is put on a watch list (live.watch_put) and the watcher is woken.
The watcher is a job on the ``short`` queue (linking news must not wait behind bulk jobs on ``default``): one
lock for the site, every session on its own schedule (gateway.monitor.step) and its own clock: a due session's
read starts in a thread (gateway.fanout: bounded overall and per gateway) and its result is applied as soon
as it comes back, so a read that hangs delays only its own session. Writes and pushes happen only on change.
After a slice of two seconds it gives its worker back and queues the next tick while anything still waits, so
other short jobs never wait long behind it, and twenty people linking phones at once cost one worker for a
few seconds at a time. Each gateway has its own breaker: a dead server pauses only its own sessions.

If its worker dies, the lock expires; the next request about a watched session, or the scheduler within a
minute, wakes a new one.
"""

from __future__ import annotations

import time
from functools import partial

import frappe

from whatsapp_crm.gateway.acquire import CONNECTED, outcome_from_error
from whatsapp_crm.gateway.errors import GatewayError
from whatsapp_crm.gateway.fanout import Fanout
from whatsapp_crm.gateway.monitor import MonitorPolicy, Watch, read_once, step
from whatsapp_crm.gateway.policies import WATCHING
from whatsapp_crm.gateway_records.config import client_factory, gateway_doc, note_outcome, open_breaker
from whatsapp_crm.integration import get_settings, logger, policy_from
from whatsapp_crm.sessions import live
from whatsapp_crm.sessions.service import SessionService

MAX_PARALLEL = WATCHING.max_parallel
PER_GATEWAY = WATCHING.per_gateway
FACTORY_TTL_S = WATCHING.factory_ttl_s
SLOW_S = WATCHING.slow_s
WEBHOOK_PERIOD_S = WATCHING.webhook_period_s


def keep_alive() -> None:
	"""Scheduler, every minute: a watch list with no watcher (its worker died) gets one."""
	if live.watch_all() and not live.watcher_alive():
		live.wake()


def tick(slice_s: float = live.SLICE_S, requeue: bool = True) -> str:
	"""One slice of watching. Returns why it ended: idle, slice, busy (another tick runs) or stopped.
	(``requeue=False`` lets a test run slices in-process.)"""
	live.clear_wake()  # from here on, a new wake-up queues the next tick
	lock = live.Lock(live.WATCHER_LOCK, live.LOCK_TTL_S)
	if not lock.acquire():
		return "busy"  # the running tick reads the list every round: it will see what woke this one
	try:
		reason = _slice(lock, slice_s)
	finally:
		lock.release()
	# After the release, so that a session added in between is never left without a watcher.
	if requeue and reason != "idle" and live.watch_all():
		live.wake()
	return reason


def _slice(lock: live.Lock, slice_s: float) -> str:
	"""Serve the list for ``slice_s``. A read still running then is waited for (its session's answer, a
	timeout included, must reach the user), and while a slow one is, sessions that fall due are still
	served: nobody waits for a slow read. The slice ends once no read is running, or at the reads' own time
	limit."""
	ends = time.monotonic() + slice_s
	with Fanout(MAX_PARALLEL, PER_GATEWAY, name="wa-watch") as reads:
		gateways = _Gateways()
		hard_end = ends + gateways.read_limit_s
		pause, beat = 0.0, 0.0
		try:
			while True:
				for done in reads.finished(timeout=pause):
					_finish(done, gateways)
				watches = live.watch_all()
				now = time.monotonic()
				if not watches and not reads.in_flight():
					return "idle"
				if now >= ends and not reads.in_flight():
					return "slice"
				if now >= hard_end:
					return "slice"
				# Past the slice, new reads start only while a slow read holds the worker anyway.
				if now < ends or reads.running_longer_than(SLOW_S):
					wall = time.time()
					due = [
						w
						for w in watches
						if w.next_due <= wall
						and not reads.busy(w.session)
						and reads.can_start(w.gateway or "")
					]
					if due:
						_start(due, reads, gateways)
				if now - beat >= 1.0:
					if not lock.heartbeat():
						return "stopped"
					beat = now
				pause = _pause(reads, watches, ends)
		finally:
			# Only a read past every timeout of its own is left behind (the transport's watchdog makes that
			# rare): its session is read again after a back-off, by the next tick.
			for session in reads.abandon():
				w = live.watch_get(session)
				if w is not None:
					w.next_due = time.time() + gateways.policy.timeout_wait
					live.watch_replace(w, w)


def _pause(reads: Fanout, watches: list[Watch], ends: float) -> float:
	"""How long to wait for a read to come back before looking at the list again: until the next session
	that could start falls due (a read coming back ends the wait at once), never spinning."""
	wall = time.time()
	waiting = [w for w in watches if not reads.busy(w.session)]
	if any(w.next_due <= wall and reads.can_start(w.gateway or "") for w in waiting):
		return 0.0
	upcoming = min((w.next_due for w in waiting if w.next_due > wall), default=wall + 0.5)
	wait = min(upcoming - wall, 0.5)
	if not reads.in_flight():
		wait = min(wait, max(0.0, ends - time.monotonic()))
	return max(0.01, wait)


class _Gateways:
	"""What one slice knows of each gateway: a client factory (or why there is none) and its breaker. The
	settings are read once a slice; factories are kept a few seconds."""

	def __init__(self) -> None:
		frappe.db.commit()  # nosemgrep: ends the snapshot, so this slice sees what requests committed since
		self.settings = get_settings()
		self.policy = policy_from(self.settings)
		self.mpolicy = MonitorPolicy(
			cap_s=self.settings.monitor_cap, poll_s=min(2.0, self.settings.poll_interval)
		)
		s = self.settings
		# the longest one read_once may take: a create, a status and a QR read, each with its own timeouts
		self.read_limit_s = float(s.connect_timeout) + float(s.status_timeout) * 2 + float(s.qr_timeout) + 1
		self._made: dict[str, tuple[float, object]] = {}

	def factory(self, gateway: str):
		"""A client factory for the gateway, or the GatewayError that says why not."""
		at, made = self._made.get(gateway, (0.0, None))
		if made is None or time.monotonic() - at > FACTORY_TTL_S:
			try:
				made = client_factory(gateway_doc(gateway), self.settings)
			except GatewayError as e:
				made = e
			self._made[gateway] = (time.monotonic(), made)
		return made


def _start(due: list[Watch], reads: Fanout, gateways: _Gateways) -> None:
	frappe.db.commit()  # nosemgrep: ends the snapshot: each read starts from what requests committed since
	for w in due:
		if not w.gateway:
			w.gateway = frappe.db.get_value("WhatsApp Session", w.session, "gateway") or ""
		state = open_breaker(w.gateway, w.session)
		if state is not None:  # a dead gateway, or a session whose calls hang, waits out its back-off
			w.next_due = time.time() + state.retry_in_s
			live.watch_replace(w, w)
			continue
		make = gateways.factory(w.gateway)
		if isinstance(make, GatewayError):
			_apply(w, outcome_from_error(w.session_id, make, gateways.policy), gateways.mpolicy)
			continue
		reads.start(w.session, w.gateway, partial(_read, make, w, gateways.policy))


def _read(make, w: Watch, policy):
	with make() as client:
		return w, read_once(client, w, policy)


def _finish(done, gateways: _Gateways) -> None:
	if done.error is not None:  # a bug for one session must not stop the watching of the others
		logger().error("session=%s op=watch read failed: %r", done.item, done.error)
		w = live.watch_get(done.item)
		if w is not None:
			w.next_due = time.time() + gateways.mpolicy.poll_s
			live.watch_replace(w, w)
		return
	w, outcome = done.result
	note_outcome(w.gateway, w.session, outcome.error)
	_apply(w, outcome, gateways.mpolicy)


def _apply(w: Watch, outcome, mpolicy: MonitorPolicy) -> None:
	result = step(w, outcome, time.time(), mpolicy)
	if result.changed:
		if not frappe.db.exists("WhatsApp Session", w.session):
			live.watch_replace(w, None)
			return
		# The latest committed row (a locking read), not this job's older snapshot: a webhook may have stored
		# news a moment ago.
		service = SessionService(frappe.get_doc("WhatsApp Session", w.session, for_update=True))
		# A QR read taken before the phone was linked is old news once the session shows Connected.
		stale = service.doc.status == CONNECTED and outcome.state in ("qr", "waiting")
		if not stale and (outcome.error is not None or not service.unchanged(outcome)):
			frappe.set_user_lang(w.user or "Administrator")
			service.persist(outcome, "watcher")
			frappe.db.commit()  # nosemgrep: each change is visible (and pushed) as it happens
	if result.stop:
		live.watch_replace(w, None)
		logger().info("session=%s op=watch stopped reason=%s", w.session, result.stop)
		return
	if live.heard_within(w.session, mpolicy.cap_s):
		# Its gateway pushes this session's news: reads are only the safety net.
		w.next_due = max(w.next_due, time.time() + WEBHOOK_PERIOD_S)
	live.watch_replace(w, w)
