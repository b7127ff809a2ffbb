"""The gateway's webhook: ``POST /api/method/whatsapp_crm.api.webhook.receive``.

Guest-callable, because the gateway has no Frappe login: every event is authenticated with the secret of
the WhatsApp Gateway it comes from (compared in constant time as a header or a ``secret`` query parameter, or
an HMAC of the body, ours or WAHA's; see ``whatsapp_crm.gateway.webhook`` for the wire format). The URL the
app registers names the gateway (``?gateway=NAME``); a URL registered before gateways had names is checked
against every gateway's secret, and an event only ever reaches a session of a gateway whose secret it carries. Events of
every gateway type (Baileys REST, Evolution API, WAHA) are read by their adapter into one event type.
Message and receipt events are stored through ``whatsapp_crm.chat.inbox`` (once per gateway message id);
events the app has no use for (presence, groups...) are answered 200 and change nothing. Bodies are capped, replays within the signature
window are refused, unknown sessions and malformed events get a clear 4xx, and nothing is changed for them.

Gateways retry only some answers (Evolution never retries 400/401/403/404/422), so a failure that may pass
must never look like one of those. A verified event that cannot be stored now (a lock held longer than the
short wait set here, a deadlock, Redis restarting, any bug) is *parked*: its raw body is written to a
WhatsApp Parked Event in a fresh transaction, the gateway gets 200, and a job applies it. Only when even
parking fails does the gateway get 503 with Retry-After, which every gateway that retries, retries. The
README's "Webhook answers" table lists each case.
"""

from __future__ import annotations

import json
import time

import frappe
from frappe.utils import add_to_date, now_datetime
from werkzeug.wrappers import Response

from whatsapp_crm.chat import inbox, provider
from whatsapp_crm.gateway.adapters import parse_webhook
from whatsapp_crm.gateway.errors import GatewayError, NotConfigured
from whatsapp_crm.gateway.webhook import (
	MAX_WEBHOOK_BODY,
	WebhookRejected,
	event_state,
	replay_key,
	verify,
)
from whatsapp_crm.gateways.config import GATEWAY, PARKED, webhook_secret
from whatsapp_crm.integration import SESSION, logger
from whatsapp_crm.sessions import live

REPLAY_WINDOW_S = 600  # twice the signature tolerance, so a replayed, still-valid signature is caught
TITLE_PARKED = "WhatsApp Webhook Parked"
RETRY_AFTER_S = 10
# While storing an event, a row lock is waited for this long (MariaDB's default is 50 s, far longer than
# any gateway waits for an answer); past it, the event is parked instead.
LOCK_WAIT_S = 1
MAX_REPLAYS = 12  # a parked event that still fails after this many tries is left Failed, for an admin
# Message events handled at once on the whole site; while more arrive, they are parked and stored by the job
# (one insert to answer, instead of the Lead lookup and frappe_whatsapp's hooks). One: a message that comes
# alone is stored at once, and a burst is answered at the cost of a ping (docs/benchmarks.md, R3).
INLINE_LIMIT = 1
INFLIGHT_KEY = "whatsapp_crm:webhook:inflight"


def _read_body() -> bytes:
	# Frappe has already read (and cached) the body to build form_dict, under its own upload cap.
	length = frappe.request.content_length
	if length is not None and length > MAX_WEBHOOK_BODY:
		raise WebhookRejected("BODY_TOO_LARGE")
	return frappe.request.get_data(cache=True)


def _refuse(code: str, http_status: int) -> dict:
	frappe.local.response["http_status_code"] = http_status
	logger().info("webhook refused code=%s ip=%s", code, getattr(frappe.local, "request_ip", None))
	return {"ok": False, "error": code}


