"""A number's business hours and the automatic replies they bring (an away message, a greeting).

Hours are the site's wall clock: naive datetimes, and "09:00 to 18:00" means those local times whatever
daylight saving time does, so no time zone is needed here. A day may hold several ranges (a lunch break);
a day without one is closed; a number without any range is always open. A range closes by "24:00": hours
across midnight are two rows, one on each day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .errors import HoursOutOfOrder, InvalidTime

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_MINUTES = 24 * 60
# The Select options of an opening or closing time; "24:00" only closes a day.
TIMES = (*(f"{m // 60:02d}:{m % 60:02d}" for m in range(0, DAY_MINUTES, 15)), "24:00")
AWAY, GREETING = "away", "greeting"

WEEK = timedelta(days=7)
# "HH:MM", with the ":00" seconds a Time field would add
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::00)?$")


@dataclass(frozen=True)
class Range:
	weekday: int  # 0 is Monday, as datetime.weekday()
	opens: int  # minutes after midnight
	closes: int  # minutes after midnight, up to DAY_MINUTES ("24:00")


def minutes_of(value: object, *, closing: bool = False, field: str = "opens", **context: object) -> int:
	"""The minutes after midnight of an "HH:MM" time; "24:00" is the end of the day, a closing time only."""
	found = _TIME.match(value.strip()) if isinstance(value, str) else None
	if found:
		hour, minute = int(found.group(1)), int(found.group(2))
		if minute < 60 and (hour < 24 or (closing and hour == 24 and minute == 0)):
			return hour * 60 + minute
	raise InvalidTime(f"{field} is not a time of day: {value!r}", field=field, value=value, **context)


def time_label(minutes: int) -> str:
	return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _weekday(value: object, row: int) -> int:
	if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 7:
		return value
	names = [d.lower() for d in WEEKDAYS]
	if isinstance(value, str) and value.strip().lower() in names:
		return names.index(value.strip().lower())
	raise InvalidTime(f"row {row}: unknown weekday {value!r}", field="weekday", row=row, weekday=value)


def checked_ranges(rows: Iterable[Mapping]) -> list[Range]:
	"""The ranges of the Business Hours rows (weekday name, "HH:MM" opens and closes), by day and time; a
	bad row is a typed error naming it (``row`` counts from 1, as the form does)."""
	found = []
	for index, row in enumerate(rows):
		number = index + 1
		weekday = _weekday(row.get("weekday"), number)
		where = {"row": number, "weekday": WEEKDAYS[weekday]}
		opens = minutes_of(row.get("opens"), field="opens", **where)
		closes = minutes_of(row.get("closes"), closing=True, field="closes", **where)
		if closes <= opens:
			raise HoursOutOfOrder(
				f"row {number}: {WEEKDAYS[weekday]} closes at {time_label(closes)}, not after it opens",
				field="closes",
				opens=time_label(opens),
				closes=time_label(closes),
				**where,
			)
		found.append(Range(weekday, opens, closes))
	return sorted(found, key=lambda r: (r.weekday, r.opens, r.closes))


def _by_day(ranges: Iterable[Range]) -> list[list[tuple[int, int]]]:
	"""Each weekday's open spans in minutes, sorted, overlapping or touching ones merged (09-13 and 12-18
	are open 09-18 without an "opening" at 12)."""
	days: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
	for r in sorted(ranges, key=lambda r: (r.weekday, r.opens)):
		spans = days[r.weekday]
		if spans and r.opens <= spans[-1][1]:
			spans[-1] = (spans[-1][0], max(spans[-1][1], r.closes))
		else:
			spans.append((r.opens, r.closes))
	return days


def _midnight(at: datetime, day: date) -> datetime:
	return datetime.combine(day, time(), tzinfo=at.tzinfo)


def _seconds_of_day(at: datetime) -> float:
	return at.hour * 3600 + at.minute * 60 + at.second + at.microsecond / 1e6


def is_open(at: datetime, ranges: Iterable[Range]) -> bool:
	"""Whether ``at`` (wall clock) falls in the hours; no hours at all is always open."""
	ranges = tuple(ranges)
	if not ranges:
		return True
	seconds = _seconds_of_day(at)
	return any(o * 60 <= seconds < c * 60 for o, c in _by_day(ranges)[at.weekday()])


def business_seconds(start: datetime, end: datetime, ranges: Iterable[Range]) -> float:
	"""The seconds of [start, end] inside the hours (all of them without hours; 0 when end is not after
	start). Whole weeks count at once, the rest day by day: a span of years costs as little as one of a
	week."""
	if end <= start:
		return 0.0
	ranges = tuple(ranges)
	if not ranges:
		return (end - start).total_seconds()
	days = _by_day(ranges)
	# any seven days of wall clock hold each weekly minute exactly once
	weeks = (end - start) // WEEK
	total = weeks * 60.0 * sum(c - o for spans in days for o, c in spans)
	start += weeks * WEEK
	day = start.date()
	while day <= end.date():
		midnight = _midnight(start, day)
		for o, c in days[day.weekday()]:
			a = max(start, midnight + timedelta(minutes=o))
			b = min(end, midnight + timedelta(minutes=c))
			if b > a:
				total += (b - a).total_seconds()
		day += timedelta(days=1)
	return total


def next_open(at: datetime, ranges: Iterable[Range]) -> datetime:
	"""``at`` itself when open (or without hours), else the next opening."""
	ranges = tuple(ranges)
	if not ranges or is_open(at, ranges):
		return at
	days = _by_day(ranges)
	for ahead in range(8):  # a week later at the latest: some day has hours
		day = at.date() + timedelta(days=ahead)
		for o, _c in days[day.weekday()]:
			opening = _midnight(at, day) + timedelta(minutes=o)
			if opening > at:
				return opening
	return at  # unreachable: ranges is not empty


def auto_reply(
	at: datetime,
	ranges: Iterable[Range],
	*,
	is_new: bool,
	away_sent_on: date | None,
	has_greeting: bool,
	has_away: bool,
) -> str | None:
	"""Which automatic message a customer's message at ``at`` gets: AWAY outside the hours (once per
	conversation per day), else GREETING for a new conversation, else None. Outside the hours a new
	customer gets only the away message: one automatic message, never two in a row."""
	if has_away and not is_open(at, ranges):
		return AWAY if away_sent_on != at.date() else None
	if is_new and has_greeting:
		return GREETING
	return None
