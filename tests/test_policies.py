"""The one home of retry, back-off and breaker values: frozen, and one retry mechanism (tenacity)."""

from __future__ import annotations

import dataclasses

import pytest

from whatsapp_crm.gateway import policies


class Blip(Exception):
	pass


def test_retrying_waits_as_told_then_raises_the_last_error():
	waits, tries = [], []
	with pytest.raises(Blip):
		for attempt in policies.retrying((1.0, 3.0), lambda e: isinstance(e, Blip), sleep=waits.append):
			with attempt:
				tries.append(1)
				raise Blip()
	assert (len(tries), waits) == (3, [1.0, 3.0])


def test_retrying_never_retries_what_it_is_not_told_to():
	waits, tries = [], []
	with pytest.raises(ValueError):
		for attempt in policies.retrying((1.0, 3.0), lambda e: isinstance(e, Blip), sleep=waits.append):
			with attempt:
				tries.append(1)
				raise ValueError()
	assert (len(tries), waits) == (1, [])


def test_the_values_are_frozen_and_the_replay_back_off_is_bounded():
	with pytest.raises(dataclasses.FrozenInstanceError):
		policies.WEBHOOKS.inline_limit = 5  # type: ignore[misc]
	waits = [policies.WEBHOOKS.replay_wait_s(n) for n in range(1, policies.WEBHOOKS.max_replays + 1)]
	assert waits == sorted(waits) and waits[0] == 10 and max(waits) == policies.WEBHOOKS.replay_backoff_max_s
	# a send is tried three times in all, and a claim outlives them
	assert len(policies.SEND_RETRY.waits_s) + 1 == 3
	assert policies.OUTBOX.claim_stale_s > sum(policies.SEND_RETRY.waits_s)
