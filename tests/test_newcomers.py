"""Which messages from unknown numbers may become Leads, and the names they get (gateway.newcomers)."""

from __future__ import annotations

import pytest

from whatsapp_crm.chat import newcomers
from whatsapp_crm.gateway.messaging import InboundMessage
from whatsapp_crm.gateway.phones import plus_number


def message(
	chat: str | None = "34600111222", from_me: bool = False, push_name: str | None = "Ana"
) -> InboundMessage:
	return InboundMessage(
		id="m1",
		chat=chat,
		from_me=from_me,
		text="hola",
		media=None,
		reply_to=None,
		timestamp=None,
		push_name=push_name,
	)


@pytest.mark.parametrize(
	("msg", "own", "blocked", "reason"),
	[
		(message(), None, set(), None),
		(message(from_me=True), None, set(), newcomers.FROM_ME),
		(message(chat=None), None, set(), newcomers.NO_NUMBER),  # group, broadcast, status, bare privacy id
		(message(chat="34911222333"), "+34 911 222 333", set(), newcomers.OWN_NUMBER),
		(message(chat="12345"), None, set(), newcomers.INVALID_NUMBER),
		(message(chat="1234567890123456"), None, set(), newcomers.INVALID_NUMBER),
		(message(chat="0034600111222"), None, set(), newcomers.INVALID_NUMBER),
		(message(), None, {"+34600111222"}, newcomers.BLOCKED),
		(message(), None, {"34600111222"}, newcomers.BLOCKED),
		(message(), "34911222333", {"+34999"}, None),
	],
)
def test_who_may_become_a_lead(msg, own, blocked, reason):
	assert newcomers.skip_reason(msg, own, blocked) == reason


def test_groups_broadcasts_and_privacy_ids_reach_no_number():
	from whatsapp_crm.gateway.messaging import chat_of

	for jid in (
		"120363025246125244@g.us",
		"status@broadcast",
		"12345@broadcast",
		"1203@newsletter",
		"9876@lid",
	):
		assert chat_of(jid)[0] is None, jid
	assert chat_of("34600111222@s.whatsapp.net")[0] == "34600111222"


def test_international_form():
	assert plus_number("+34 600-111-222") == "+34600111222"
	assert plus_number("") is None and plus_number(None) is None


@pytest.mark.parametrize(
	("push_name", "expected"),
	[
		("Ana García", "Ana García"),
		(None, "+34600111222"),
		("   ", "+34600111222"),
		("<b>Ana</b> <script>alert(1)</script>", "Ana alert(1)"),
		("Ana\u202eevil\u202c", "Anaevil"),  # a right-to-left override is dropped
		("محمد علي", "محمد علي"),  # right-to-left letters stay
		("Ana 🌸💬", "Ana 🌸💬"),
		("line one\nline two\x00", "line one line two"),
		("<<<>>>", "+34600111222"),
	],
)
def test_lead_names_are_safe_text(push_name, expected):
	assert newcomers.lead_name(push_name, "+34600111222") == expected


def test_a_huge_name_is_truncated():
	name = newcomers.lead_name("A" * 5000, "+34600111222")
	assert len(name) == newcomers.NAME_MAX and name.endswith("…")
