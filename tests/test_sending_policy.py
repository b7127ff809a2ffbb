"""The sending policy's maths, on a fake clock: caps in rolling windows, the warm-up curve, quiet hours
across midnight and daylight saving time, typing time, and a campaign's pace against its policy."""

import itertools
import random
from bisect import bisect_right
from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from whatsapp_crm.sending import errors, policy
from whatsapp_crm.sending.policy import Caps, Ledger, Message, SendingPolicy

MADRID = ZoneInfo("Europe/Madrid")
UTC = ZoneInfo("UTC")
T0 = datetime(2026, 6, 10, 12, 0, tzinfo=MADRID).timestamp()  # a Wednesday noon, outside quiet hours
OPEN = SendingPolicy(quiet_from=None, quiet_to=None)


def caps(p=OPEN):
	return policy.caps_for(p, None)


@pytest.mark.parametrize(
	("change", "error", "field"),
	[
		({"per_minute": 0}, errors.InvalidCap, "per_minute"),
		({"per_hour": -5}, errors.InvalidCap, "per_hour"),
		({"per_day": 1.5}, errors.InvalidCap, "per_day"),
		({"new_per_day": True}, errors.InvalidCap, "new_per_day"),
		({"per_minute": 61}, errors.InvalidCap, "per_minute"),
		({"per_minute": 30, "per_hour": 20}, errors.CapsOutOfOrder, "per_hour"),
		({"per_hour": 400, "per_day": 300}, errors.CapsOutOfOrder, "per_day"),
		({"new_per_day": 301}, errors.CapsOutOfOrder, "new_per_day"),
		({"quiet_from": time(9), "quiet_to": time(9)}, errors.InvalidQuietHours, "quiet_to"),
		({"quiet_from": time(22, 0), "quiet_to": None}, errors.InvalidQuietHours, "quiet_to"),
		({"gap_min_s": -1}, errors.InvalidGap, "gap_min_s"),
		({"gap_min_s": 10, "gap_max_s": 5}, errors.InvalidGap, "gap_max_s"),
		({"warmup_days": 61}, errors.InvalidWarmUp, "warmup_days"),
	],
)
def test_a_bad_policy_is_refused_naming_the_field(change, error, field):
	with pytest.raises(error) as e:
		replace(SendingPolicy(), **change).checked()
	assert e.value.field == field and e.value.code == error.code


def test_the_defaults_are_a_valid_policy():
	assert SendingPolicy().checked() == SendingPolicy()


def test_warm_up_starts_low_and_rises_day_by_day_to_the_full_caps():
	shares = [policy.warmup_share(d, 14) for d in range(16)]
	assert shares[0] == pytest.approx(policy.WARMUP_START)
	assert all(a < b for a, b in itertools.pairwise(shares[:15]))  # rising up to day 14
	assert shares[14] == shares[15] == 1.0
	assert policy.warmup_share(None, 14) == 1.0 and policy.warmup_share(3, 0) == 1.0
	day0 = policy.caps_for(SendingPolicy(), 0.2)
	assert (day0.per_minute, day0.per_hour, day0.per_day, day0.new_per_day) == (1, 6, 30, 3)


def test_the_per_minute_cap_holds_in_a_rolling_window():
	sent = [T0 - 50 + i for i in range(6)]  # six sends, 50 to 45 s ago
	wait = policy.next_send(OPEN, caps(), Ledger(sent=sent), Message("34600000001"), T0, MADRID)
	assert wait.reason == policy.PER_MINUTE and wait.at == pytest.approx(sent[0] + 60)
	free = policy.next_send(OPEN, caps(), Ledger(sent=sent[1:]), Message("34600000001"), T0, MADRID)
	assert free.now(T0) and free.reason is None


def test_per_hour_and_per_day_caps_and_new_conversations():
	hourly = [T0 - 3500 + i * 55 for i in range(60)]
	wait = policy.next_send(OPEN, caps(), Ledger(sent=hourly), Message("1"), T0, MADRID)
	assert wait.reason == policy.PER_HOUR and wait.at == pytest.approx(hourly[0] + 3600)
	daily = [T0 - 86000 + i * 280 for i in range(300)]
	wait = policy.next_send(OPEN, caps(), Ledger(sent=daily), Message("1"), T0, MADRID)
	assert wait.reason == policy.PER_DAY and wait.at == pytest.approx(daily[0] + 86400)
	firsts = [T0 - 80000 + i * 2000 for i in range(30)]
	new = policy.next_send(
		OPEN, caps(), Ledger(first_contacts=firsts), Message("1", first_contact=True), T0, MADRID
	)
	assert new.reason == policy.NEW_PER_DAY and new.at == pytest.approx(firsts[0] + 86400)
	# the same number, answering a customer: not a first contact, not held
	assert policy.next_send(OPEN, caps(), Ledger(first_contacts=firsts), Message("1"), T0, MADRID).now(T0)


