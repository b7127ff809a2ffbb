"""Sending: a job per outgoing message, after the request that created it has committed.

A send is retried only when the gateway cannot have sent it (nothing listened, or a proxy said the gateway
is not there); a timeout may mean it was sent, so it fails rather than risk sending twice. Failures go to
the Error Log by message name and code, never with the text.
"""

from __future__ import annotations

import html
import mimetypes
import time

import frappe

from whatsapp_crm.chat import acks, inbox, provider, recent
from whatsapp_crm.gateway.client import GatewayClient
from whatsapp_crm.gateway.errors import GatewayError, InvalidMessage, MediaTooLarge, ServerError, Unreachable
from whatsapp_crm.gateway.messaging import (
	FAILED,
	MAX_MEDIA_BYTES,
	SENT,
	OutgoingMessage,
	SendResult,
	checked_media,
	checked_outgoing,
	checked_reaction,
)
from whatsapp_crm.integration import SESSION, client_from, get_settings, log_gateway_error, logger

QUEUED = "queued"
TITLE_SEND = "WhatsApp Send Failed"
RETRY_WAITS_S = (1.0, 3.0)  # bounded: three tries in all
NOT_THERE = (502, 503, 504)  # a proxy's answer: the gateway behind it never saw the message


def enqueue(name: str) -> None:
	frappe.enqueue(
		"whatsapp_crm.chat.outbox.send",
		queue="short",
		job_id=f"whatsapp_crm:send:{name}",
		deduplicate=True,
		enqueue_after_commit=True,
		name=name,
	)


def send_with_retries(client: GatewayClient, session_id: str, message: OutgoingMessage) -> SendResult:
	for wait in (*RETRY_WAITS_S, None):
		try:
			return client.send_message(session_id, message)
		except (Unreachable, ServerError) as e:
			retry = isinstance(e, Unreachable) or e.http_status in NOT_THERE
			if wait is None or not retry:
				raise
			time.sleep(wait)
	raise AssertionError  # the loop returns or raises


def _deliver(session_id: str, message: OutgoingMessage) -> SendResult:
	with client_from(get_settings()) as client:
		return send_with_retries(client, session_id, message)


def send(name: str) -> None:
	"""The job: send one WhatsApp Message through its account's session, then store the id and status."""
	doc = frappe.get_doc(provider.MESSAGE, name)
	if doc.message_id or doc.status != QUEUED:
		return  # already sent: a repeated job
	session = provider.session_for_account(doc.whatsapp_account)
	session_id = frappe.db.get_value(SESSION, session, "session_id") if session else None
	try:
		if not session_id:
			raise InvalidMessage("the account is not backed by a session")
		message = _outgoing(doc)
		result = _deliver(session_id, message)
	except GatewayError as e:
		_failed(doc, session, e)
		return
	echo = acks.claim(session, result.message_id, doc.name)
	if echo and echo != doc.name and frappe.db.exists(provider.MESSAGE, echo):
		# The gateway's echo of this very message was stored first: this document is the one to keep.
		frappe.delete_doc(provider.MESSAGE, echo, ignore_permissions=True, force=True)
		acks.take_over(session, result.message_id, doc.name)
	doc.reload()
	doc.message_id = result.message_id
	doc.status = acks.pending_status(session, result.message_id, SENT)
	doc.save(ignore_permissions=True)
	provider.refresh_crm(doc)
	frappe.db.commit()  # nosemgrep: receipts look the id up from now on
	# Receipts that came while this job was saving were remembered, not applied: apply them now.
	late = acks.pending_status(session, result.message_id, doc.status)
	if late != doc.status:
		inbox.set_status(doc.name, late)
	recent.add(session, result.message_id, "out", doc.to, message.text or doc.attach, late)
	logger().info("op=send message=%s session=%s status=%s", doc.name, session, late)


def _failed(doc, session: str | None, error: GatewayError) -> None:
	doc.reload()
	doc.status = FAILED
	doc.save(ignore_permissions=True)
	provider.refresh_crm(doc)
	frappe.db.commit()  # nosemgrep: the failed status must be stored before the log entry is
	# One entry per session and reason in the settings' window, counted; it names the latest message.
	log_gateway_error(TITLE_SEND, error, session or "", attempt=1, elapsed_ms=0, operation=f"send {doc.name}")
	logger().info("op=send message=%s session=%s failed code=%s", doc.name, session, error.code)


def _outgoing(doc) -> OutgoingMessage:
	if doc.content_type == "reaction":
		# Frappe CRM names the message reacted to by its gateway id.
		return checked_reaction(
			doc.to.lstrip("+"),
			html.unescape(doc.message or ""),
			doc.reply_to_message_id,
			_is_ours(doc.reply_to_message_id),
		)
	media = _attachment(doc.attach) if doc.content_type != "text" and doc.attach else None
	# Frappe stores the field as sanitized HTML ("a &lt; b"): WhatsApp gets the text as it was typed.
	text = html.unescape(doc.message) if doc.message and doc.message != doc.attach else None
	return checked_outgoing(
		doc.to.lstrip("+"),
		text,
		media,
		reply_to=doc.reply_to_message_id if doc.is_reply else None,
		reply_from_me=bool(doc.is_reply) and _is_ours(doc.reply_to_message_id),
	)


def _is_ours(message_id: str | None) -> bool:
	"""Whether the quoted (or reacted-to) message was sent from this side: gateways name it with that."""
	found = frappe.db.get_value(provider.MESSAGE, {"message_id": message_id}, "type") if message_id else None
	return found == "Outgoing"


def _attachment(file_url: str):
	"""The attached File's bytes; a URL that is not a File of this site is refused (never fetched)."""
	name = frappe.db.get_value("File", {"file_url": file_url}, "name")
	if not name:
		raise InvalidMessage("the attachment is not a file of this site")
	file = frappe.get_doc("File", name)
	if (file.file_size or 0) > MAX_MEDIA_BYTES:
		raise MediaTooLarge(f"the file is over the {MAX_MEDIA_BYTES} byte limit")
	mimetype = mimetypes.guess_type(file.file_name or "")[0]
	return checked_media(file.get_content(), mimetype, file.file_name)


def send_test(session: str, number: str, text: str, local_id: str) -> None:
	"""The job behind the session form's Send test message: the result goes to its recent messages."""
	session_id = frappe.db.get_value(SESSION, session, "session_id")
	try:
		result = _deliver(session_id, checked_outgoing(number, text))
	except GatewayError as e:
		recent.update(session, local_id, FAILED, error=e.code)
		log_gateway_error(TITLE_SEND, e, session, attempt=1, elapsed_ms=0, operation="send_test")
		return
	acks.claim(session, result.message_id, local_id)
	recent.update(
		session, local_id, acks.pending_status(session, result.message_id, SENT), new_id=result.message_id
	)
