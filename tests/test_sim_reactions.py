"""Emoji reactions in the gateway simulators (send one, receive one), over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from whatsapp_crm.simulator import BaseSimulator
from whatsapp_crm.simulator.model import one_emoji

from .test_sim_messaging import (
	CHAT,
	TYPES,
	Receiver,
	call_json,
	create_session,
	send_text,
	sent_id,
	start_sim,
)

THUMBS = "👍"
WAHA_EVENTS = ["session.status", "message", "message.any", "message.ack", "message.reaction"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
	recv = Receiver()
	yield recv
	recv.close()


def session_for(sim: BaseSimulator, receiver: Receiver) -> str:
	"""A linked session whose hook hears reactions too (WAHA sends only the events asked for)."""
	return create_session(sim, receiver, events=WAHA_EVENTS if sim.gateway_type == "waha" else None)


def react(sim: BaseSimulator, sid: str, target: str, emoji: str, from_me: bool = True) -> tuple[int, Any]:
	"""Each type's reaction route; `target` is the key id."""
	kind = sim.gateway_type
	if kind == "baileys":
		body = {"to": CHAT, "reaction": {"messageId": target, "emoji": emoji}}
		return call_json(sim, "POST", f"/api/sessions/{sid}/messages", body)
	if kind == "evolution":
		key = {"remoteJid": f"{CHAT}@s.whatsapp.net", "fromMe": from_me, "id": target}
		return call_json(sim, "POST", f"/message/sendReaction/{sid}", {"key": key, "reaction": emoji})
	message_id = f"{'true' if from_me else 'false'}_{CHAT}@c.us_{target}"
	return call_json(
		sim, "PUT", "/api/reaction", {"session": sid, "messageId": message_id, "reaction": emoji}
	)


def app_name(kind: str, key_id: str, from_me: bool = True) -> str:
	"""A message id as the app names it to the type."""
	return f"{'true' if from_me else 'false'}_{CHAT}@c.us_{key_id}" if kind == "waha" else key_id