@frappe.whitelist(allow_guest=True, methods=["POST"])
def receive() -> dict | Response:
	"""Apply one gateway event (message, receipt, new QR, connection update, logout) to its session."""
	try:
		body = _read_body()
		gateways = _verified_gateways(body, frappe.request.args.get("gateway"))
		event = parse_webhook(body)
	except WebhookRejected as e:
		return _refuse(e.code, e.http_status)
	if event.kind == "ignored":
		return {"ok": True, "ignored": True}
	gateway = _gateway_of(event, gateways)
	key = frappe.cache.make_key(f"whatsapp_crm:webhook:{gateway}:{replay_key(event, body)}")
	try:
		if not frappe.cache.set(key, 1, nx=True, ex=REPLAY_WINDOW_S):
			if event.gateway_type != "baileys" and not event.event_id:
				# Evolution and WAHA Core send no event id and repeat identical bodies (WAHA every 2 s
				# while it reconnects); a refusal would only make them retry. A repeat changes nothing.
				return {"ok": True, "duplicate": True}
			return _refuse("REPLAYED", 409)
		if event.kind in ("message", "ack") and _busy():
			# A burst: one insert answers it (no lock waits to set, no Lead lookup); the job stores it.
			answer = _park_busy(body, event, gateway)
			if isinstance(answer, Response):
				_forget(key)  # not kept: the gateway's retry must not be taken for a repeat
			return answer
		with _short_lock_wait():
			return apply(event, gateway)
	except WebhookRejected as e:
		_forget(key)
		return _refuse(e.code, e.http_status)
	except Exception as e:
		# Nothing of this event is kept half-done; a retry (the gateway's or the parked job's) starts anew.
		_rollback()
		_forget(key)
		return _park_or_retry(body, event, gateway, e)
	finally:
		_done()


def _verified_gateways(body: bytes, named: str | None) -> list[str]:
	"""The gateways whose secret this request carries (the named one, or, for a URL registered before
	gateways had names, any). Raises WebhookRejected (401) when none does."""
	names = [named] if named else frappe.get_all(GATEWAY, pluck="name", order_by="creation asc")
	headers, now, query_secret = dict(frappe.request.headers), time.time(), frappe.request.args.get("secret")
	verified, refusals = [], []
	for name in names:
		try:
			secret = webhook_secret(name)  # from the cached record: no query for a gateway that exists
		except NotConfigured:
			raise WebhookRejected("UNKNOWN_GATEWAY") from None
		try:
			verify(headers, body, secret, now=now, query_secret=query_secret)
		except WebhookRejected as e:
			refusals.append(e)
			continue
		verified.append(name)
	if not verified:
		# "not configured" only when no gateway has a secret; a wrong secret says so
		raise next((e for e in refusals if e.code != "NOT_CONFIGURED"), None) or WebhookRejected(
			"NOT_CONFIGURED"
		)
	return verified


def _gateway_of(event, gateways: list[str]) -> str:
	"""Of the gateways that signed it, the one holding the event's session ("" when none does: refused
	later as an unknown session, after the replay check)."""
	if len(gateways) == 1:
		return gateways[0]
	rows = frappe.get_all(
		SESSION, filters={"session_id": event.session_id, "gateway": ("in", gateways)}, pluck="gateway"
	)
	return rows[0] if rows else ""


def _session_of(event, gateway: str) -> str | None:
	# Plain SQL on the (gateway, session_id) unique index: this runs for every event of a burst.
	rows = frappe.db.sql(
		f"select name from `tab{SESSION}` where gateway=%s and session_id=%s limit 1",
		(gateway, event.session_id),
	)
	return rows[0][0] if rows else None


def _busy() -> bool:
	"""More message events are being stored on this site right now than can be answered quickly: this one
	is parked for the job (a burst is answered in milliseconds and stored in order behind it)."""
	key = frappe.cache.make_key(INFLIGHT_KEY)
	pipe = frappe.cache.pipeline()
	pipe.incr(key)
	pipe.expire(key, 30)  # a request killed before it counted itself out is forgotten soon
	count = pipe.execute()[0]
	frappe.local.whatsapp_crm_inflight = True
	return int(count) > INLINE_LIMIT


