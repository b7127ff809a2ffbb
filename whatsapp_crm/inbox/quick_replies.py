"""Quick replies: saved answers an agent inserts by typing "/" and a code in the reply box. Codes are short
lowercase words, so typing one is quick and two never differ only by case; texts follow the placeholder
rules of campaigns (``sending.templates``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from whatsapp_crm.sending import templates

from .errors import BadQuickReplyCode

CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
MAX_OFFERED = 20

R = TypeVar("R", bound=Mapping[str, Any])


def _term(value: object) -> str:
	return value.strip().removeprefix("/").strip().lower() if isinstance(value, str) else ""


def checked_code(code: str) -> str:
	"""The code as stored: without spaces or the "/" an agent types before it, lowercase; 1 to 30 letters,
	digits, "-" or "_", starting with a letter or digit."""
	value = _term(code)
	if not CODE.fullmatch(value):
		raise BadQuickReplyCode(f"{code!r} is not a quick reply code", field="code", value=code)
	return value


def checked_text(text: str, allowed_placeholders: Iterable[str]) -> str:
	"""The text when its placeholders are known and it fits one WhatsApp message (TextTooLong or
	UnknownPlaceholder from ``sending.errors`` otherwise)."""
	return templates.checked(text, allowed_placeholders)


def rank(prefix: str, replies: Iterable[R], *, limit: int = MAX_OFFERED) -> list[R]:
	"""The replies offered for what the agent typed: codes starting with it first (shortest, then
	alphabetical), then those whose code or title holds it (in the order given); at most ``limit``."""
	term = _term(prefix)
	starting: list[R] = []
	holding: list[R] = []
	for reply in replies:
		code = str(reply.get("code") or "").lower()
		if code.startswith(term):
			starting.append(reply)
		elif term in code or term.casefold() in str(reply.get("title") or "").casefold():
			holding.append(reply)
	starting.sort(key=lambda r: (len(str(r.get("code") or "")), str(r.get("code") or "").lower()))
	return [*starting, *holding][:limit]
