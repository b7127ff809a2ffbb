"""Reading each gateway type's message and receipt events into InboundMessage and Ack, from bodies shaped as
the real servers send them (Evolution API 2.3.6's prepareMessage, WAHA 2024.10's NOWEB toWAMessage, and the
Baileys REST contract's messaging extension), plus the helpers they rely on."""

from __future__ import annotations

import json

import pytest

from whatsapp_crm.gateway.adapters import parse_webhook
from whatsapp_crm.gateway.client import send_error
from whatsapp_crm.gateway.errors import (
	GatewayTimeout,
	InvalidMessage,
	MediaNotSupported,
	MediaTooLarge,
	NotConnected,
	NotOnWhatsApp,
	ServerError,
)
from whatsapp_crm.gateway.messaging import (
	DELIVERED,
	FAILED,
	READ,
	SENT,
	checked_outgoing,
	keep_status,
	media_from_base64,
	message_id,
	phone_of,
	safe_filename,
)
from whatsapp_crm.gateway.webhook import WebhookRejected


def parse(body: dict):
	return parse_webhook(json.dumps(body).encode())


def evolution(event: str, data: dict) -> dict:
	return {"event": event, "instance": "sales-1", "data": data, "apikey": "instance-token", "sender": None}


def waha(event: str, payload: dict) -> dict:
	return {
		"id": "evt_1",
		"timestamp": 1764320000000,
		"event": event,
		"session": "default",
		"payload": payload,
	}


# -- Evolution API --


def test_evolution_text_message():
	event = parse(
		evolution(
			"messages.upsert",
			{
				"key": {"remoteJid": "34600111222@s.whatsapp.net", "fromMe": False, "id": "3EB0A1B2C3D4E5F6"},
				"pushName": "Ana",
				"status": "DELIVERY_ACK",
				"message": {"conversation": "Hola, <script>alert(1)</script>"},
				"messageType": "conversation",
				"messageTimestamp": 1764320000,
			},
		)
	)
	m = event.message
	assert event.kind == "message" and event.session_id == "sales-1"
	assert (m.id, m.chat, m.from_me, m.push_name, m.timestamp) == (
		"3EB0A1B2C3D4E5F6",
		"34600111222",
		False,
		"Ana",
		1764320000,
	)
	assert m.text == "Hola, <script>alert(1)</script>"  # kept as data: whoever shows it escapes it


def test_evolution_lid_takes_the_number_from_remote_jid_alt():
	key = {"remoteJid": "123456789012345@lid", "remoteJidAlt": "5511987654321@s.whatsapp.net", "id": "ABC1"}
	m = parse(
		evolution("messages.upsert", {"key": {**key, "fromMe": False}, "message": {"conversation": "x"}})
	).message
	assert (m.chat, m.lid) == ("5511987654321", "123456789012345")


def test_evolution_lid_without_its_number_is_never_taken_for_a_phone():
	key = {"remoteJid": "123456789012345@lid", "fromMe": False, "id": "ABC2"}
	m = parse(evolution("messages.upsert", {"key": key, "message": {"conversation": "x"}})).message
	assert m.chat is None and m.lid == "123456789012345"


def test_evolution_from_me_reply_and_caption():
	data = {
		"key": {"remoteJid": "34600111222@s.whatsapp.net", "fromMe": True, "id": "ABC3"},
		"pushName": "Você",
		"message": {"imageMessage": {"caption": "the quote", "mimetype": "image/jpeg", "fileLength": "2048"}},
		"contextInfo": {"stanzaId": "QUOTED1"},
		"messageTimestamp": {"low": 1764320000, "high": 0},
	}
	m = parse(evolution("messages.upsert", data)).message
	assert m.from_me and m.push_name is None  # our own name is not the customer's
	assert (m.text, m.reply_to, m.timestamp) == ("the quote", "QUOTED1", 1764320000)
	assert (m.media.mimetype, m.media.size, m.media.filename) == ("image/jpeg", 2048, "whatsapp-file.jpeg")


def test_evolution_groups_and_status_updates_are_ignored():
	for jid in ("120363000000000000@g.us", "status@broadcast"):
		key = {"remoteJid": jid, "fromMe": False, "id": "G1"}
		assert (
			parse(evolution("messages.upsert", {"key": key, "message": {"conversation": "x"}})).kind
			== "ignored"
		)


@pytest.mark.parametrize(
	"word,status",
	[("SERVER_ACK", SENT), ("DELIVERY_ACK", DELIVERED), ("READ", READ), ("PLAYED", READ), ("ERROR", FAILED)],
)
def test_evolution_acks(word, status):
	data = {
		"messageId": "cuid1",
		"keyId": "3EB0FF",
		"remoteJid": "34600111222@s.whatsapp.net",
		"fromMe": True,
	}
	event = parse(evolution("messages.update", {**data, "status": word}))
	assert event.kind == "ack" and (event.ack.message_id, event.ack.status, event.ack.chat) == (
		"3EB0FF",
		status,
		"34600111222",
	)


