"""Messages through a linked session: what the adapters send and what they read from gateway events.

Every gateway type answers with the same types: ``SendResult`` (the gateway's message id) for a send,
``InboundMessage`` for a message event (received, or typed on the linked phone), ``Ack`` for a delivery
receipt. Numbers are international digits; a WhatsApp privacy id (``...@lid``) is never taken for one.
Never imports frappe.

Message ids are the WhatsApp key id (``3EB0C4...``) for every type: WAHA's serialized ids
(``true_34600111222@c.us_3EB0C4...``) are reduced to it, so a send's answer and its acks name one message.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidMessage, MediaTooLarge
from .phones import jid_digits, phone_digits

MAX_MEDIA_BYTES = 16 * 1024 * 1024  # WhatsApp's own limit for images, audio and video
MAX_TEXT_CHARS = 65536  # WhatsApp's limit for one text
MAX_CAPTION_CHARS = 1024
MAX_NAME_CHARS = 128
MAX_FILENAME_CHARS = 200
MAX_REACTION_CHARS = 16  # one emoji, with its modifiers and joiners
MAX_CHECK_NUMBERS = 50  # numbers one check_numbers call asks about
MAX_READ_IDS = 50  # messages one mark_read call marks (WAHA 2024 takes one a request)

# Delivery statuses, lower case as Frappe CRM's ticks expect; "played" (a voice note heard) counts as read.
PENDING, SENT, DELIVERED, READ, FAILED = "pending", "sent", "delivered", "read", "failed"
STATUS_RANK = {PENDING: 0, SENT: 1, DELIVERED: 2, READ: 3}
# What a chat is told about us before a send ("typing..." and its end); WhatsApp's own presence words.
COMPOSING, PAUSED = "composing", "paused"

MESSAGE_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SERIALIZED_RE = re.compile(r"^(?:true|false)_[^_]+_([A-Za-z0-9]+)(?:_.*)?$")
_PHONE_RE = re.compile(r"^[0-9]{6,15}$")
_MIMETYPE_RE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:"<>|?*]')
# Chats that are not one person: groups, broadcast lists, status updates, channels.
_NOT_A_PERSON = ("@g.us", "@broadcast", "@newsletter", "@call")


@dataclass(frozen=True)
class Media:
	"""A file to send, or one downloaded from the gateway."""

	data: bytes
	mimetype: str
	filename: str

	@property
	def kind(self) -> str:
		"""WhatsApp's media type: image, video, audio or document."""
		head = self.mimetype.split("/", 1)[0]
		return head if head in ("image", "video", "audio") else "document"

	def b64(self) -> str:
		return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True)
class OutgoingMessage:
	to: str  # international digits
	text: str | None = None  # the text, or the caption of a file
	media: Media | None = None
	reply_to: str | None = None  # gateway id of the quoted message
	reply_from_me: bool = False  # whether the quoted message was ours (WAHA names quoted messages with it)
	reaction: str | None = None  # an emoji for the message ``reply_to`` ("" takes a reaction back)


@dataclass(frozen=True)
class SendResult:
	message_id: str
	http_status: int


@dataclass(frozen=True)
class NumberCheck:
	"""Whether a number has a WhatsApp account (``check_numbers``), before anything is sent to it."""

	number: str  # the international digits asked about
	exists: bool
	jid: str | None  # the gateway's chat id for it ("...@s.whatsapp.net", WAHA "...@c.us"); None without one


@dataclass(frozen=True)
class MediaRef:
	"""What an inbound message says about its attachment; the bytes are fetched with download_media."""

	mimetype: str | None
	filename: str | None
	size: int | None
	url: str | None = None  # WAHA: where the gateway serves the file (only its path is used)


@dataclass(frozen=True)
class InboundMessage:
	id: str
	chat: str | None  # the other person's number as digits; None when only a privacy id is known
	from_me: bool  # typed on the linked phone (or sent by another app on it)
	text: str | None
	media: MediaRef | None
	reply_to: str | None
	timestamp: int | None
	push_name: str | None  # the name the sender set in WhatsApp (None for our own messages)
	lid: str | None = None  # WhatsApp's privacy id of the chat, when the gateway gave one
	reaction: str | None = None  # an emoji put on the message ``reply_to`` ("" when taken back)


@dataclass(frozen=True)
class Ack:
	message_id: str
	status: str  # SENT, DELIVERED, READ or FAILED
	chat: str | None = None


@dataclass(frozen=True)
class HistoryPage:
	"""One page of the messages a gateway stored (its read-back route), as the webhook would have told them.

	``acks`` carry the newest status the gateway knows of our own messages on the page; ``next_cursor`` is
	None on the last page; ``skipped`` counts records that are not a person's message (groups, broken)."""

	messages: tuple[InboundMessage, ...]
	acks: tuple[Ack, ...] = ()
	next_cursor: str | None = None
	skipped: int = 0