def _done() -> None:
	if getattr(frappe.local, "whatsapp_crm_inflight", False):
		frappe.local.whatsapp_crm_inflight = False
		try:
			frappe.cache.decr(frappe.cache.make_key(INFLIGHT_KEY))
		except Exception:
			logger().warning("webhook: in-flight count not decremented (Redis away?)")


def _park_busy(body: bytes, event, gateway: str) -> dict | Response:
	if not _session_of(event, gateway):
		raise WebhookRejected("UNKNOWN_SESSION")  # refused now, as when stored at once
	return _park_or_retry(body, event, gateway, None)


def apply(event, gateway: str) -> dict:
	"""Store one verified event of ``gateway``. Raises WebhookRejected for what can never succeed."""
	name = _session_of(event, gateway)
	if not name:
		raise WebhookRejected("UNKNOWN_SESSION")
	live.mark_heard(name)  # the watcher and the sweep leave a session its gateway talks about to the webhooks
	if event.kind in ("message", "ack"):
		result = inbox.handle(event, name)
		logger().info("webhook session=%s event=%s %s", name, event.kind, ",".join(sorted(result)))
		return result
	doc = frappe.get_doc(SESSION, name)
	try:
		payload = doc.apply_gateway_state(event_state(event), source="webhook", fetch_qr=event.needs_qr)
	except GatewayError as e:  # e.g. a QR that is not a valid image or payload
		raise WebhookRejected("MALFORMED") from e
	logger().info("webhook session=%s event=%s status=%s", name, event.kind, payload["status"])
	return {"ok": True, "status": payload["status"]}


class _short_lock_wait:
	"""Wait at most LOCK_WAIT_S for a row lock while storing an event (this connection only; put back to
	the server's default after)."""

	def __enter__(self):
		self.set = False
		try:
			frappe.db.sql(f"set session innodb_lock_wait_timeout = {LOCK_WAIT_S}")
			self.set = True
		except Exception:
			pass  # not MariaDB, or the database is away: the store itself will say
		return self

	def __exit__(self, *exc) -> None:
		if self.set:
			try:
				frappe.db.sql("set session innodb_lock_wait_timeout = default")
			except Exception:
				logger().warning("webhook: could not restore innodb_lock_wait_timeout")


def _rollback() -> None:
	try:
		frappe.db.rollback()
	except Exception:
		logger().warning("webhook: rollback failed", exc_info=True)


def _forget(key: str) -> None:
	try:
		frappe.cache.delete(key)
	except Exception:
		logger().warning("webhook: replay key not removed (Redis away?)")


def _park_or_retry(body: bytes, event, gateway: str, error: Exception | None) -> dict | Response:
	"""Keep the verified body for a job and answer 200, or 503 with Retry-After if it cannot be kept.
	``error`` None: parked because the site is busy, not because storing failed."""
	kind = type(error).__name__ if error is not None else "busy"
	name = frappe.generate_hash(length=12)
	now = now_datetime()
	try:
		# One plain INSERT (no document hooks to run): a burst is answered at the cost of writing it down.
		frappe.db.sql(
			f"""insert into `tab{PARKED}` (name, creation, modified, owner, modified_by, docstatus, idx,
			status, gateway, gateway_type, session_id, event_kind, attempts, next_try_at, last_error, body)
			values (%(name)s, %(now)s, %(now)s, %(user)s, %(user)s, 0, 0, 'Pending', %(gateway)s, %(type)s,
			%(session)s, %(kind)s, %(attempts)s, %(now)s, %(error)s, %(body)s)""",
			{
				"name": name,
				"now": now,
				"user": frappe.session.user,
				"gateway": gateway,
				"type": event.gateway_type,
				"session": event.session_id,
				"kind": event.kind,
				"attempts": 0 if error is None else 1,
				"error": f"{kind}: {str(error)[:500]}" if error is not None else None,
				"body": body.decode("utf-8", "replace"),
			},
		)
		frappe.db.commit()  # nosemgrep: the event must survive whatever follows
	except Exception:
		_rollback()
		logger().warning("webhook session=%s parking failed (%s): 503", event.session_id, kind, exc_info=True)
		return Response(
			json.dumps({"ok": False, "error": "RETRY_LATER"}),
			status=503,
			headers={"Retry-After": str(RETRY_AFTER_S)},
			mimetype="application/json",
		)
	log = logger().info if error is None else logger().warning
	log("webhook session=%s event=%s parked as %s (%s)", event.session_id, event.kind, name, kind)
	_wake_replay()
	return {"ok": True, "parked": name}


