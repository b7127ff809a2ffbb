"""A message from a number the CRM does not know: may it become a Lead, and under which name? No Frappe here.

Only a person writing from a real phone number qualifies: not our own messages, not the linked phone's own
number, not a group, a broadcast list, a status update or a channel (the adapters give those no number), not a
privacy id whose number was never seen, and not something that is not a phone number at all (8 to 15 digits,
no leading zero). A sender's WhatsApp name is whatever the sender typed: it becomes a safe, short Lead name.
"""

from __future__ import annotations

import re
import unicodedata

from whatsapp_crm.gateway.messaging import InboundMessage
from whatsapp_crm.gateway.phones import plus_number

# Why a message creates nothing (logged as such); None means it may.
FROM_ME, NO_NUMBER, OWN_NUMBER, INVALID_NUMBER, BLOCKED = (
	"from_me",
	"no_number",
	"own_number",
	"invalid_number",
	"blocked",
)
NAME_MAX = 140  # a Data field
_TAG = re.compile(r"<[^>]*>?")
_SPACES = re.compile(r"\s+")
# Characters that change how text is shown without being text: bidi overrides and isolates, zero-width
# joiners used for spoofing, byte order marks. Right-to-left letters themselves stay.
_INVISIBLE = {
	*(chr(c) for c in range(0x202A, 0x202F)),
	*(chr(c) for c in range(0x2066, 0x206A)),
	"\u200e",
	"\u200f",
	"\u061c",
	"\ufeff",
}


def skip_reason(
	message: InboundMessage, own_number: str | None = None, blocked: frozenset[str] | set[str] = frozenset()
) -> str | None:
	"""Why this message creates no Lead or Contact (a constant above), or None when it may."""
	if message.from_me:
		return FROM_ME
	if not message.chat:
		return NO_NUMBER  # a group, a broadcast, a status, a channel, or a privacy id alone
	number = plus_number(message.chat)
	if number is None:
		return INVALID_NUMBER
	own = plus_number(own_number)
	if own is not None and own == number:
		return OWN_NUMBER
	if number in blocked or number[1:] in blocked:
		return BLOCKED
	return None


def lead_name(push_name: str | None, number: str) -> str:
	"""The sender's WhatsApp name as plain, visible, single-line text of at most NAME_MAX characters; the
	number when nothing of it is left."""
	text = unicodedata.normalize("NFC", push_name or "")
	text = _TAG.sub(" ", text)
	text = "".join(
		" " if ch in "\r\n\t" else ch
		for ch in text
		if ch not in _INVISIBLE
		and (unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cn") or ch in "\r\n\t\u200d")
	)
	text = _SPACES.sub(" ", text).strip().replace("<", "").replace(">", "")
	if len(text) > NAME_MAX:
		text = text[: NAME_MAX - 1].rstrip() + "…"
	return text or number
