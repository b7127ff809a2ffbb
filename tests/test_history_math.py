"""The Connected share of a session's history (whatsapp_crm/gateway/history_math.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from whatsapp_crm.sessions.history_math import connected_share

END = datetime(2026, 11, 28, 12, 0, 0)
START = END - timedelta(days=7)
DAY = timedelta(days=1)


def at(days_before_end: float) -> datetime:
	return END - timedelta(days=days_before_end)


def test_no_events_is_never_connected():
	assert connected_share([], START, END) == 0.0


def test_time_before_the_first_event_counts_as_not_connected():
	# history starts 2 days before the end, Connected since then: 2 of 7 days
	assert connected_share([(at(2), "Connected")], START, END) == pytest.approx(2 / 7)


def test_status_at_the_window_start_comes_from_the_last_event_before_it():
	events = [(at(30), "Connecting"), (at(29), "Connected"), (at(3), "Disconnected")]
	assert connected_share(events, START, END) == pytest.approx(4 / 7)


def test_only_events_before_the_window_decide_it():
	assert connected_share([(at(20), "Connected")], START, END) == 1.0
	assert connected_share([(at(20), "Connected"), (at(10), "Failed")], START, END) == 0.0


def test_the_status_before_can_be_given_separately():
	assert connected_share([], START, END, before="Connected") == 1.0
	assert connected_share([(at(1), "Disconnected")], START, END, before="Connected") == pytest.approx(6 / 7)
	# an event before the window in the list is later than the caller's status: it wins
	assert connected_share([(at(8), "Failed")], START, END, before="Connected") == 0.0


def test_connected_the_whole_time():
	assert connected_share([(START, "Connected")], START, END) == 1.0
	assert connected_share([(at(7.5), "Connected")], START, END) == 1.0


def test_flapping():
	events = []
	# Connected for 1 hour, then Disconnected for 1 hour, 84 times over the 7 days
	for i in range(84):
		events.append((START + timedelta(hours=2 * i), "Connected"))
		events.append((START + timedelta(hours=2 * i + 1), "Disconnected"))
	assert connected_share(events, START, END) == pytest.approx(0.5)


def test_repeated_connected_events_do_not_double_count():
	events = [(at(4), "Connected"), (at(3), "Connected"), (at(2), "QR Ready")]
	assert connected_share(events, START, END) == pytest.approx(2 / 7)


def test_order_of_the_events_does_not_matter():
	events = [(at(1), "Disconnected"), (at(3), "Connected"), (at(9), "Failed")]
	assert connected_share(events, START, END) == pytest.approx(2 / 7)


def test_future_dated_events_are_ignored():
	events = [(at(1), "Connected"), (END + DAY, "Disconnected"), (END + 2 * DAY, "Connected")]
	assert connected_share(events, START, END) == pytest.approx(1 / 7)
	# a future "Connected" does not make the window connected either
	assert connected_share([(END + timedelta(seconds=1), "Connected")], START, END) == 0.0


def test_an_empty_or_inverted_window_is_zero():
	assert connected_share([(at(20), "Connected")], END, END) == 0.0
	assert connected_share([(at(20), "Connected")], END, START) == 0.0


def test_share_stays_within_bounds():
	share = connected_share([(at(100), "Connected"), (at(0.5), "Connected")], START, END)
	assert 0.0 <= share <= 1.0
	assert share == 1.0
