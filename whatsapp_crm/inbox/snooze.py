"""Until when a snoozed conversation sleeps: a preset from the snooze menu or a picked time, on the site's
wall clock (naive datetimes). "tomorrow" and "next week" wake it when the team is back, at the number's
first opening; "reply" sleeps until the customer writes (no time at all)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from . import hours
from .errors import InvalidTime, SnoozeInPast, SnoozeTooFar, UnknownSnooze

PRESETS = ("1h", "3h", "tomorrow", "next_week", "reply")
# The start of an ordinary working day, for a number without business hours.
DEFAULT_OPENING = time(9, 0)
# Further than this is a forgotten conversation, not a snoozed one.
MAX_DAYS = 366
# "YYYY-MM-DD HH:MM[:SS[.ffffff]]", with a "T" as a datetime-local input writes it
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")


def _opening_from(day: date, now: datetime, ranges: tuple[hours.Range, ...]) -> datetime:
	"""The first opening on ``day`` or, when that day is closed, the next one (Friday's "tomorrow" is
	Monday for a team that does not work weekends)."""
	midnight = datetime.combine(day, time(), tzinfo=now.tzinfo)
	if not ranges:
		return datetime.combine(day, DEFAULT_OPENING, tzinfo=now.tzinfo)
	return hours.next_open(midnight, ranges)


def until(preset: str, now: datetime, ranges: Iterable[hours.Range] = ()) -> datetime | None:
	"""When a snooze preset wakes the conversation; None for "reply" (when the customer writes)."""
	key = preset.strip().lower() if isinstance(preset, str) else ""
	ranges = tuple(ranges)
	if key == "1h":
		return now + timedelta(hours=1)
	if key == "3h":
		return now + timedelta(hours=3)
	if key == "tomorrow":
		return _opening_from(now.date() + timedelta(days=1), now, ranges)
	if key == "next_week":  # the coming Monday; on a Monday, the one after
		return _opening_from(now.date() + timedelta(days=7 - now.weekday()), now, ranges)
	if key == "reply":
		return None
	raise UnknownSnooze(f"unknown snooze choice {preset!r}", field="snoozed_until", preset=preset)


def checked_until(value: datetime, now: datetime) -> datetime:
	"""``value`` when it is after ``now`` and within MAX_DAYS of it."""
	try:
		past = value <= now
		far = value > now + timedelta(days=MAX_DAYS)
	except TypeError:  # one has a time zone, the other not: not the wall clock this works on
		raise InvalidTime(f"{value!r} is not a wall-clock time", field="snoozed_until", value=value)
	if past:
		raise SnoozeInPast(f"{value} is not after {now}", field="snoozed_until", value=value)
	if far:
		raise SnoozeTooFar(
			f"{value} is more than {MAX_DAYS} days away",
			field="snoozed_until",
			value=value,
			limit_days=MAX_DAYS,
		)
	return value


def parse(value: str | datetime, now: datetime, ranges: Iterable[hours.Range] = ()) -> datetime | None:
	"""The snooze end of a preset or a "YYYY-MM-DD HH:MM[:SS]" time, checked; None for "reply"."""
	if isinstance(value, datetime):
		return checked_until(value, now)
	text = value.strip() if isinstance(value, str) else ""
	if text.lower() in PRESETS:
		at = until(text, now, ranges)
		return None if at is None else checked_until(at, now)
	found = _DATETIME.match(text)
	if not found:
		raise InvalidTime(
			f"{value!r} is not a snooze choice or a date and time", field="snoozed_until", value=value
		)
	year, month, day, hour, minute, second, fraction = found.groups()
	try:
		at = datetime(
			int(year),
			int(month),
			int(day),
			int(hour),
			int(minute),
			int(second or 0),
			int((fraction or "0").ljust(6, "0")),
			tzinfo=now.tzinfo,
		)
	except ValueError:  # 2025-02-30, 25:00
		raise InvalidTime(f"{value!r} is not a date and time", field="snoozed_until", value=value)
	return checked_until(at, now)
