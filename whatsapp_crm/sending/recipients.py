"""A campaign's recipients: numbers read once, each number once, and every one left out with its reason."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from whatsapp_crm.gateway.errors import InvalidPhone
from whatsapp_crm.gateway.phones import digits_in_region

# Why a recipient is not sent to: stable words, shown translated on the campaign.
OPTED_OUT, BLOCKED, NOT_ON_WHATSAPP = "opted_out", "blocked", "not_on_whatsapp"
INVALID_NUMBER, DUPLICATE, NO_NUMBER = "invalid_number", "duplicate", "no_number"
SKIP_REASONS = (OPTED_OUT, BLOCKED, NOT_ON_WHATSAPP, INVALID_NUMBER, DUPLICATE, NO_NUMBER)
MAX_PASTED = 100_000  # entries in one pasted list
_SPLIT = re.compile(r"[\n\r,;\t]+")


@dataclass(frozen=True)
class Entry:
	"""One recipient as given: the number as written, and the record it came from (if any)."""

	number: str | None
	reference_doctype: str | None = None
	reference_name: str | None = None
	label: str | None = None


@dataclass(frozen=True)
class Resolved:
	entry: Entry
	digits: str | None  # international digits; None when skipped
	skip: str | None = None  # one of SKIP_REASONS


def pasted(text: str) -> list[Entry]:
	"""A pasted list: one number a line (or separated by commas, semicolons or tabs)."""
	parts = [p.strip() for p in _SPLIT.split(text or "")]
	return [Entry(p) for p in parts if p][:MAX_PASTED]


def resolve(
	entries: Iterable[Entry],
	region: str | None,
	*,
	opted_out: frozenset[str] = frozenset(),
	blocked: frozenset[str] = frozenset(),
) -> list[Resolved]:
	"""Each entry read in ``region`` when it has no country code; the first of each number kept, the others
	skipped as duplicates; numbers that opted out or are blocked skipped with that reason."""
	seen: set[str] = set()
	out = []
	for entry in entries:
		if not (entry.number or "").strip():
			out.append(Resolved(entry, None, NO_NUMBER))
			continue
		digits = read_number(entry.number, region)
		if digits is None:
			out.append(Resolved(entry, None, INVALID_NUMBER))
		elif digits in seen:
			out.append(Resolved(entry, digits, DUPLICATE))
		else:
			seen.add(digits)
			skip = OPTED_OUT if digits in opted_out else BLOCKED if digits in blocked else None
			out.append(Resolved(entry, digits, skip))
	return out


def read_number(number: str | None, region: str | None) -> str | None:
	"""International digits, or None for text that is not a phone number ("call me", "12")."""
	text = (number or "").strip()
	if not text or re.search(r"[^\d\s+().\-/]", text):
		return None
	try:
		return digits_in_region(text, region)
	except InvalidPhone:
		return None