def test_evolution_deleted_is_no_ack():
	data = {"keyId": "3EB0FF", "remoteJid": "34600111222@s.whatsapp.net", "fromMe": True, "status": "DELETED"}
	assert parse(evolution("messages.update", data)).kind == "ignored"


# -- WAHA --


def test_waha_incoming_message_with_serialized_id_and_reply():
	payload = {
		"id": "false_34600111222@c.us_3EB0AAAA",
		"timestamp": 1764320000,
		"from": "34600111222@c.us",
		"fromMe": False,
		"to": "34911222333@c.us",
		"body": "hola",
		"hasMedia": False,
		"replyTo": {"id": "3EB0PREV", "participant": None, "body": "before"},
		"_data": {
			"key": {"remoteJid": "34600111222@s.whatsapp.net", "fromMe": False, "id": "3EB0AAAA"},
			"pushName": "Ana",
		},
	}
	m = parse(waha("message.any", payload)).message
	assert (m.id, m.chat, m.from_me, m.text, m.reply_to, m.push_name) == (
		"3EB0AAAA",
		"34600111222",
		False,
		"hola",
		"3EB0PREV",
		"Ana",
	)


def test_waha_from_me_uses_to_as_the_chat():
	payload = {
		"id": "true_34600111222@c.us_3EB0BBBB",
		"from": "34911222333@c.us",
		"to": "34600111222@c.us",
		"fromMe": True,
		"body": "typed on the phone",
	}
	m = parse(waha("message.any", payload)).message
	assert m.from_me and m.chat == "34600111222" and m.id == "3EB0BBBB"


def test_waha_media_and_group_author():
	media = {
		"url": "http://127.0.0.1:3000/api/files/default/3EB0CCCC.jpeg",
		"mimetype": "image/jpeg",
		"filename": None,
	}
	payload = {
		"id": "false_34600111222@c.us_3EB0CCCC",
		"from": "34600111222@c.us",
		"fromMe": False,
		"body": "",
		"hasMedia": True,
		"media": media,
	}
	m = parse(waha("message", payload)).message
	assert (
		m.media.url.endswith("/api/files/default/3EB0CCCC.jpeg")
		and m.media.mimetype == "image/jpeg"
		and m.text is None
	)
	group = {**payload, "from": "120363000000000000@g.us", "participant": "34600111222@c.us"}
	assert parse(waha("message", group)).kind == "ignored"


@pytest.mark.parametrize("ack,status", [(1, SENT), (2, DELIVERED), (3, READ), (4, READ), (-1, FAILED)])
def test_waha_acks(ack, status):
	payload = {
		"id": "true_34600111222@c.us_3EB0DDDD",
		"from": "34911222333@c.us",
		"to": "34600111222@c.us",
		"fromMe": True,
		"ack": ack,
	}
	event = parse(waha("message.ack", payload))
	assert event.kind == "ack" and (event.ack.message_id, event.ack.status, event.ack.chat) == (
		"3EB0DDDD",
		status,
		"34600111222",
	)


def test_waha_pending_ack_changes_nothing():
	payload = {"id": "true_34600111222@c.us_3EB0DDDD", "fromMe": True, "to": "34600111222@c.us", "ack": 0}
	assert parse(waha("message.ack", payload)).kind == "ignored"


# -- Baileys REST contract --


def test_baileys_message_and_ack_events():
	body = {
		"event": "message",
		"sessionId": "sales-1",
		"id": "evt-9",
		"timestamp": 1764320000,
		"message": {
			"id": "M1",
			"chat": "34600111222",
			"lid": "99",
			"fromMe": False,
			"text": "hi",
			"pushName": "Ana",
			"replyTo": "M0",
			"media": {"mimetype": "application/pdf", "filename": "../../etc/passwd", "size": 10},
		},
	}
	m = parse(body).message
	assert (m.id, m.chat, m.lid, m.text, m.reply_to) == ("M1", "34600111222", "99", "hi", "M0")
	assert m.media.filename == "passwd"  # never a path
	ack = parse(
		{"event": "ack", "sessionId": "sales-1", "ack": {"messageId": "M2", "status": "delivered"}}
	).ack
	assert (ack.message_id, ack.status) == ("M2", DELIVERED)


def test_baileys_malformed_message_events_are_refused():
	with pytest.raises(WebhookRejected):
		parse({"event": "message", "sessionId": "sales-1", "message": {"chat": "34600111222"}})
	with pytest.raises(WebhookRejected):
		parse({"event": "ack", "sessionId": "sales-1", "ack": {"messageId": "M2", "status": "teleported"}})