def collect_page(
	rows: list[Any],
	parse: Any,
	ack_of: Any,
	since: int,
	until: int,
) -> tuple[list[InboundMessage], list[Ack], int, int | None]:
	"""One history page's rows read as the webhook would: (messages within [since, until], the receipts of
	our own among them, rows that are not a person's message, the oldest timestamp seen). ``parse`` reads a
	row into an InboundMessage (or None); ``ack_of(row, message)`` its newest receipt (or None)."""
	found: list[InboundMessage] = []
	acks: list[Ack] = []
	skipped, oldest = 0, None
	for row in rows:
		message = parse(row) if isinstance(row, dict) else None
		if message is None:
			skipped += 1
			continue
		if message.timestamp is not None:
			oldest = message.timestamp if oldest is None else min(oldest, message.timestamp)
			if not since <= message.timestamp <= until:
				continue
		found.append(message)
		ack = ack_of(row, message) if message.from_me else None
		if ack is not None:
			acks.append(ack)
	return found, acks, skipped, oldest


def best_ack(message_id: str, statuses: list[str], chat: str | None = None) -> Ack | None:
	"""The furthest of a message's statuses (a stored message lists every receipt it got)."""
	best: str | None = None
	for status in statuses:
		if status and keep_status(best, status):
			best = status
	return Ack(message_id, best, chat) if best else None


def message_id(value: Any) -> str | None:
	"""A gateway message id in its common form (the WhatsApp key id), or None when unusable."""
	if not isinstance(value, str):
		return None
	value = value.strip()
	m = _SERIALIZED_RE.match(value)
	if m:
		value = m.group(1)
	return value if MESSAGE_ID_RE.match(value) else None


def phone_of(jid: Any) -> str | None:
	"""The digits of a person's jid ("34600111222@s.whatsapp.net", "34600111222@c.us", "34600111222");
	None for privacy ids, groups and anything that is not a phone number."""
	if not isinstance(jid, str) or "@lid" in jid or any(tag in jid for tag in _NOT_A_PERSON):
		return None
	digits = jid_digits(jid)
	return digits if digits and _PHONE_RE.match(digits) else None


def is_person(jid: Any) -> bool:
	return isinstance(jid, str) and bool(jid) and not any(tag in jid for tag in _NOT_A_PERSON)


def lid_of(jid: Any) -> str | None:
	if isinstance(jid, str) and jid.endswith("@lid"):
		digits = jid_digits(jid)
		return digits if digits and digits.isdigit() else None
	return None


def chat_of(jid: Any, *alternatives: Any) -> tuple[str | None, str | None]:
	"""(phone digits, privacy id) of a chat, from its jid and the gateway's other names for it (Evolution's
	``remoteJidAlt``, ``senderPn``): the first phone jid gives the number, the first ``@lid`` the privacy id.
	Either may come first: Evolution 2.3.6 puts the ``@lid`` in ``remoteJid``, 2.3.7 the phone."""
	names = (jid, *alternatives)
	phone = next((p for p in map(phone_of, names) if p), None)
	return phone, next((lid for lid in map(lid_of, names) if lid), None)


def text_of(value: Any, limit: int = MAX_TEXT_CHARS) -> str | None:
	"""Text as sent, cut at the limit (a gateway event is never refused for a long message)."""
	if not isinstance(value, str) or not value.strip():
		return None
	return value[:limit]


def name_of(value: Any) -> str | None:
	text = text_of(value, MAX_NAME_CHARS)
	return text.strip() if text else None


def int_of(value: Any) -> int | None:
	"""A count or unix time given as a number, a numeric string or a protobuf Long ``{"low", "high"}``."""
	if isinstance(value, dict) and isinstance(value.get("low"), int):
		value = (int(value.get("high") or 0) << 32) + (value["low"] & 0xFFFFFFFF)
	if isinstance(value, str) and value.strip().isdigit():
		value = int(value.strip())
	if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
		return value // 1000 if value > 10**11 else value  # milliseconds -> seconds
	return None


def safe_filename(value: Any, mimetype: str | None = None) -> str:
	"""A file name without paths or control characters, never empty."""
	name = value if isinstance(value, str) else ""
	name = _UNSAFE_NAME.sub("_", name.strip().rsplit("/", 1)[-1].rsplit("\\", 1)[-1])[:MAX_FILENAME_CHARS]
	name = name.lstrip(".") or ""
	if not name:
		ext = (mimetype or "").split("/", 1)[-1].split(";", 1)[0].split("+", 1)[0]
		name = f"whatsapp-file.{ext}" if ext and ext.isalnum() else "whatsapp-file"
	return name


def clean_mimetype(value: Any, default: str = "application/octet-stream") -> str:
	mimetype = value.split(";", 1)[0].strip().lower() if isinstance(value, str) else ""
	return mimetype if _MIMETYPE_RE.match(mimetype) and len(mimetype) <= 128 else default


