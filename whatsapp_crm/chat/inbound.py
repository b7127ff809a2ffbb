"""Inbound messages and receipts from the webhook, stored as frappe_whatsapp's WhatsApp Message documents.

One document per gateway message id (a claim, then the document's own primary key). Messages typed on the
linked phone are stored as Outgoing so the CRM shows the whole conversation. Files are fetched from the
gateway by a job and attached as private Files. Nothing here writes a message text to a log.
"""

from __future__ import annotations

import hashlib
import html
import time

import frappe

from whatsapp_crm.chat import acks, files, leads, provider, recent
from whatsapp_crm.gateway.errors import GatewayError
from whatsapp_crm.gateway.messaging import SENT, Ack, InboundMessage, MediaRef, keep_status
from whatsapp_crm.gateway.phones import with_plus
from whatsapp_crm.gateway.policies import WEBHOOKS
from whatsapp_crm.gateway.webhook import WebhookEvent, WebhookRejected, event_state
from whatsapp_crm.gateway_records.config import client_for
from whatsapp_crm.integration import SESSION, get_settings, log_gateway_error, logger
from whatsapp_crm.sessions import live

TITLE_MEDIA = "WhatsApp Media Download Failed"
ATTACH_ATTEMPTS = 3


def gateway_name(session: str, message_id: str) -> str:
	return "wa-" + hashlib.sha256(f"{session}:{message_id}".encode()).hexdigest()[:24]


def handle(event: WebhookEvent, session: str) -> dict:
	if event.kind == "ack" and event.ack is not None:
		return apply_ack(session, event.ack)
	if event.kind == "message" and event.message is not None:
		return receive(session, event.message)
	return {"ok": True, "ignored": True}


def receive(session: str, message: InboundMessage) -> dict:
	chat = message.chat
	if message.lid and chat:
		acks.remember_lid(message.lid, chat)
	elif message.lid:
		chat = acks.phone_for_lid(message.lid)
	if not chat:
		# Only a privacy id, never seen with its number: no Lead can match it, and it is not a phone number.
		logger().info("op=inbound session=%s message=%s skipped: number hidden (lid)", session, message.id)
		return {"ok": True, "skipped": "hidden_number"}
	name = gateway_name(session, message.id)
	holder = acks.claim(session, message.id, name)
	# A claim outlives a request that failed after taking it (rolled back): only a stored document, or a
	# send of this app's (another holder), makes the message a duplicate. The document name is the real lock.
	if holder is not None and (holder != name or frappe.db.exists(provider.MESSAGE, name)):
		return {"ok": True, "duplicate": True}
	direction = "out" if message.from_me else "in"
	recent.add(session, message.id, direction, with_plus(chat), _text(message), SENT)
	account = provider.account_for_session(session)
	if not account:
		return {"ok": True, "stored": False}
	if message.from_me and frappe.db.exists(
		provider.MESSAGE, {"message_id": message.id, "whatsapp_account": account}
	):
		return {"ok": True, "duplicate": True}  # sent by this app; its echo came after the claim expired
	# A number the CRM does not know gets its Lead (or Contact) first, so this message links to it.
	reference = (None, None) if message.from_me else leads.for_message(session, account, message)
	doc = frappe.new_doc(provider.MESSAGE)
	doc.flags.gateway_name = name
	doc.flags.from_gateway = True
	doc.flags.gateway_session = session
	doc.flags.gateway_timestamp = message.timestamp  # unix seconds: catch-up's old messages get no auto reply
	doc.update(
		{
			"type": "Outgoing" if message.from_me else "Incoming",
			"from": None if message.from_me else with_plus(chat),
			"to": with_plus(chat) if message.from_me else None,
			# The field holds HTML (Frappe CRM renders it as such): the customer's words stay text.
			"message": html.escape(_text(message), quote=False),
			"content_type": "reaction" if message.reaction is not None else _content_type(message.media),
			"message_id": message.id,
			"whatsapp_account": account,
			"profile_name": message.push_name,
			# Frappe CRM shows a reaction on the message it names, not as a reply.
			"is_reply": 1 if message.reply_to and message.reaction is None else 0,
			"reply_to_message_id": message.reply_to,
			"status": SENT if message.from_me else None,
			"reference_doctype": reference[0],
			"reference_name": reference[1],
		}
	)
	try:
		doc.insert(ignore_permissions=True)
	except frappe.DuplicateEntryError:
		return {"ok": True, "duplicate": True}
	provider.refresh_crm(doc)
	if message.media is not None:
		frappe.enqueue(
			"whatsapp_crm.chat.inbound.fetch_media",
			queue="short",
			enqueue_after_commit=True,
			name=doc.name,
			session=session,
			message_id=message.id,
			media=message.media.__dict__,
		)
	return {"ok": True, "stored": doc.name}


def apply_ack(session: str, ack: Ack) -> dict:
	recent.update(session, ack.message_id, ack.status)
	# Remembered first, looked up second: a send job that stores the id meanwhile reads it after its commit.
	acks.remember_ack(session, ack.message_id, ack.status)
	account = provider.account_for_session(session)
	name = (
		frappe.db.get_value(
			provider.MESSAGE,
			{"message_id": ack.message_id, "whatsapp_account": account, "type": "Outgoing"},
			"name",
		)
		if account
		else None
	)
	if not name:
		return {"ok": True, "pending": True}  # the send job has not stored the id yet
	changed = set_status(name, ack.status)
	return {"ok": True, "status": ack.status} if changed else {"ok": True, "unchanged": True}