def test_session_events_still_read_by_the_contract():
	assert parse({"event": "connection", "sessionId": "sales-1", "status": "connected"}).kind == "connection"


# -- helpers --


def test_message_id_forms():
	assert message_id("true_34600111222@c.us_3EB0X") == "3EB0X"
	assert message_id("false_1203@g.us_ABC_34600111222@c.us") == "ABC"
	assert message_id("3EB0X") == "3EB0X"
	assert message_id("a b") is None and message_id("x" * 200) is None and message_id(None) is None


def test_phone_of_refuses_what_is_not_a_person():
	assert phone_of("34600111222:12@s.whatsapp.net") == "34600111222"
	assert phone_of("1234@lid") is None and phone_of("1203@g.us") is None and phone_of("12") is None


@pytest.mark.parametrize(
	"current,new,moves",
	[
		(None, SENT, True),
		("queued", SENT, True),
		(SENT, DELIVERED, True),
		(READ, DELIVERED, False),  # a late receipt never undoes "read"
		(DELIVERED, DELIVERED, False),
		(SENT, FAILED, True),
		(DELIVERED, FAILED, False),
		(FAILED, DELIVERED, True),
	],
)
def test_keep_status(current, new, moves):
	assert keep_status(current, new) is moves


def test_outgoing_checks():
	with pytest.raises(InvalidMessage):
		checked_outgoing("34600111222", "   ")
	with pytest.raises(InvalidMessage):
		checked_outgoing("34600111222", "x" * 70000)
	assert checked_outgoing("34600111222", "hi", reply_to="true_1@c.us_3EB0").reply_to == "3EB0"


def test_media_from_base64_caps_and_names():
	media = media_from_base64("data:image/png;base64,iVBORw0KGgo=", None, "a/b/../photo.png")
	assert media.mimetype == "image/png" and media.filename == "photo.png" and media.kind == "image"
	with pytest.raises(MediaTooLarge):
		media_from_base64("A" * 4000, "image/png", "x.png", limit=1000)
	with pytest.raises(InvalidMessage):
		media_from_base64("", "image/png", "x.png")
	assert safe_filename("", "application/pdf") == "whatsapp-file.pdf"


@pytest.mark.parametrize(
	"error,expected",
	[
		(ServerError("x", http_status=400, server_message="The instance is not connected"), NotConnected),
		(
			ServerError("x", http_status=400, body_excerpt='{"response":{"message":[{"exists": false}]}}'),
			NotOnWhatsApp,
		),
		(ServerError("x", http_status=409, server_error="NOT_CONNECTED"), NotConnected),
		(
			ServerError("x", http_status=422, server_message="Available only in Plus version"),
			MediaNotSupported,
		),
		(ServerError("x", http_status=413), MediaTooLarge),
		(GatewayTimeout("x"), GatewayTimeout),
	],
)
def test_send_errors_are_named_and_carry_no_body(error, expected):
	mapped = send_error(error)
	assert type(mapped) is expected and mapped.body_excerpt == ""


# -- reactions --


def test_reactions_of_every_type():
	evo = {
		"key": {"remoteJid": "34600111222@s.whatsapp.net", "fromMe": False, "id": "R1"},
		"message": {"reactionMessage": {"key": {"id": "TARGET1", "fromMe": True}, "text": "👍"}},
		"messageType": "reactionMessage",
	}
	m = parse(evolution("messages.upsert", evo)).message
	assert (m.id, m.chat, m.reaction, m.reply_to, m.text) == ("R1", "34600111222", "👍", "TARGET1", None)
	payload = {
		"id": "false_34600111222@c.us_R2",
		"from": "34600111222@c.us",
		"fromMe": False,
		"reaction": {"text": "❤️", "messageId": "true_34600111222@c.us_TARGET2"},
	}
	m = parse(waha("message.reaction", payload)).message
	assert (m.id, m.chat, m.reaction, m.reply_to) == ("R2", "34600111222", "❤️", "TARGET2")
	body = {
		"event": "message",
		"sessionId": "sales-1",
		"message": {"id": "R3", "chat": "34600111222", "reaction": {"messageId": "TARGET3", "emoji": ""}},
	}
	m = parse(body).message
	assert (m.reaction, m.reply_to) == ("", "TARGET3")  # a reaction taken back


def test_a_reaction_is_one_emoji():
	from whatsapp_crm.gateway.messaging import checked_reaction

	assert checked_reaction("34600111222", "👍🏽", "T1", True).reaction == "👍🏽"
	assert checked_reaction("34600111222", "", "T1", False).reaction == ""
	with pytest.raises(InvalidMessage):
		checked_reaction("34600111222", "hola", "T1", False)
	with pytest.raises(InvalidMessage):
		checked_reaction("34600111222", "👍", None, False)
