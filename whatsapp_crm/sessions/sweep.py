"""Health of linked sessions: a scheduled sweep that notices a phone that is no longer linked.

Every few minutes (Health Check Interval; 0 switches it off) the Connected sessions are read in batches, the
reads of a batch overlapped, the whole sweep bounded in time, through the circuit breaker (a dead gateway is
not a lost phone) and single flight (a session someone is reading right now is skipped). With webhooks
configured, a session its gateway has talked about within the interval is left to the webhooks.

A lost session (logged out on the phone, unknown to the gateway after a restart, closed) becomes
Disconnected with the reason in plain words; it is never re-created (that would need a new scan). Each
incident gets one Error Log entry, a bell notification for the owner and the WhatsApp Managers, a realtime
alert on open forms, an email when the site sends email, and a line in the session's history.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import frappe
from frappe import _

from whatsapp_crm.gateway import texts
from whatsapp_crm.gateway.acquire import CONNECTED, QrOutcome, acquire_qr
from whatsapp_crm.gateway.errors import GatewayError, SessionEnded
from whatsapp_crm.gateway.monitor import lost_reason, one_read_policy
from whatsapp_crm.integration import (
	MANAGER_ROLE,
	SESSION,
	TITLE_LOST,
	client_factory,
	get_settings,
	logger,
	policy_from,
)
from whatsapp_crm.sessions import live

BATCH = 20
MAX_PARALLEL = 8
BUDGET_S = 60.0  # one sweep never holds its worker longer (plus one batch's reads)
RECHECK_S = 3.0  # a "closed" answer is read once more: Evolution reports close while it reconnects
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
	"""Check the Connected sessions (or those of ``names``) once; returns what it did (for the benchmark
	and the logs)."""
	settings = settings or get_settings()
	started = time.monotonic()
	stats = {"connected": 0, "checked": 0, "skipped": 0, "lost": 0, "batches": 0, "stopped": None}
	filters = {"status": CONNECTED, **({"name": ("in", names)} if names is not None else {})}
	rows = frappe.get_all(
		SESSION, filters=filters, fields=["name", "session_id"], order_by="last_checked asc"
	)
	stats["connected"] = len(rows)
	interval_s = max(60, int(settings.health_check_interval or 5) * 60)
	if settings.get_password("webhook_secret", raise_exception=False):
		kept = [r for r in rows if not live.heard_within(r.name, interval_s)]
		stats["skipped"] += len(rows) - len(kept)
		rows = kept
	if not rows:
		return _done(stats, started)
	try:
		make = client_factory(settings)
	except GatewayError as e:
		stats["stopped"] = e.code
		return _done(stats, started)
	policy = one_read_policy(policy_from(settings))
	breaker = live.breaker_for(settings.gateway_url)

	def read(session_id: str) -> QrOutcome | None:
		try:
			with make() as client:
				return acquire_qr(client, session_id, policy, recreate_missing=False)
		except Exception:  # one session's bug must not stop the sweep
			logger().exception("session=%s op=sweep read failed", session_id)
			return None

	for i in range(0, len(rows), BATCH):
		if time.monotonic() - started > BUDGET_S:
			stats["stopped"] = "budget"
			break
		if breaker.state().open:
			stats["stopped"] = "breaker"
			break
		batch, tokens = [], {}
		for row in rows[i : i + BATCH]:
			token = live.try_single_flight(row.name, settings.status_timeout + settings.qr_timeout + 2)
			if token is None:
				stats["skipped"] += 1
			else:
				batch.append(row)
				tokens[row.name] = token
		try:
			stats["batches"] += 1
			outcomes = _read_all(read, [r.session_id for r in batch])
			for outcome in outcomes:
				if outcome is not None:
					breaker.record(outcome.error.code if outcome.error else None)
			suspects = [
				(r, o) for r, o in zip(batch, outcomes, strict=True) if o and lost_reason(o) == "closed"
			]
			if suspects:
				time.sleep(RECHECK_S)
				again = _read_all(read, [r.session_id for r, _o in suspects])
				replaced = {r.name: o for (r, _o), o in zip(suspects, again, strict=True)}
				outcomes = [replaced.get(r.name, o) for r, o in zip(batch, outcomes, strict=True)]
			stats["checked"] += len(batch)
			for row, outcome in zip(batch, outcomes, strict=True):
				reason = lost_reason(outcome) if outcome is not None else None
				if reason and mark_lost(row.name, reason, outcome):
					stats["lost"] += 1
		finally:
			for name, token in tokens.items():
				live.end_single_flight(name, token)
	return _done(stats, started)


def _read_all(read, session_ids: list[str]) -> list:
	if not session_ids:
		return []
	with ThreadPoolExecutor(
		max_workers=min(MAX_PARALLEL, len(session_ids)), thread_name_prefix="wa-sweep"
	) as pool:
		return list(pool.map(read, session_ids))


def _done(stats: dict, started: float) -> dict:
	stats["wall_s"] = round(time.monotonic() - started, 3)
	logger().info("op=sweep %s", " ".join(f"{k}={v}" for k, v in stats.items()))
	return stats


def mark_lost(name: str, reason: str, outcome: QrOutcome) -> bool:
	"""Record one incident: Disconnected with the reason, one Error Log, notifications. False when the
	session is no longer Connected (someone else already handled it)."""
	from whatsapp_crm.sessions.service import SessionService

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
