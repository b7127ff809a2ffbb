"""Messages, one contract for three gateway types: each adapter sends through its own simulator and reads
that simulator's message and receipt webhooks, over real loopback HTTP. The simulators were written apart
from the adapters, from the real servers' sources (Evolution API 2.3.6, WAHA 2024.10 NOWEB) and the Baileys
REST contract's messaging extension."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from whatsapp_crm.gateway.adapters import make_client, parse_webhook
from whatsapp_crm.gateway.client import Timeouts, WebhookTarget
from whatsapp_crm.gateway.errors import (
	GatewayTimeout,
	MediaNotSupported,
	NotConnected,
	NotOnWhatsApp,
	SessionNotFound,
)
from whatsapp_crm.gateway.messaging import (
	DELIVERED,
	READ,
	SENT,
	checked_media,
	checked_outgoing,
	checked_reaction,
	message_id,
)
from whatsapp_crm.gateway.webhook import verify
from whatsapp_crm.simulator import NOT_ON_WHATSAPP, SessionOptions, make_simulator

from .conftest import SENTINEL_KEY
from .test_contract import _Receiver

TYPES = ("baileys", "evolution", "waha")
SECRET = "messages-contract-secret"
CUSTOMER = "34600999888"
SESSION = "sales-msg"
PNG = base64.b64decode(
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class Clock:
	def __init__(self) -> None:
		self.t = 1000.0

	def __call__(self) -> float:
		return self.t


@pytest.fixture(params=TYPES)
def gateway_type(request) -> str:
	return request.param


@pytest.fixture
def receiver():
	r = _Receiver()
	yield r
	r.close()


@pytest.fixture
def linked(gateway_type, receiver):
	"""(simulator, client, fake clock): a session linked to a phone, its webhooks going to the receiver."""
	clock = Clock()
	extra = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	if gateway_type == "baileys":
		extra |= {"webhook_url": receiver.url, "webhook_secret": SECRET, "webhook_mode": "hmac"}
	with make_simulator(
		gateway_type,
		api_key=SENTINEL_KEY,
		scenario=SessionOptions(qr_after_s=0, rotate_s=0),
		clock=clock,
		ack_delay_s=1.0,
		**extra,
	) as sim:
		target = WebhookTarget(url=receiver.url, secret=SECRET)
		with make_client(gateway_type, sim.url, SENTINEL_KEY, Timeouts(1, 3), webhook=target) as client:
			client.create_session(SESSION)
			sim.scan(SESSION, "34911222333")
			yield sim, client, clock


def events(receiver, want, timeout: float = 8.0) -> list:
	"""The parsed message/ack events (after verify) once ``want(events)`` holds."""
	deadline = time.monotonic() + timeout
	while True:
		parsed = []
		for headers, body, path in list(receiver.bodies):
			query = parse_qs(urlsplit(path).query).get("secret", [None])[0]
			verify(headers, body, SECRET, now=time.time(), query_secret=query)
			event = parse_webhook(body)
			if event.kind in ("message", "ack"):
				parsed.append(event)
		if want(parsed) or time.monotonic() > deadline:
			return parsed
		time.sleep(0.05)


def test_send_text_names_the_message_the_gateway_sent(linked):
	sim, client, _ = linked
	result = client.send_message(SESSION, checked_outgoing(CUSTOMER, "Hola <b>Ana</b>"))
	sent = sim.sent(SESSION)[-1]
	assert (sent["to"], sent["text"]) == (CUSTOMER, "Hola <b>Ana</b>")
	assert result.message_id == message_id(sent["id"])


def test_receipts_follow_a_sent_message(linked, receiver):
	_sim, client, clock = linked
	result = client.send_message(SESSION, checked_outgoing(CUSTOMER, "ticks"))
	for _ in range(3):
		clock.t += 1.0
		time.sleep(0.2)

	def statuses(found):
		return [e.ack.status for e in found if e.kind == "ack" and e.ack.message_id == result.message_id]

	got = statuses(events(receiver, lambda found: READ in statuses(found)))
	assert got[:1] == [SENT] and DELIVERED in got and got[-1] == READ


def test_a_reply_quotes_the_message(linked):
	sim, client, _ = linked
	first = client.send_message(SESSION, checked_outgoing(CUSTOMER, "first"))
	client.send_message(
		SESSION, checked_outgoing(CUSTOMER, "second", reply_to=first.message_id, reply_from_me=True)
	)
	assert message_id(sim.sent(SESSION)[-1]["reply_to"]) == first.message_id


def test_inbound_text_repeats_and_from_me(linked, receiver):
	sim, _, _ = linked
	theirs = sim.inbound(SESSION, CUSTOMER, "hola", repeat=3, push_name="Ana")
	mine = sim.inbound(SESSION, CUSTOMER, "typed on the phone", from_me=True)
	found = events(receiver, lambda f: sum(e.kind == "message" for e in f) >= 4)
	messages = [e.message for e in found if e.kind == "message"]
	repeats = [m for m in messages if m.id == message_id(theirs)]
	assert len(repeats) == 3  # the gateway repeats; storing once is the app's job
	assert (repeats[0].chat, repeats[0].text, repeats[0].from_me, repeats[0].push_name) == (
		CUSTOMER,
		"hola",
		False,
		"Ana",
	)
	own = next(m for m in messages if m.id == message_id(mine))
	assert (own.chat, own.from_me, own.text, own.push_name) == (CUSTOMER, True, "typed on the phone", None)


def test_privacy_ids_are_never_taken_for_numbers(linked, receiver):
	sim, _, _ = linked
	known = sim.inbound(SESSION, CUSTOMER, "with its number", lid="207360348127435")
	hidden = sim.inbound(SESSION, CUSTOMER, "lid only", lid="207360348127435", lid_only=True)
	found = events(receiver, lambda f: sum(e.kind == "message" for e in f) >= 2)
	by_id = {e.message.id: e.message for e in found if e.kind == "message"}
	assert (by_id[message_id(known)].chat, by_id[message_id(known)].lid) == (CUSTOMER, "207360348127435")
	assert by_id[message_id(hidden)].chat is None and by_id[message_id(hidden)].lid == "207360348127435"


def test_inbound_reply_and_file(linked, receiver):
	sim, client, _ = linked
	first = sim.inbound(SESSION, CUSTOMER, "question")
	media = {"data": PNG, "mimetype": "image/png", "filename": "photo.png", "caption": "see this"}
	second = sim.inbound(SESSION, CUSTOMER, None, media=media, reply_to=first)
	found = events(receiver, lambda f: sum(e.kind == "message" for e in f) >= 2)
	message = next(e.message for e in found if e.kind == "message" and e.message.id == message_id(second))
	assert message.reply_to == message_id(first)
	assert message.text == "see this" and message.media is not None
	downloaded = client.download_media(SESSION, message)
	assert downloaded.data == PNG and downloaded.mimetype == "image/png"


def test_send_a_file(linked, gateway_type):
	sim, client, _ = linked
	media = checked_media(PNG, "image/png", "photo.png")
	client.send_message(SESSION, checked_outgoing(CUSTOMER, "caption", media))
	sent = sim.sent(SESSION)[-1]
	assert sent["media"]["size"] == len(PNG) and sent["media"]["mimetype"] == "image/png"


def test_refusals_are_typed(linked, gateway_type):
	_sim, client, _ = linked
	if gateway_type != "waha":  # WAHA sends to any number and fails it later with an error receipt
		with pytest.raises(NotOnWhatsApp):
			client.send_message(SESSION, checked_outgoing(NOT_ON_WHATSAPP, "x"))
	client.create_session("unlinked")
	with pytest.raises((NotConnected, GatewayTimeout)):
		client.send_message("unlinked", checked_outgoing(CUSTOMER, "x"), timeout=1.0)
	with pytest.raises((SessionNotFound, NotConnected)):
		client.send_message("never-made", checked_outgoing(CUSTOMER, "x"))


def test_waha_core_refuses_files_in_plain_words():
	with make_simulator("waha", api_key=SENTINEL_KEY, core_2024=True, qr_route_wait_s=0.2) as sim:
		with make_client("waha", sim.url, SENTINEL_KEY, Timeouts(1, 3)) as client:
			client.create_session("default")
			sim.scan("default")
			with pytest.raises(MediaNotSupported):
				client.send_message(
					"default", checked_outgoing(CUSTOMER, None, checked_media(PNG, "image/png", "a.png"))
				)


@pytest.mark.parametrize("gateway_type", TYPES)
def test_a_hanging_send_is_bounded(gateway_type):
	extra = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	with make_simulator(gateway_type, api_key=SENTINEL_KEY, scenario="hang", hang_max_s=10, **extra) as sim:
		with make_client(gateway_type, sim.url, SENTINEL_KEY, Timeouts(0.5, 1)) as client:
			with pytest.raises(GatewayTimeout):
				client.send_message("stuck", checked_outgoing(CUSTOMER, "x"), timeout=0.5)


def test_reactions_both_ways(linked, receiver):
	sim, client, _ = linked
	first = client.send_message(SESSION, checked_outgoing(CUSTOMER, "¿Te va bien el martes?"))
	client.send_message(SESSION, checked_reaction(CUSTOMER, "👍", first.message_id, True))
	sent = sim.sent(SESSION)[-1]["reaction"]
	assert (message_id(sent["messageId"]), sent["emoji"]) == (first.message_id, "👍")
	theirs = sim.inbound(SESSION, CUSTOMER, "¡Perfecto!")
	reaction_id = sim.inbound(SESSION, CUSTOMER, reaction="❤️", reply_to=theirs)
	found = events(
		receiver, lambda f: any(e.kind == "message" and e.message.id == message_id(reaction_id) for e in f)
	)
	got = next(e.message for e in found if e.kind == "message" and e.message.id == message_id(reaction_id))
	assert (got.reaction, got.reply_to, got.chat, got.text) == ("❤️", message_id(theirs), CUSTOMER, None)
