"""Texts with placeholders (``{first_name}``), for campaigns and quick replies. A placeholder is a name in
braces; ``{{`` and ``}}`` write a brace. Values are put in as plain text: a name with markup stays text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .errors import TextTooLong, UnknownPlaceholder

# WhatsApp's own limit for one text message.
MAX_TEXT = 4096
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]{0,40})\}")


def placeholders_in(text: str) -> list[str]:
	"""The placeholder names a text uses, in order of first use."""
	seen: dict[str, None] = {}
	for m in _TOKEN.finditer(text or ""):
		if m.group(1):
			seen.setdefault(m.group(1), None)
	return list(seen)


def checked(text: str, allowed: Iterable[str], *, limit: int = MAX_TEXT) -> str:
	"""The text, when every placeholder is known and it fits WhatsApp's limit; else a typed error naming the
	first unknown placeholder."""
	if len(text or "") > limit:
		raise TextTooLong(f"the text is over {limit} characters", field="message", limit=limit)
	known = set(allowed)
	for name in placeholders_in(text):
		if name not in known:
			raise UnknownPlaceholder(f"unknown placeholder {{{name}}}", field="message", placeholder=name)
	return text


def render(text: str, values: Mapping[str, object]) -> str:
	"""The text with each placeholder's value; a missing or empty value is left empty, never an error."""

	def put(m: re.Match) -> str:
		token = m.group(0)
		if token == "{{":
			return "{"
		if token == "}}":
			return "}"
		value = values.get(m.group(1))
		return "" if value is None else str(value)

	return _TOKEN.sub(put, text or "")