def reaction_events(kind: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
	"""Reaction events normalized: the target's id, the emoji, fromMe and the raw body."""
	out = []
	for b in bodies:
		if kind == "baileys" and b.get("event") == "message" and "reaction" in b["message"]:
			m = b["message"]
			out.append({"target": m["reaction"]["messageId"], "emoji": m["reaction"]["emoji"], "raw": m})
		elif kind == "evolution" and b.get("event") == "messages.upsert":
			r = b["data"]["message"].get("reactionMessage")
			if r is not None:
				out.append({"target": r["key"]["id"], "emoji": r["text"], "raw": b["data"]})
		elif kind == "waha" and b.get("event") == "message.reaction":
			p = b["payload"]
			out.append({"target": p["reaction"]["messageId"], "emoji": p["reaction"]["text"], "raw": p})
	return out


@pytest.mark.parametrize("kind", TYPES)
def test_react_to_a_sent_message(kind: str, receiver: Receiver) -> None:
	with start_sim(kind, receiver) as sim:
		sid = session_for(sim, receiver)
		_, answer = send_text(sim, sid, CHAT, "Hola")
		target = sent_id(kind, answer)
		status, answer = react(sim, sid, target, THUMBS)
		assert status == {"baileys": 201, "evolution": 201, "waha": 200}[kind]
		last = sim.sent(sid)[-1]
		assert last["reaction"] == {"messageId": app_name(kind, target), "emoji": THUMBS}
		assert last["to"] == CHAT and last["text"] is None and sim.sent(sid)[0]["reaction"] is None
		assert sim.count("send") == 2
		if kind == "baileys":
			assert answer == {"success": True, "messageId": last["id"], "status": "sent"}
		elif kind == "evolution":
			key = {"remoteJid": f"{CHAT}@s.whatsapp.net", "fromMe": True, "id": target}
			reacted = answer["message"]["reactionMessage"]
			assert answer["messageType"] == "reactionMessage" and answer["key"]["id"] == last["id"]
			assert reacted["key"] == key and reacted["text"] == THUMBS
			assert isinstance(reacted["senderTimestampMs"], int) and "contextInfo" not in answer
		else:
			reacted = answer["message"]["reactionMessage"]
			assert answer["key"] == {"remoteJid": f"{CHAT}@s.whatsapp.net", "fromMe": True, "id": last["id"]}
			assert reacted["key"] == {"remoteJid": f"{CHAT}@s.whatsapp.net", "fromMe": True, "id": target}
			assert reacted["text"] == THUMBS and isinstance(reacted["senderTimestampMs"], str)
			# emitOwnEvents: the sent reaction comes back as message.reaction
			[event] = receiver.wait_for(lambda bs: reaction_events(kind, bs))
			assert event["target"] == app_name(kind, target) and event["raw"]["fromMe"] is True
		# "" takes the reaction back
		status, _ = react(sim, sid, target, "")
		assert status < 300 and sim.sent(sid)[-1]["reaction"]["emoji"] == ""


@pytest.mark.parametrize("kind", TYPES)
def test_react_to_an_unknown_message(kind: str) -> None:
	with start_sim(kind, None) as sim:
		sid = create_session(sim, None)
		status, answer = react(sim, sid, "3EB0FFFFFFFFFFFFFFFF", THUMBS)
		if kind == "baileys":
			assert (status, answer["error"]) == (404, "MESSAGE_NOT_FOUND")
		elif kind == "evolution":
			assert status == 404 and answer["response"]["message"] == ["Message not found"]
		else:
			assert status == 422 and "not found" in answer["message"]
		assert sim.sent() == []


@pytest.mark.parametrize("kind", TYPES)
def test_bad_reactions_are_refused(kind: str) -> None:
	with start_sim(kind, None) as sim:
		sid = create_session(sim, None)
		_, answer = send_text(sim, sid, CHAT, "Hola")
		target = sent_id(kind, answer)
		if kind == "baileys":
			path = f"/api/sessions/{sid}/messages"
			for reaction in (
				{"messageId": target},
				{"messageId": target, "emoji": "ok"},
				"👍",
				{"emoji": "👍"},
			):
				status, answer = call_json(sim, "POST", path, {"to": CHAT, "reaction": reaction})
				assert (status, answer["error"]) == (400, "INVALID_MESSAGE"), reaction
		elif kind == "evolution":
			status, answer = call_json(sim, "POST", f"/message/sendReaction/{sid}", {"key": {"id": target}})
			assert status == 400
			assert 'instance requires property "reaction"' in answer["response"]["message"][0]
			assert 'key requires property "remoteJid"' in answer["response"]["message"][0]
			status, answer = react(sim, sid, target, "👍👍")
			assert status == 400
			assert answer["response"]["message"] == ["Reaction must be a single emoji or empty string"]
		else:
			body = {"session": sid, "messageId": target, "reaction": THUMBS}  # not serialized
			status, answer = call_json(sim, "PUT", "/api/reaction", body)
			assert status == 500 and "false_11111111111@c.us_" in answer["exception"]["message"]
		assert len(sim.sent()) == 1


@pytest.mark.parametrize("kind", TYPES)
def test_react_on_an_unlinked_session(kind: str) -> None:
	with start_sim(kind, None) as sim:
		sid = create_session(sim, None, link=False)
		status, _ = react(sim, sid, "3EB0FFFFFFFFFFFFFFFF", THUMBS)
		expected = {"baileys": 409, "evolution": 500, "waha": 422}[kind]
		assert status == expected


@pytest.mark.parametrize("kind", TYPES)
def test_inbound_reaction(kind: str, receiver: Receiver) -> None:
	with start_sim(kind, receiver) as sim:
		sid = session_for(sim, receiver)
		_, answer = send_text(sim, sid, CHAT, "Hola")
		target = sent_id(kind, answer)
		mid = sim.inbound(sid, CHAT, reaction=THUMBS, reply_to=app_name(kind, target))
		[event] = receiver.wait_for(lambda bs: reaction_events(kind, bs))
		assert event["emoji"] == THUMBS
		assert event["target"] == app_name(kind, target)
		raw = event["raw"]
		if kind == "baileys":
			assert raw["id"] == mid and raw["chat"] == CHAT and raw["fromMe"] is False
			assert "text" not in raw and raw["pushName"] == "Ana Cliente"
		elif kind == "evolution":
			assert raw["messageType"] == "reactionMessage" and raw["key"]["id"] == mid
			reacted = raw["message"]["reactionMessage"]
			# normaliseKey: the key from our side (we sent the target)
			assert reacted["key"] == {"remoteJid": f"{CHAT}@s.whatsapp.net", "fromMe": True, "id": target}
			assert set(reacted["senderTimestampMs"]) == {"low", "high", "unsigned"}
		else:
			assert raw["id"] == mid and raw["id"].startswith(f"false_{CHAT}@c.us_")
			assert raw["from"] == f"{CHAT}@c.us" and raw["fromMe"] is False
			assert "to" not in raw and "participant" not in raw
		# a reaction is not a message: no text event, and sent() does not list it
		assert sim.sent(sid)[-1]["id"] == target
		if kind == "waha":
			assert not [
				b
				for b in receiver.bodies
				if b["event"] in ("message", "message.any") and b["payload"]["fromMe"] is False
			]


def test_inbound_reaction_over_the_control_route(receiver: Receiver) -> None:
	with start_sim("baileys", receiver) as sim:
		sid = create_session(sim, receiver)
		incoming = sim.inbound(sid, CHAT, "Hola")
		path = f"/_sim/sessions/{sid}/inbound"
		status, answer = call_json(sim, "POST", path, {"chat": CHAT, "reaction": "❤️", "replyTo": incoming})
		assert status == 200 and answer["success"] is True
		[event] = receiver.wait_for(lambda bs: reaction_events("baileys", bs))
		assert event == {"target": incoming, "emoji": "❤️", "raw": event["raw"]}
		# unknown target, and a reaction without its target
		status, answer = call_json(sim, "POST", path, {"chat": CHAT, "reaction": "❤️", "replyTo": "nope"})
		assert (status, answer["error"]) == (404, "MESSAGE_NOT_FOUND")
		status, answer = call_json(sim, "POST", path, {"chat": CHAT, "reaction": "❤️"})
		assert (status, answer["error"]) == (400, "INVALID_MESSAGE")


def test_waha_events_filter(receiver: Receiver) -> None:
	with start_sim("waha", receiver) as sim:
		sid = create_session(sim, receiver, events=["message"])  # no message.reaction
		incoming = sim.inbound(sid, CHAT, "Hola")
		sim.inbound(sid, CHAT, reaction=THUMBS, reply_to=incoming)
		sim.inbound(sid, CHAT, "after")
		receiver.wait_for(
			lambda bs: [b for b in bs if b["event"] == "message" and b["payload"]["body"] == "after"]
		)
		assert not reaction_events("waha", receiver.bodies)  # queued before "after": it would have come


def test_one_emoji() -> None:
	for good in ("", "👍", "👍🏽", "❤️", "👨\u200d👩\u200d👧", "🇪🇸", "1️⃣"):
		assert one_emoji(good), good
	for bad in ("👍👍", "a", "1", "ok", "中", "🇪🇸🇪🇸", "👍 "):
		assert not one_emoji(bad), bad
