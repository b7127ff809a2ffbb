"""Health of linked sessions: a scheduled sweep that notices a phone that is no longer linked.

Every few minutes (Health Check Interval; 0 switches it off) the Connected sessions of every gateway are read,
each read on its own clock (a gateway holds at most its share of the threads), the whole sweep bounded in
time, through each gateway's circuit breaker (a dead gateway is not a lost phone, and stops being read once its
breaker opens) and single flight (a session someone is reading right now is skipped). With webhooks
configured, a session its gateway has talked about within the interval is left to the webhooks.

A lost session (logged out on the phone, unknown to the gateway after a restart, closed) becomes
Disconnected with the reason in plain words; it is never re-created (that would need a new scan). Each
incident gets one Error Log entry, a bell notification for the owner and the WhatsApp Managers, a realtime
alert on open forms, an email when the site sends email, and a line in the session's history.
"""

from __future__ import annotations

import time
from collections import deque
from functools import partial

import frappe
from frappe import _

from whatsapp_crm.gateway import texts
from whatsapp_crm.gateway.acquire import CONNECTED, QrOutcome, acquire_qr
from whatsapp_crm.gateway.errors import GatewayError, SessionEnded
from whatsapp_crm.gateway.fanout import Fanout
from whatsapp_crm.gateway.monitor import lost_reason, one_read_policy
from whatsapp_crm.gateway.policies import WATCHING
from whatsapp_crm.gateway_records.config import breaker_for, client_factory, gateway_doc, note_outcome
from whatsapp_crm.integration import (
	MANAGER_ROLE,
	SESSION,
	TITLE_LOST,
	get_settings,
	logger,
	policy_from,
)
from whatsapp_crm.sessions import live
from whatsapp_crm.sessions.service import SessionService

MAX_PARALLEL = WATCHING.max_parallel
PER_GATEWAY = WATCHING.sweep_per_gateway
BUDGET_S = WATCHING.sweep_budget_s
RECHECK_S = WATCHING.recheck_s
DUE_KEY = "whatsapp_crm:sweep:due"


def run_if_due() -> None:
	"""Scheduler, every minute: sweep when the interval has passed (a Redis key marks the last sweep)."""
	settings = get_settings()
	interval = int(settings.health_check_interval or 0)
	if not interval or not settings.enabled:
		return
	if not frappe.cache.set(frappe.cache.make_key(DUE_KEY), 1, nx=True, ex=max(30, interval * 60 - 5)):
		return
	sweep(settings)


def sweep(settings=None, names: list[str] | None = None) -> dict:
	"""Check the Connected sessions (or those of ``names``) once, on every gateway; returns what it did (for
	the benchmark and the logs).

	Each read runs on its own clock (gateway.fanout) and is handled as soon as it is back; a gateway gets at
	most its share of the threads and stops being read once its breaker opens, so a dead server delays
	neither the other servers' sessions nor the sweep much beyond its own timeouts."""
	settings = settings or get_settings()
	started = time.monotonic()
	stats = {"connected": 0, "checked": 0, "skipped": 0, "lost": 0, "stopped": None, "done_s": {}}
	filters = {"status": CONNECTED, **({"name": ("in", names)} if names is not None else {})}
	rows = frappe.get_all(
		SESSION, filters=filters, fields=["name", "session_id", "gateway"], order_by="last_checked asc"
	)
	stats["connected"] = len(rows)
	interval_s = max(60, int(settings.health_check_interval or 5) * 60)
	with_webhooks = _gateways_with_webhooks({r.gateway for r in rows})
	kept = [r for r in rows if r.gateway not in with_webhooks or not live.heard_within(r.name, interval_s)]
	stats["skipped"] += len(rows) - len(kept)
	queues: dict[str, deque] = {}
	for row in kept:
		queues.setdefault(row.gateway or "", deque()).append(row)
	if not queues:
		return _done(stats, started)
	policy = one_read_policy(policy_from(settings))
	factories, stopped = {}, {}
	for gateway in list(queues):
		try:
			factories[gateway] = client_factory(gateway_doc(gateway), settings)
		except GatewayError as e:
			stopped[gateway] = e.code
			stats["skipped"] += len(queues.pop(gateway))
	flight_s = settings.status_timeout + settings.qr_timeout + 2
	tokens: dict[str, str] = {}
	rechecks: list[tuple[float, object]] = []  # (when, row): a "closed" answer is read once more
	checked: set[str] = set()
	with Fanout(MAX_PARALLEL, PER_GATEWAY, name="wa-sweep") as reads:
		try:
			while queues or rechecks or reads.in_flight():
				if time.monotonic() - started > BUDGET_S:
					stats["stopped"] = "budget"
					break
				now = time.monotonic()
				for when, row in [r for r in rechecks if r[0] <= now]:
					if reads.start(
						row.name, row.gateway or "", partial(_read, factories[row.gateway or ""], row, policy)
					):
						rechecks.remove((when, row))
				for gateway in list(queues):
					if breaker_for(gateway).state().open:
						stopped[gateway] = "breaker"
						stats["skipped"] += len(queues.pop(gateway))
						continue
					queue = queues[gateway]
					while queue and reads.can_start(gateway):
						row = queue.popleft()
						token = live.try_single_flight(row.name, flight_s)
						if token is None:
							stats["skipped"] += 1
							continue
						tokens[row.name] = token
						reads.start(row.name, gateway, partial(_read, factories[gateway], row, policy))
					if not queue:
						queues.pop(gateway)
				for done in reads.finished(timeout=0.1):
					_handled(done, stats, rechecks, checked)
					# when each gateway's last read came back (a dead one must not delay the others')
					stats["done_s"][done.key] = round(time.monotonic() - started, 3)
		finally:
			for name, token in tokens.items():
				live.end_single_flight(name, token)
	if stopped:
		stats["stopped"] = stats["stopped"] or ",".join(f"{g}:{c}" for g, c in sorted(stopped.items()))
	stats["checked"] = len(checked)
	return _done(stats, started)


