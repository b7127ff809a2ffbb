"""A number's sending policy and the one question the outbox asks it: when may this message go?

Times are unix seconds (floats); quiet hours are wall-clock times in the site's time zone, so they follow
daylight saving time. Windows are rolling: "per hour" is any 60 minutes, "per day" any 24 hours, so a burst
at midnight cannot double a day's cap. docs/messaging.md, "Sending policy", explains each value.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo

from .errors import CapsOutOfOrder, InvalidCap, InvalidGap, InvalidQuietHours, InvalidWarmUp

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
# What a wait is for, as stable words: the Frappe side turns them into the user's language.
PER_MINUTE, PER_HOUR, PER_DAY = "per_minute", "per_hour", "per_day"
NEW_PER_DAY, QUIET_HOURS, GAP, CAMPAIGN_PACE = "new_per_day", "quiet_hours", "gap", "campaign_pace"
REASONS = (PER_MINUTE, PER_HOUR, PER_DAY, NEW_PER_DAY, QUIET_HOURS, GAP, CAMPAIGN_PACE)

# Upper bounds a form may set: beyond them a Baileys number is sending like a bot whatever else it does.
MAX_PER_MINUTE, MAX_PER_HOUR, MAX_PER_DAY = 60, 1200, 10000
MAX_GAP_S, MAX_WARMUP_DAYS = 300.0, 60
# Warm-up: a number linked today may use this share of its caps, rising linearly to all of them.
WARMUP_START = 0.1
# Campaigns pace themselves at all but this many of the per-minute slots, so an agent's reply always finds one.
REPLY_RESERVE_PER_MINUTE = 1
# Each campaign gap is the pace times a random factor in this range (its mean is 1: the pace holds on average).
CAMPAIGN_JITTER = (0.75, 1.25)
# The pace sits this much below the per-minute cap's own rate: random gaps then rarely meet the hard cap, so
# the campaign keeps the pace it promises (expected_campaign_s) instead of being clipped into a slower one.
PACE_HEADROOM = 1.05
# Typing shown before a send: a fast typist's speed, within bounds (a long text is pasted, not typed).
TYPING_BASE_S, TYPING_PER_CHAR_S, TYPING_MIN_S, TYPING_MAX_S = 0.6, 0.03, 1.0, 5.0
# A message answers the customer when they wrote within this long: quiet hours do not hold it back.
ANSWERING_S = HOUR
# A campaign message sent this little after its slot counts from the slot: the pace holds over a long
# campaign instead of drifting by each send's own latency.
LATE_TOLERANCE_S = 3.0


@dataclass(frozen=True)
class SendingPolicy:
	per_minute: int = 6
	per_hour: int = 60
	per_day: int = 300
	new_per_day: int = 30
	warmup_days: int = 14
	quiet_from: time | None = time(21, 0)
	quiet_to: time | None = time(8, 0)
	typing: bool = True
	gap_min_s: float = 3.0
	gap_max_s: float = 12.0

	def checked(self) -> SendingPolicy:
		"""The policy itself, or the first thing wrong with it as a typed error naming the field."""
		for name, top in (
			("per_minute", MAX_PER_MINUTE),
			("per_hour", MAX_PER_HOUR),
			("per_day", MAX_PER_DAY),
			("new_per_day", MAX_PER_DAY),
		):
			value = getattr(self, name)
			if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
				raise InvalidCap(f"{name} must be a whole number from 1 to {top}", field=name, top=top)
		if self.per_hour < self.per_minute:
			raise CapsOutOfOrder("per_hour must be at least per_minute", field="per_hour")
		if self.per_day < self.per_hour:
			raise CapsOutOfOrder("per_day must be at least per_hour", field="per_day")
		if self.new_per_day > self.per_day:
			raise CapsOutOfOrder("new_per_day must be at most per_day", field="new_per_day")
		if (
			isinstance(self.warmup_days, bool)
			or not isinstance(self.warmup_days, int)
			or not 0 <= self.warmup_days <= MAX_WARMUP_DAYS
		):
			raise InvalidWarmUp(f"warmup_days must be 0 to {MAX_WARMUP_DAYS}", field="warmup_days")
		if (self.quiet_from is None) != (self.quiet_to is None):
			raise InvalidQuietHours("set both ends of the quiet hours, or neither", field="quiet_to")
		if self.quiet_from is not None and _minutes(self.quiet_from) == _minutes(self.quiet_to):
			raise InvalidQuietHours(
				"quiet hours that start and end together cover the whole day", field="quiet_to"
			)
		for name in ("gap_min_s", "gap_max_s"):
			value = getattr(self, name)
			if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_GAP_S:
				raise InvalidGap(f"{name} must be 0 to {MAX_GAP_S:g} seconds", field=name)
		if self.gap_max_s < self.gap_min_s:
			raise InvalidGap("gap_max_s must be at least gap_min_s", field="gap_max_s")
		return self


def _minutes(t: time) -> int:
	return t.hour * 60 + t.minute


@dataclass(frozen=True)
class Caps:
	"""The caps in force today: the policy's, scaled down while the number warms up."""

	per_minute: int
	per_hour: int
	per_day: int
	new_per_day: int
	share: float = 1.0