JOB_ID = "whatsapp_crm:webhook:replay"
WAKE_KEY = "whatsapp_crm:webhook:replay:woken"


def _wake_replay() -> None:
	"""Queue the replay job once for a burst (not once an event): the job runs until nothing is due."""
	try:
		if frappe.cache.set(frappe.cache.make_key(WAKE_KEY), 1, nx=True, ex=60):
			frappe.enqueue(
				"whatsapp_crm.api.webhook.replay_parked", queue="short", job_id=JOB_ID, deduplicate=True
			)
	except Exception:
		logger().warning("webhook: replay job not queued (Redis away?): the scheduler's minute applies it")


def replay_parked(limit: int = 200, budget_s: float = 240.0) -> dict:
	"""Job (and scheduler, every minute): apply parked events, oldest first, until none is due or the
	budget is spent; each try commits on its own."""
	stats = {"applied": 0, "again": 0, "failed": 0, "refused": 0}
	started = time.monotonic()
	seen: set[str] = set()
	woken = False
	while time.monotonic() - started < budget_s:
		names = [
			n
			for n in frappe.get_all(
				PARKED,
				filters={"status": "Pending", "next_try_at": ("<=", now_datetime())},
				pluck="name",
				order_by="creation asc",
				limit=limit,
			)
			if n not in seen
		]
		if not names:
			if woken:
				break
			# Events parked from now on queue a new job; one parked just before is seen in the last round.
			frappe.cache.delete(frappe.cache.make_key(WAKE_KEY))
			woken = True
			continue
		seen.update(names)
		_replay(names, stats)
	if seen:
		logger().info("op=webhook_replay %s", " ".join(f"{k}={v}" for k, v in stats.items()))
	return stats


def _replay(names: list[str], stats: dict) -> None:
	for name in names:
		doc = frappe.get_doc(PARKED, name)
		try:
			event = parse_webhook(doc.body.encode("utf-8"))
			with _short_lock_wait():
				result = apply(event, doc.gateway or "")
			if result.get("stored"):
				# Its place in the conversation is when it arrived, not when the job stored it.
				frappe.db.set_value(
					provider.MESSAGE, result["stored"], "creation", doc.creation, update_modified=False
				)
		except WebhookRejected as e:
			_rollback()
			frappe.db.set_value(PARKED, name, {"status": "Failed", "last_error": e.code})
			stats["refused"] += 1
		except Exception as e:
			_rollback()
			attempts = (doc.attempts or 0) + 1
			failed = attempts >= MAX_REPLAYS
			frappe.db.set_value(
				PARKED,
				name,
				{
					"attempts": attempts,
					"status": "Failed" if failed else "Pending",
					"next_try_at": add_to_date(now_datetime(), seconds=min(600, 5 * 2**attempts)),
					"last_error": f"{type(e).__name__}: {str(e)[:500]}",
				},
			)
			if failed:
				frappe.log_error(
					title=TITLE_PARKED,
					message=f"parked event: {name}\nsession: {doc.session_id}\nevent: {doc.event_kind}\n"
					f"attempts: {attempts}\nerror: {type(e).__name__}: {str(e)[:500]}",
					reference_doctype=PARKED,
					reference_name=name,
				)
				stats["failed"] += 1
			else:
				stats["again"] += 1
		else:
			frappe.delete_doc(PARKED, name, ignore_permissions=True, force=True)
			stats["applied"] += 1
		frappe.db.commit()  # nosemgrep: one event at a time, whatever the next one does