def set_status(name: str, status: str) -> bool:
	"""Move a message's status forward with doc.save() (Frappe CRM's realtime refresh runs on_update); a
	concurrent save (the send job, another receipt) is read again and the move retried once."""
	for attempt in range(2):
		doc = frappe.get_doc(provider.MESSAGE, name)
		if not keep_status(doc.status, status):
			return False
		doc.status = status
		try:
			doc.save(ignore_permissions=True)
			provider.refresh_crm(doc)
			return True
		except frappe.TimestampMismatchError:
			if attempt:
				raise
	return False


def fetch_media(name: str, session: str, message_id: str, media: dict) -> None:
	"""The job: download an inbound file from the gateway and attach it to its message as a private File."""
	ref = MediaRef(**media)
	inbound = InboundMessage(
		id=message_id,
		chat=None,
		from_me=False,
		text=None,
		media=ref,
		reply_to=None,
		timestamp=None,
		push_name=None,
	)
	session_id = frappe.db.get_value(SESSION, session, "session_id")
	try:
		with client_for(session) as client:
			found = client.download_media(session_id, inbound)
	except GatewayError as e:
		log_gateway_error(TITLE_MEDIA, e, session, attempt=1, elapsed_ms=0, operation="media")
		return
	# The message may be saved at the same moment by its receipt or the next message's hooks: a deadlock
	# rolls this back, and the downloaded bytes are attached again rather than lost.
	for attempt in range(1, ATTACH_ATTEMPTS + 1):
		try:
			_attach(name, found, ref)
			return
		except frappe.QueryDeadlockError:
			frappe.db.rollback()
			if attempt == ATTACH_ATTEMPTS:
				raise
			time.sleep(0.2 * attempt)


def _attach(name: str, found, ref: MediaRef) -> None:
	file = frappe.get_doc(
		{
			"doctype": "File",
			"file_name": found.filename,
			"content": found.data,
			"is_private": 1,
			"attached_to_doctype": provider.MESSAGE,
			"attached_to_name": name,
			"attached_to_field": "attach",  # else Frappe's attach_files_to_document adds a second File on save
		}
	).insert(ignore_permissions=True)
	if files.kind_for(file.file_name, _content_type(ref)) == "image":
		files.make_thumbnail(file)  # the inbox shows a customer's photo from its thumbnail
	doc = frappe.get_doc(provider.MESSAGE, name)
	doc.attach = file.file_url
	doc.save(ignore_permissions=True)
	if doc.message == html.escape(_media_label(ref) or "", quote=False):
		# what Frappe CRM shows under a file without a caption; written past save(): the field is set only once
		doc.db_set("message", file.file_url)
	provider.refresh_crm(doc)


def _text(message: InboundMessage) -> str:
	if message.reaction is not None:
		return message.reaction
	return message.text or _media_label(message.media) or ""


def _content_type(media: MediaRef | None) -> str:
	if media is None:
		return "text"
	head = (media.mimetype or "").split("/", 1)[0]
	return head if head in ("image", "video", "audio") else "document"


def _media_label(media: MediaRef | None) -> str | None:
	return media.filename if media is not None else None


# -- events from a gateway, whatever their kind -----------------------------------------------------------

LOCK_WAIT_S = WEBHOOKS.lock_wait_s  # past it, the event is parked instead of waiting on a row lock


def session_of(event, gateway: str) -> str | None:
	# Plain SQL on the (gateway, session_id) unique index: this runs for every event of a burst.
	rows = frappe.db.sql(
		f"select name from `tab{SESSION}` where gateway=%s and session_id=%s limit 1",
		(gateway, event.session_id),
	)
	return rows[0][0] if rows else None


def apply_event(event, gateway: str) -> dict:
	"""Apply one verified event of ``gateway``: a message or receipt is stored, a QR, connection or logout
	changes its session. Raises WebhookRejected for what can never succeed."""
	name = session_of(event, gateway)
	if not name:
		raise WebhookRejected("UNKNOWN_SESSION")
	live.mark_heard(name)  # the watcher and the sweep leave a session its gateway talks about to the webhooks
	if event.kind in ("message", "ack"):
		result = handle(event, name)
		logger().info("webhook session=%s event=%s %s", name, event.kind, ",".join(sorted(result)))
		return result
	doc = frappe.get_doc(SESSION, name)
	try:
		payload = doc.apply_gateway_state(event_state(event), source="webhook", fetch_qr=event.needs_qr)
	except GatewayError as e:  # e.g. a QR that is not a valid image or payload
		raise WebhookRejected("MALFORMED") from e
	logger().info("webhook session=%s event=%s status=%s", name, event.kind, payload["status"])
	return {"ok": True, "status": payload["status"]}


class short_lock_wait:
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


def rollback() -> None:
	try:
		frappe.db.rollback()
	except Exception:
		logger().warning("webhook: rollback failed", exc_info=True)