def warmup_share(age_days: float | None, warmup_days: int) -> float:
	"""The share of its caps a number linked ``age_days`` ago may use: WARMUP_START on its first day, rising
	day by day to 1 after ``warmup_days``. An unknown age (no history) counts as warmed up."""
	if age_days is None or warmup_days <= 0 or age_days >= warmup_days:
		return 1.0
	day = int(max(age_days, 0.0))
	return WARMUP_START + (1.0 - WARMUP_START) * day / warmup_days


def caps_for(policy: SendingPolicy, age_days: float | None) -> Caps:
	share = warmup_share(age_days, policy.warmup_days)

	def scaled(cap: int) -> int:
		return max(1, int(cap * share))

	return Caps(
		scaled(policy.per_minute),
		scaled(policy.per_hour),
		scaled(policy.per_day),
		scaled(policy.new_per_day),
		share,
	)


def campaign_pace_s(policy: SendingPolicy, caps: Caps) -> float:
	"""The mean time between two campaign messages: within every cap (per minute less the reply reserve) and
	no faster than a person's mean gap between chats. Per day is a ceiling, not a pace: a campaign is not
	spread thin over the whole day."""
	per_minute = caps.per_minute - REPLY_RESERVE_PER_MINUTE if caps.per_minute > 1 else 1
	return max(
		MINUTE / per_minute * PACE_HEADROOM,
		HOUR / caps.per_hour * PACE_HEADROOM,
		(policy.gap_min_s + policy.gap_max_s) / 2,
	)


def expected_campaign_s(policy: SendingPolicy, caps: Caps, recipients: int) -> float:
	"""How long a campaign alone takes under the policy (caps per day and quiet hours aside)."""
	return max(recipients - 1, 0) * campaign_pace_s(policy, caps)


def campaign_gap_s(policy: SendingPolicy, caps: Caps, rng: random.Random | None = None) -> float:
	low, high = CAMPAIGN_JITTER
	return campaign_pace_s(policy, caps) * (rng or random).uniform(low, high)


def chat_gap_s(policy: SendingPolicy, rng: random.Random | None = None) -> float:
	"""A person's pause before writing to another chat."""
	return (rng or random).uniform(policy.gap_min_s, policy.gap_max_s)


def typing_s(text: str | None, rng: random.Random | None = None) -> float:
	"""How long "typing…" shows before a text goes: longer texts take longer, within bounds, never exactly
	the same twice."""
	base = TYPING_BASE_S + TYPING_PER_CHAR_S * len(text or "")
	return min(TYPING_MAX_S, max(TYPING_MIN_S, base * (rng or random).uniform(0.85, 1.15)))


@dataclass(frozen=True)
class Ledger:
	"""What the number sent lately, as the outbox read it: every send and every first contact in the last
	day (ascending), and the pacing marks of the last send."""

	sent: Sequence[float] = ()
	first_contacts: Sequence[float] = ()
	others: Sequence[float] = ()  # the sends that were not a campaign's (replies, agents, automations)
	last_chat: str | None = None
	chat_gap_until: float = 0.0  # no send to another chat before this
	campaign_until: float = 0.0  # no campaign message before this


@dataclass(frozen=True)
class Message:
	"""What the policy needs to know of the message that wants to go next."""

	to: str
	first_contact: bool = False  # the number never wrote to this one, and was never written to
	campaign: bool = False
	answering: bool = False  # the customer wrote within ANSWERING_S


@dataclass(frozen=True)
class Wait:
	at: float  # when the message may go (``now`` when it may go at once)
	reason: str | None = None  # one of REASONS, or None
	details: dict = field(default_factory=dict)

	def now(self, now: float) -> bool:
		return self.at <= now


def _window_free_at(sent: Sequence[float], now: float, window: float, cap: int) -> float:
	"""When a send fits in the rolling window again: at once while fewer than ``cap`` sends are in it, else
	when the cap-th latest one leaves it."""
	start = bisect_right(sent, now - window)
	inside = len(sent) - start
	if inside < cap:
		return now
	return sent[len(sent) - cap] + window


