"""The gateway's webhook: ``POST /api/method/whatsapp_crm.api.webhook.receive``.

Guest-callable, because the gateway has no Frappe login: every event is authenticated with the secret of
the WhatsApp Gateway it comes from (compared in constant time as a header or a ``secret`` query parameter, or
an HMAC of the body, ours or WAHA's; see ``whatsapp_crm.gateway.webhook`` for the wire format). The URL the
app registers names the gateway (``?gateway=NAME``); a URL registered before gateways had names is checked
against every gateway's secret, and an event only ever reaches a session of a gateway whose secret it carries. Events of
every gateway type (Baileys REST, Evolution API, WAHA) are read by their adapter into one event type.
Events are applied by ``whatsapp_crm.chat.inbound`` (a message stored once per gateway message id);
events the app has no use for (presence, groups...) are answered 200 and change nothing. Bodies are capped, replays within the signature
window are refused, unknown sessions and malformed events get a clear 4xx, and nothing is changed for them.

Gateways retry only some answers (Evolution never retries 400/401/403/404/422), so a failure that may pass
must never look like one of those. A verified event that cannot be stored now (a lock held longer than the
short wait set here, a deadlock, Redis restarting, any bug) is *parked*: its raw body is written to a
WhatsApp Parked Event in a fresh transaction, the gateway gets 200, and a job applies it. Only when even
parking fails does the gateway get 503 with Retry-After, which every gateway that retries, retries (the
parked events and their job: ``whatsapp_crm.chat.parked``). docs/messaging.md, "Webhook answers", lists each
case.
"""

from __future__ import annotations

import json
import time

import frappe
from werkzeug.wrappers import Response

from whatsapp_crm.chat import parked
from whatsapp_crm.chat.inbound import apply_event, rollback, session_of, short_lock_wait
from whatsapp_crm.gateway.adapters import parse_webhook
from whatsapp_crm.gateway.errors import NotConfigured
from whatsapp_crm.gateway.policies import WEBHOOKS
from whatsapp_crm.gateway.webhook import MAX_WEBHOOK_BODY, WebhookRejected, replay_key, verify
from whatsapp_crm.gateway_records.config import GATEWAY, webhook_secret
from whatsapp_crm.integration import SESSION, logger

REPLAY_WINDOW_S = WEBHOOKS.replay_window_s
RETRY_AFTER_S = WEBHOOKS.retry_after_s
INLINE_LIMIT = WEBHOOKS.inline_limit  # docs/benchmarks.md, R3: a burst is answered at the cost of a ping
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
		with short_lock_wait():
			return apply_event(event, gateway)
	except WebhookRejected as e:
		_forget(key)
		return _refuse(e.code, e.http_status)
	except Exception as e:
		# Nothing of this event is kept half-done; a retry (the gateway's or the parked job's) starts anew.
		rollback()
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
	if not session_of(event, gateway):
		raise WebhookRejected("UNKNOWN_SESSION")  # refused now, as when stored at once
	return _park_or_retry(body, event, gateway, None)


def _park_or_retry(body: bytes, event, gateway: str, error: Exception | None) -> dict | Response:
	"""Park the verified body and answer 200, or 503 with Retry-After if even that failed."""
	name = parked.park(body, event, gateway, error)
	if name is not None:
		return {"ok": True, "parked": name}
	return Response(
		json.dumps({"ok": False, "error": "RETRY_LATER"}),
		status=503,
		headers={"Retry-After": str(RETRY_AFTER_S)},
		mimetype="application/json",
	)


def _forget(key: str) -> None:
	try:
		frappe.cache.delete(key)
	except Exception:
		logger().warning("webhook: replay key not removed (Redis away?)")