def media_from_base64(data: Any, mimetype: Any, filename: Any, limit: int = MAX_MEDIA_BYTES) -> Media:
	"""A file from its base64 text (a data URI is accepted too); refused when over ``limit``."""
	if not isinstance(data, str) or not data.strip():
		raise InvalidMessage("the file is empty")
	text = data.strip()
	if text.startswith("data:") and "," in text:
		head, text = text.split(",", 1)
		mimetype = mimetype or head[5:].split(";", 1)[0]
	if len(text) * 3 // 4 > limit + 3:
		raise MediaTooLarge(f"the file is over the {limit} byte limit")
	try:
		raw = base64.b64decode(text, validate=False)
	except (binascii.Error, ValueError):
		raise InvalidMessage("the file is not valid base64") from None
	return checked_media(raw, mimetype, filename, limit)


def checked_media(data: bytes, mimetype: Any, filename: Any, limit: int = MAX_MEDIA_BYTES) -> Media:
	if not data:
		raise InvalidMessage("the file is empty")
	if len(data) > limit:
		raise MediaTooLarge(f"the file is over the {limit} byte limit")
	mime = clean_mimetype(mimetype)
	return Media(bytes(data), mime, safe_filename(filename, mime))


def checked_outgoing(
	to: str,
	text: str | None = None,
	media: Media | None = None,
	reply_to: str | None = None,
	reply_from_me: bool = False,
) -> OutgoingMessage:
	"""Validate a message before any request: something to send, within WhatsApp's limits."""
	text = text if isinstance(text, str) and text.strip() else None
	if text is None and media is None:
		raise InvalidMessage("the message is empty")
	limit = MAX_CAPTION_CHARS if media is not None else MAX_TEXT_CHARS
	if text is not None and len(text) > limit:
		raise InvalidMessage(f"the text is longer than {limit} characters")
	if media is not None and len(media.data) > MAX_MEDIA_BYTES:
		raise MediaTooLarge(f"the file is over the {MAX_MEDIA_BYTES} byte limit")
	return OutgoingMessage(
		to=to, text=text, media=media, reply_to=message_id(reply_to), reply_from_me=reply_from_me
	)


def checked_reaction(to: str, emoji: str | None, target: str | None, target_from_me: bool) -> OutgoingMessage:
	"""A reaction to one message of the chat: a short emoji, or "" to take it back."""
	emoji = (emoji or "").strip()
	target_id = message_id(target)
	if target_id is None:
		raise InvalidMessage("a reaction needs the id of the message it reacts to")
	if len(emoji) > MAX_REACTION_CHARS or any(c.isalnum() or c.isspace() for c in emoji):
		raise InvalidMessage("a reaction is one emoji")
	return OutgoingMessage(to=to, reply_to=target_id, reply_from_me=target_from_me, reaction=emoji)


def reaction_of(value: Any) -> str | None:
	"""An inbound reaction's emoji ("" when taken back), or None when it is not one."""
	if not isinstance(value, str) or len(value.strip()) > MAX_REACTION_CHARS:
		return None
	return value.strip()


def keep_status(current: str | None, new: str) -> bool:
	"""Whether an ack moves a message forward: acks arrive out of order and repeated (a late "delivered"
	never undoes "read"); a failure only counts before delivery."""
	if new == FAILED:
		return current in (None, "", PENDING, SENT)
	if current == FAILED:
		return new in (DELIVERED, READ)  # delivered after all
	return STATUS_RANK.get(new, -1) > STATUS_RANK.get(current or "", -1)


def checked_chat(chat: Any) -> str:
	"""The customer's number a pacing call (mark_read, typing) names, as the digits a send's ``to`` holds;
	InvalidPhone before any request otherwise."""
	return phone_digits(chat)


def checked_read_ids(message_ids: Any) -> list[str]:
	"""The ids of the messages to mark read, in their common form, without repeats: 1-MAX_READ_IDS of them."""
	if isinstance(message_ids, str | bytes) or not isinstance(message_ids, Sequence):
		raise InvalidMessage("message ids must be a list")
	if len(message_ids) > MAX_READ_IDS:
		raise InvalidMessage(f"at most {MAX_READ_IDS} messages can be marked read at once")
	found: list[str] = []
	for value in message_ids:
		mid = message_id(value)
		if mid is None:
			raise InvalidMessage("a message id is not valid")
		if mid not in found:
			found.append(mid)
	if not found:
		raise InvalidMessage("no message to mark read")
	return found


def checked_numbers(numbers: Any) -> list[str]:
	"""The numbers a check_numbers call asks about, as digits, without repeats (Evolution refuses repeats):
	at most MAX_CHECK_NUMBERS given (InvalidMessage beyond), each a number a send would take (InvalidPhone)."""
	if isinstance(numbers, str | bytes) or not isinstance(numbers, Sequence):
		raise InvalidMessage("numbers must be a list")
	if len(numbers) > MAX_CHECK_NUMBERS:
		raise InvalidMessage(f"at most {MAX_CHECK_NUMBERS} numbers can be checked at once")
	found: list[str] = []
	for number in numbers:
		digits = phone_digits(number)
		if digits not in found:
			found.append(digits)
	return found