def next_send(
	policy: SendingPolicy, caps: Caps, ledger: Ledger, message: Message, now: float, tz: tzinfo
) -> Wait:
	"""The earliest time ``message`` may be handed to the gateway, and the reason for the longest wait."""
	per_minute = caps.per_minute
	if message.campaign and per_minute > REPLY_RESERVE_PER_MINUTE:
		# a slot kept free for a reply, and one more for each reply of the last minute: a team answering
		# customers during a campaign is not made to wait by it
		start = bisect_right(ledger.others, now - MINUTE)
		replies = len(ledger.others) - start
		per_minute = max(1, per_minute - REPLY_RESERVE_PER_MINUTE - replies)
	candidates = [
		(_window_free_at(ledger.sent, now, MINUTE, per_minute), PER_MINUTE),
		(_window_free_at(ledger.sent, now, HOUR, caps.per_hour), PER_HOUR),
		(_window_free_at(ledger.sent, now, DAY, caps.per_day), PER_DAY),
	]
	if message.first_contact:
		candidates.append((_window_free_at(ledger.first_contacts, now, DAY, caps.new_per_day), NEW_PER_DAY))
	if message.campaign:
		# Every campaign message goes to another chat: its pace already holds a person's gap.
		candidates.append((ledger.campaign_until, CAMPAIGN_PACE))
	elif ledger.last_chat is not None and ledger.last_chat != message.to:
		candidates.append((ledger.chat_gap_until, GAP))
	if not message.answering:
		quiet_end = quiet_until(policy, now, tz)
		if quiet_end is not None:
			candidates.append((quiet_end, QUIET_HOURS))
	at, reason = max(candidates, key=lambda c: c[0])
	if at <= now:
		return Wait(now)
	return Wait(at, reason)


def quiet_until(policy: SendingPolicy, now: float, tz: tzinfo) -> float | None:
	"""The end of the quiet hours ``now`` is in (unix s), or None outside them. Works on the wall clock of
	``tz``: "21:00 to 08:00" is those local times whatever daylight saving time does that night."""
	if policy.quiet_from is None or policy.quiet_to is None:
		return None
	local = datetime.fromtimestamp(now, tz)
	minute = local.hour * 60 + local.minute
	start, end = _minutes(policy.quiet_from), _minutes(policy.quiet_to)
	if start < end:
		inside, ends_tomorrow = start <= minute < end, False
	else:  # across midnight
		inside, ends_tomorrow = minute >= start or minute < end, minute >= start
	if not inside:
		return None
	day = local.date() + timedelta(days=1 if ends_tomorrow else 0)
	return _local_timestamp(datetime.combine(day, policy.quiet_to), tz)


def _local_timestamp(naive: datetime, tz: tzinfo) -> float:
	"""A wall-clock time in ``tz`` as unix s; a time skipped by a spring-forward (02:30 that night) is read as
	the moment the clocks jumped (03:00), never an hour early or late."""
	first = naive.replace(tzinfo=tz, fold=0).timestamp()
	if datetime.fromtimestamp(first, tz).replace(tzinfo=None) == naive:
		return first
	later = naive.replace(tzinfo=tz, fold=1).timestamp()
	lo, hi = min(first, later), max(first, later)
	while hi - lo > 1:  # the first second whose wall clock is past the skipped time
		mid = (lo + hi) / 2
		if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) > naive:
			hi = mid
		else:
			lo = mid
	return float(round(hi))


def after_send(
	policy: SendingPolicy,
	caps: Caps,
	ledger: Ledger,
	message: Message,
	at: float,
	rng: random.Random | None = None,
	slot: float | None = None,
) -> Ledger:
	"""The ledger once ``message`` went at ``at`` (for its ``slot``): its send counted, and the next gaps
	drawn. The windows count the real time; a campaign's next gap counts from the slot when the send was
	only a little late."""
	sent = [*ledger.sent, at]
	firsts = [*ledger.first_contacts, at] if message.first_contact else list(ledger.first_contacts)
	others = list(ledger.others) if message.campaign else [*ledger.others, at]
	campaign_until = ledger.campaign_until
	if message.campaign:
		late = at - slot if slot is not None else None
		base = slot if late is not None and 0 <= late < LATE_TOLERANCE_S else at
		campaign_until = base + campaign_gap_s(policy, caps, rng)
	return Ledger(
		sent=[t for t in sent if t > at - DAY],
		first_contacts=[t for t in firsts if t > at - DAY],
		others=[t for t in others if t > at - DAY],
		last_chat=message.to,
		chat_gap_until=at + chat_gap_s(policy, rng),
		campaign_until=campaign_until,
	)