def test_a_gap_between_chats_but_not_within_one():
	ledger = Ledger(sent=[T0 - 1], last_chat="111", chat_gap_until=T0 + 4)
	other = policy.next_send(OPEN, caps(), ledger, Message("222"), T0, MADRID)
	assert other.reason == policy.GAP and other.at == T0 + 4
	assert policy.next_send(OPEN, caps(), ledger, Message("111"), T0, MADRID).now(T0)


def test_campaigns_leave_a_reply_a_slot_in_every_minute():
	sent = [T0 - 50 + i for i in range(5)]  # five of six slots used
	assert policy.next_send(OPEN, caps(), Ledger(sent=sent), Message("9"), T0, MADRID).now(T0)
	held = policy.next_send(OPEN, caps(), Ledger(sent=sent), Message("9", campaign=True), T0, MADRID)
	assert held.reason == policy.PER_MINUTE


def at(day: str, hhmm: str) -> float:
	return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=MADRID).timestamp()


@pytest.mark.parametrize(
	("now", "until"),
	[
		(("2026-06-10", "22:30"), ("2026-06-11", "08:00")),  # before midnight: ends tomorrow
		(("2026-06-11", "03:00"), ("2026-06-11", "08:00")),  # after midnight: ends today
		(("2026-06-10", "21:00"), ("2026-06-11", "08:00")),  # starts on the minute
		# the night clocks go forward (29 March 2026, 02:00 -> 03:00): 08:00 local is 10 hours, not 11, later
		(("2026-03-28", "22:00"), ("2026-03-29", "08:00")),
		# the night clocks go back (25 October 2026, 03:00 -> 02:00): 08:00 local is 11 hours later
		(("2026-10-24", "21:00"), ("2026-10-25", "08:00")),
	],
)
def test_quiet_hours_across_midnight_and_daylight_saving(now, until):
	p = SendingPolicy()
	assert policy.quiet_until(p, at(*now), MADRID) == at(*until)
	wait = policy.next_send(p, caps(p), Ledger(), Message("1"), at(*now), MADRID)
	assert wait.reason == policy.QUIET_HOURS and wait.at == at(*until)


def test_quiet_hours_lengths_over_daylight_saving_nights():
	p = SendingPolicy()
	assert policy.quiet_until(p, at("2026-03-28", "22:00"), MADRID) - at("2026-03-28", "22:00") == 9 * 3600
	assert policy.quiet_until(p, at("2026-10-24", "22:00"), MADRID) - at("2026-10-24", "22:00") == 11 * 3600


def test_quiet_hours_ending_in_the_skipped_hour_end_when_the_clocks_jump():
	p = SendingPolicy(quiet_from=time(23, 0), quiet_to=time(2, 30))  # 02:30 does not exist on 29 March
	end = policy.quiet_until(p, at("2026-03-29", "00:30"), MADRID)
	assert datetime.fromtimestamp(end, MADRID).strftime("%H:%M") == "03:00"


def test_outside_quiet_hours_and_answering_customers_are_not_held():
	p = SendingPolicy()
	assert policy.quiet_until(p, at("2026-06-10", "08:00"), MADRID) is None
	assert policy.quiet_until(p, at("2026-06-10", "20:59"), MADRID) is None
	night = at("2026-06-10", "23:00")
	assert policy.next_send(p, caps(p), Ledger(), Message("1", answering=True), night, MADRID).now(night)
	day_only = SendingPolicy(quiet_from=time(13, 0), quiet_to=time(15, 0))
	assert policy.quiet_until(day_only, at("2026-06-10", "14:00"), MADRID) == at("2026-06-10", "15:00")
	assert policy.quiet_until(day_only, at("2026-06-10", "15:00"), MADRID) is None


def test_quiet_hours_follow_the_sites_time_zone():
	p = SendingPolicy()
	noon_utc = datetime(2026, 6, 10, 22, 0, tzinfo=UTC).timestamp()  # 00:00 in Madrid
	assert policy.quiet_until(p, noon_utc, MADRID) is not None
	assert policy.quiet_until(p, noon_utc, ZoneInfo("America/Mexico_City")) is None  # 16:00 there


def test_typing_time_grows_with_the_text_within_bounds():
	rng = random.Random(1)
	short, medium, long = (policy.typing_s(t, rng) for t in ("ok", "x" * 60, "x" * 2000))
	assert policy.TYPING_MIN_S <= short < medium < long == policy.TYPING_MAX_S
	assert (
		len({round(policy.typing_s("hello there, how are you today?", rng), 3) for _ in range(20)}) > 10
	)  # never the same