def _read(make, row, policy) -> tuple:
	with make() as client:
		return row, acquire_qr(client, row.session_id, policy, recreate_missing=False)


def _handled(done, stats: dict, rechecks: list, checked: set[str]) -> None:
	if done.error is not None:  # one session's bug must not stop the sweep
		logger().error("session=%s op=sweep read failed: %r", done.item, done.error)
		return
	row, outcome = done.result
	note_outcome(row.gateway, row.name, outcome.error)
	reason = lost_reason(outcome)
	if reason == "closed" and row.name not in checked:
		# Evolution reports close while it reconnects: read it once more before calling it lost.
		checked.add(row.name)
		rechecks.append((time.monotonic() + RECHECK_S, row))
		return
	checked.add(row.name)
	if reason and mark_lost(row.name, reason, outcome):
		stats["lost"] += 1


def _gateways_with_webhooks(names: set[str]) -> set[str]:
	"""Gateways that push events: their sessions heard from within the interval are left to the webhooks."""
	out = set()
	for name in names:
		try:
			if gateway_doc(name).get_password("webhook_secret", raise_exception=False):
				out.add(name)
		except GatewayError:
			pass
	return out


def _done(stats: dict, started: float) -> dict:
	stats["wall_s"] = round(time.monotonic() - started, 3)
	logger().info("op=sweep %s", " ".join(f"{k}={v}" for k, v in stats.items()))
	return stats


def mark_lost(name: str, reason: str, outcome: QrOutcome) -> bool:
	"""Record one incident: Disconnected with the reason, one Error Log, notifications. False when the
	session is no longer Connected (someone else already handled it)."""
	frappe.db.commit()  # nosemgrep: a fresh snapshot: the status may have changed while the batch was read
	doc = frappe.get_doc(SESSION, name)
	if doc.status != CONNECTED:
		return False
	word = outcome.gateway_status or ""
	template, args = {
		"logged_out": (texts.LOST_LOGGED_OUT, []),
		"unknown": (texts.LOST_UNKNOWN, []),
	}.get(reason, (texts.LOST_CLOSED, [word or "-"]))
	lost = QrOutcome(
		session_id=doc.session_id,
		state="ended",
		gateway_status=outcome.gateway_status,
		error=SessionEnded(f"lost: {reason}", http_status=outcome.last_http_status),
	)
	SessionService(doc).persist(lost, "sweep", reason=_(template).format(*args))
	frappe.log_error(
		title=TITLE_LOST,
		message=f"session: {name}\nreason: {reason}\ngateway status: {word or '-'}\n"
		f"last http status: {outcome.last_http_status or '-'}",
		reference_doctype=SESSION,
		reference_name=name,
	)
	notify_lost(doc, template, args)
	frappe.db.commit()  # nosemgrep: one incident, recorded as a whole, before the next session
	return True


def notify_lost(doc, template: str, args: list[str]) -> None:
	"""The owner and the WhatsApp Managers: the bell, open forms, and email when the site sends it."""
	label = doc.label or doc.name
	recipients = sorted(_people_to_tell(doc))
	for user in recipients:
		frappe.get_doc(
			{
				"doctype": "Notification Log",
				"for_user": user,
				"type": "Alert",
				"document_type": SESSION,
				"document_name": doc.name,
				"subject": _(texts.LOST_SUBJECT).format(label),
				"email_content": _(template).format(*args),
			}
		).insert(ignore_permissions=True)
	frappe.publish_realtime(
		live.LOST_EVENT,
		{
			"session": doc.name,
			"subject_template": texts.LOST_SUBJECT,
			"subject_args": [label],
			"message_template": template,
			"message_args": args,
		},
		doctype=SESSION,
		docname=doc.name,
		after_commit=True,
	)
	if recipients and _site_sends_email():
		emails = [e for e in frappe.get_all("User", filters={"name": ("in", recipients)}, pluck="email") if e]
		if emails:
			frappe.sendmail(
				recipients=emails,
				subject=_(texts.LOST_SUBJECT).format(label),
				message=_(template).format(*args),
				reference_doctype=SESSION,
				reference_name=doc.name,
			)


def _people_to_tell(doc) -> set[str]:
	managers = frappe.get_all(
		"Has Role",
		filters={"role": MANAGER_ROLE, "parenttype": "User"},
		pluck="parent",
	)
	people = {doc.owner_user} | set(managers)
	enabled = frappe.get_all(
		"User", filters={"name": ("in", [p for p in people if p]), "enabled": 1}, pluck="name"
	)
	return {u for u in enabled if u not in ("Guest",)}


def _site_sends_email() -> bool:
	return bool(frappe.db.exists("Email Account", {"enable_outgoing": 1, "default_outgoing": 1}))
