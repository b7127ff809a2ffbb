"""The gateway's webhook: ``POST /api/method/whatsapp_crm.api.webhook.receive``.

Guest-callable, because the gateway has no Frappe login: every event is authenticated with the shared
secret from WhatsApp CRM Settings (compared in constant time as a header or a ``secret`` query parameter, or
an HMAC of the body, ours or WAHA's; see ``whatsapp_crm.gateway.webhook`` for the wire format). Events of
every gateway type (Baileys REST, Evolution API, WAHA) are read by their adapter into one event type.
Message and receipt events are stored through ``whatsapp_crm.chat.inbox`` (once per gateway message id);
events the app has no use for (presence, groups...) are answered 200 and change nothing. Bodies are capped, replays within the signature
window are refused, unknown sessions and malformed events get a clear 4xx, and nothing is changed for them.
"""

from __future__ import annotations

import time

import frappe

from whatsapp_crm import live
from whatsapp_crm.chat import inbox
from whatsapp_crm.gateway.adapters import parse_webhook
from whatsapp_crm.gateway.errors import GatewayError
from whatsapp_crm.gateway.webhook import (
	MAX_WEBHOOK_BODY,
	WebhookRejected,
	event_state,
	replay_key,
	verify,
)
from whatsapp_crm.integration import SESSION, get_settings, logger

REPLAY_WINDOW_S = 600  # twice the signature tolerance, so a replayed, still-valid signature is caught


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
def receive() -> dict:
	"""Apply one gateway event (new QR, connection update, logout) to its session."""
	try:
		body = _read_body()
		secret = get_settings().get_password("webhook_secret", raise_exception=False) or ""
		verify(
			dict(frappe.request.headers),
			body,
			secret,
			now=time.time(),
			query_secret=frappe.request.args.get("secret"),
		)
		event = parse_webhook(body)
	except WebhookRejected as e:
		return _refuse(e.code, e.http_status)
	if event.kind == "ignored":
		return {"ok": True, "ignored": True}
	if not frappe.cache.set(
		frappe.cache.make_key(f"whatsapp_crm:webhook:{replay_key(event, body)}"),
		1,
		nx=True,
		ex=REPLAY_WINDOW_S,
	):
		if event.gateway_type != "baileys" and not event.event_id:
			# Evolution and WAHA Core send no event id and repeat identical bodies (WAHA every 2 s while
			# it reconnects); a refusal would only make them retry. A repeat changes nothing either way.
			return {"ok": True, "duplicate": True}
		return _refuse("REPLAYED", 409)
	name = frappe.db.get_value(SESSION, {"session_id": event.session_id}, "name")
	if not name:
		return _refuse("UNKNOWN_SESSION", 404)
	live.mark_heard(name)  # the watcher and the sweep leave a session its gateway talks about to the webhooks
	if event.kind in ("message", "ack"):
		result = inbox.handle(event, name)
		logger().info("webhook session=%s event=%s %s", name, event.kind, ",".join(sorted(result)))
		return result
	doc = frappe.get_doc(SESSION, name)
	try:
		payload = doc.apply_gateway_state(event_state(event), source="webhook", fetch_qr=event.needs_qr)
	except GatewayError:  # e.g. a QR that is not a valid image or payload
		return _refuse("MALFORMED", 400)
	logger().info("webhook session=%s event=%s status=%s", name, event.kind, payload["status"])
	return {"ok": True, "status": payload["status"]}