def run_campaign(p: SendingPolicy, recipients: int, seed: int = 7) -> list[float]:
	"""A campaign alone on a fake clock: each message goes at the first moment the policy allows."""
	rng, c, ledger, now, sends = random.Random(seed), policy.caps_for(p, None), Ledger(), T0, []
	for i in range(recipients):
		msg = Message(f"3460{i:07d}", first_contact=True, campaign=True)
		wait = policy.next_send(p, c, ledger, msg, now, MADRID)
		now = wait.at
		sends.append(now)
		ledger = policy.after_send(p, c, ledger, msg, now, rng)
	return sends


def test_a_campaign_of_1000_at_20_a_minute_never_exceeds_20_and_takes_the_policys_time():
	p = SendingPolicy(
		per_minute=20,
		per_hour=1200,
		per_day=10000,
		new_per_day=5000,
		quiet_from=None,
		quiet_to=None,
		gap_min_s=1,
		gap_max_s=2,
	).checked()
	sends = run_campaign(p, 1000)
	worst = max(bisect_right(sends, t + 60 - 1e-9) - i for i, t in enumerate(sends))
	assert worst <= 20
	expected = policy.expected_campaign_s(p, policy.caps_for(p, None), 1000)
	assert abs((sends[-1] - sends[0]) / expected - 1) < 0.05
	gaps = [b - a for a, b in itertools.pairwise(sends)]
	assert len({round(g, 2) for g in gaps}) > 100  # no two gaps alike: not a metronome


def test_a_young_number_sends_a_campaign_more_slowly():
	p = SendingPolicy(quiet_from=None, quiet_to=None)
	assert policy.campaign_pace_s(p, policy.caps_for(p, 0)) > 5 * policy.campaign_pace_s(
		p, policy.caps_for(p, None)
	)


def test_caps_of_one_have_no_reply_reserve():
	p = SendingPolicy(per_minute=1, per_hour=1, per_day=1, new_per_day=1, quiet_from=None, quiet_to=None)
	assert policy.campaign_pace_s(p, Caps(1, 1, 1, 1)) == 3600 * policy.PACE_HEADROOM
	assert policy.next_send(p, Caps(1, 1, 1, 1), Ledger(), Message("1", campaign=True), T0, MADRID).now(T0)


def test_a_campaign_whose_sends_are_each_a_little_late_keeps_its_pace():
	"""Each send 0.3 s after its slot (the gateway call, the database): the next gap counts from the slot."""
	p = SendingPolicy(
		per_minute=20, per_hour=1200, per_day=10000, new_per_day=5000, quiet_from=None, quiet_to=None,
		gap_min_s=1, gap_max_s=2,
	)  # fmt: skip
	rng, c, ledger, now, sends = random.Random(3), policy.caps_for(p, None), Ledger(), T0, []
	for i in range(300):
		msg = Message(f"3461{i:07d}", first_contact=True, campaign=True)
		slot = policy.next_send(p, c, ledger, msg, now, MADRID).at
		now = slot + 0.3
		sends.append(now)
		ledger = policy.after_send(p, c, ledger, msg, now, rng, slot=slot)
	expected = policy.expected_campaign_s(p, c, 300)
	assert abs((sends[-1] - sends[0]) / expected - 1) < 0.05
	late = Ledger()
	for i in range(300):  # without the slot, the lateness adds up
		msg = Message(f"3462{i:07d}", first_contact=True, campaign=True)
		now = policy.next_send(p, c, late, msg, now, MADRID).at + 0.3
		late = policy.after_send(p, c, late, msg, now, rng)
	assert (now - sends[-1]) > (sends[-1] - sends[0]) * 1.05


def test_each_reply_of_the_last_minute_keeps_one_more_slot_free_from_campaigns():
	p = SendingPolicy(
		per_minute=20, per_hour=1200, per_day=10000, new_per_day=5000, quiet_from=None, quiet_to=None
	)
	c = policy.caps_for(p, None)
	campaign = [T0 - 50 + i * 2 for i in range(17)]
	replies = [T0 - 10, T0 - 5]
	ledger = Ledger(sent=sorted(campaign + replies), others=replies)  # 19 sent: 17 campaign, 2 replies
	held = policy.next_send(p, c, ledger, Message("1", campaign=True), T0, MADRID)
	assert held.reason == policy.PER_MINUTE  # 20 - 1 reserved - 2 replies = 17 for the campaign
	assert policy.next_send(p, c, ledger, Message("2"), T0, MADRID).now(T0)  # a third reply still goes
