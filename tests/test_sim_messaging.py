"""Messaging in the gateway simulators (send, receive, acks, media), over real loopback HTTP.

Talks to the simulators with urllib and a local webhook receiver, never through the app's adapters: this
pins the simulators' wire shapes on their own.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from whatsapp_crm.simulator import NOT_ON_WHATSAPP, BaseSimulator, make_simulator

KEY = "sim-secret-key"
AUTH = {"baileys": "X-API-Key", "evolution": "apikey", "waha": "X-Api-Key"}
TYPES = ("baileys", "evolution", "waha")
CHAT = "34600999888"
LID = "207360348127435"
WAIT_S = 5.0
PDF = b"%PDF-1.4\n% simulated\n"


class FakeClock:
	def __init__(self) -> None:
		self.now = 1000.0

	def __call__(self) -> float:
		return self.now


class Receiver:
	"""A webhook sink on loopback: every POSTed JSON body, in arrival order."""

	def __init__(self) -> None:
		self.bodies: list[dict[str, Any]] = []
		self._cond = threading.Condition()
		receiver = self

		class _Handler(BaseHTTPRequestHandler):
			def do_POST(self) -> None:
				length = int(self.headers.get("Content-Length", "0"))
				body = json.loads(self.rfile.read(length) or b"{}")
				with receiver._cond:
					receiver.bodies.append(body)
					receiver._cond.notify_all()
				self.send_response(200)
				self.send_header("Content-Length", "0")
				self.end_headers()

			def log_message(self, *args: Any) -> None:
				pass

		self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
		self._thread = threading.Thread(
			target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
		)
		self._thread.start()
		self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

	def wait_for(self, found: Callable[[list[dict[str, Any]]], Any], timeout: float = WAIT_S) -> Any:
		"""The first truthy found(bodies) before the deadline; fails the test otherwise."""
		deadline = time.monotonic() + timeout
		with self._cond:
			while True:
				result = found(list(self.bodies))
				if result:
					return result
				left = deadline - time.monotonic()
				if left <= 0:
					pytest.fail(f"webhook never came; got {[b.get('event') for b in self.bodies]}")
				self._cond.wait(left)

	def close(self) -> None:
		self._server.shutdown()
		self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
	recv = Receiver()
	yield recv
	recv.close()


def call(
	sim: BaseSimulator, method: str, path: str, body: Any = None, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
	data = json.dumps(body).encode() if body is not None else None
	headers = {AUTH[sim.gateway_type]: KEY, "Content-Type": "application/json"}
	request = urllib.request.Request(sim.url + path, data=data, method=method, headers=headers)
	opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
	try:
		with opener.open(request, timeout=timeout) as resp:
			return resp.status, dict(resp.headers), resp.read()
	except urllib.error.HTTPError as exc:
		with exc:
			return exc.code, dict(exc.headers), exc.read()


def call_json(sim: BaseSimulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
	status, _, raw = call(sim, method, path, body)
	return status, json.loads(raw)


# -- one linked session per type, its webhook pointed at the receiver --


def start_sim(gateway_type: str, receiver: Receiver | None, **kwargs: Any) -> BaseSimulator:
	if gateway_type == "baileys" and receiver is not None:
		kwargs.update(webhook_url=receiver.url, webhook_secret="s")
	if gateway_type == "waha":
		kwargs.setdefault("qr_route_wait_s", 0.2)
	return make_simulator(gateway_type, api_key=KEY, start=True, **kwargs)


def create_session(
	sim: BaseSimulator, receiver: Receiver | None, link: bool = True, events: list[str] | None = None
) -> str:
	kind = sim.gateway_type
	if kind == "baileys":
		sid = "s1"
		status, _ = call_json(sim, "POST", "/api/sessions", {"sessionId": sid})
	elif kind == "evolution":
		sid = "e1"
		body: dict[str, Any] = {"instanceName": sid}
		if receiver is not None:
			body["webhook"] = {
				"url": receiver.url,
				"events": events or ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "SEND_MESSAGE"],
			}
		status, _ = call_json(sim, "POST", "/instance/create", body)
	else:
		sid = "default"
		config: dict[str, Any] = {}
		if receiver is not None:
			hook_events = events or ["session.status", "message", "message.any", "message.ack"]
			config = {"webhooks": [{"url": receiver.url, "events": hook_events}]}
		status, _ = call_json(sim, "POST", "/api/sessions", {"name": sid, "config": config})
	assert status == 201
	if link:
		sim.scan(sid)
	return sid


def send_text(
	sim: BaseSimulator, sid: str, to: str, text: str, reply_to: str | None = None
) -> tuple[int, Any]:
	kind = sim.gateway_type
	if kind == "baileys":
		body: dict[str, Any] = {"to": to, "text": text}
		if reply_to:
			body["replyTo"] = reply_to
		return call_json(sim, "POST", f"/api/sessions/{sid}/messages", body)
	if kind == "evolution":
		body = {"number": to, "text": text}
		if reply_to:
			body["quoted"] = {"key": {"id": reply_to}}
		return call_json(sim, "POST", f"/message/sendText/{sid}", body)
	body = {"session": sid, "chatId": f"{to}@c.us", "text": text}
	if reply_to:
		body["reply_to"] = reply_to
	return call_json(sim, "POST", "/api/sendText", body)


def send_pdf(sim: BaseSimulator, sid: str, to: str) -> tuple[int, Any]:
	data = base64.b64encode(PDF).decode()
	kind = sim.gateway_type
	if kind == "baileys":
		media = {"data": data, "mimetype": "application/pdf", "filename": "bill.pdf"}
		return call_json(
			sim, "POST", f"/api/sessions/{sid}/messages", {"to": to, "media": media, "caption": "c"}
		)
	if kind == "evolution":
		body = {
			"number": to,
			"mediatype": "document",
			"mimetype": "application/pdf",
			"fileName": "bill.pdf",
			"media": data,
			"caption": "c",
		}
		return call_json(sim, "POST", f"/message/sendMedia/{sid}", body)
	file = {"mimetype": "application/pdf", "filename": "bill.pdf", "data": data}
	return call_json(
		sim, "POST", "/api/sendFile", {"session": sid, "chatId": f"{to}@c.us", "file": file, "caption": "c"}
	)


def sent_id(kind: str, answer: dict[str, Any]) -> str:
	return answer["messageId"] if kind == "baileys" else answer["key"]["id"]


def message_events(kind: str, bodies: list[dict[str, Any]], any_: bool = False) -> list[dict[str, Any]]:
	"""Message events normalized: id (as the app sees it), chat/lid jid, text, fromMe, raw payload."""
	out = []
	for b in bodies:
		if kind == "baileys" and b.get("event") == "message":
			m = b["message"]
			out.append(
				{"id": m["id"], "fromMe": m["fromMe"], "text": m.get("text"), "raw": m, "event_id": b["id"]}
			)
		elif kind == "evolution" and b.get("event") == "messages.upsert":
			d = b["data"]
			text = d["message"].get("conversation")
			out.append({"id": d["key"]["id"], "fromMe": d["key"]["fromMe"], "text": text, "raw": d})
		elif kind == "waha" and b.get("event") == ("message.any" if any_ else "message"):
			p = b["payload"]
			out.append({"id": p["id"], "fromMe": p["fromMe"], "text": p["body"], "raw": p})
	return out


_EVO_ACKS = {
	"SERVER_ACK": "sent",
	"DELIVERY_ACK": "delivered",
	"READ": "read",
	"PLAYED": "played",
	"ERROR": "failed",
}
_WAHA_ACKS = {"SERVER": "sent", "DEVICE": "delivered", "READ": "read", "PLAYED": "played", "ERROR": "failed"}


def ack_events(kind: str, bodies: list[dict[str, Any]]) -> list[tuple[str, str]]:
	"""(key id, status) of every ack event."""
	out = []
	for b in bodies:
		if kind == "baileys" and b.get("event") == "ack":
			out.append((b["ack"]["messageId"], b["ack"]["status"]))
		elif kind == "evolution" and b.get("event") == "messages.update":
			out.append((b["data"]["keyId"], _EVO_ACKS[b["data"]["status"]]))
		elif kind == "waha" and b.get("event") == "message.ack":
			out.append((b["payload"]["id"].split("_")[-1], _WAHA_ACKS[b["payload"]["ackName"]]))
	return out


def download(sim: BaseSimulator, sid: str, message_id: str, event: dict[str, Any]) -> bytes:
	kind = sim.gateway_type
	if kind == "baileys":
		status, headers, raw = call(sim, "GET", f"/api/sessions/{sid}/messages/{message_id}/media")
		assert status == 200 and headers["Content-Type"] == "application/pdf"
		assert headers["Content-Disposition"] == 'attachment; filename="in.pdf"'
		return raw
	if kind == "evolution":
		status, answer = call_json(
			sim, "POST", f"/chat/getBase64FromMediaMessage/{sid}", {"message": {"key": {"id": message_id}}}
		)
		assert status == 201 and answer["mimetype"] == "application/pdf" and answer["fileName"] == "in.pdf"
		return base64.b64decode(answer["base64"])
	url = event["raw"]["media"]["url"]
	assert url.startswith(f"{sim.url}/api/files/{sid}/") and url.endswith(".pdf")
	status, _, raw = call(sim, "GET", url[len(sim.url) :])
	assert status == 200
	return raw


# -- the tests --


@pytest.mark.parametrize("kind", TYPES)
def test_send_text_is_answered_recorded_and_counted(kind: str, receiver: Receiver) -> None:
	with start_sim(kind, receiver) as sim:
		sid = create_session(sim, receiver)
		status, answer = send_text(sim, sid, CHAT, "Hola")
		assert status == 201
		mid = sent_id(kind, answer)
		assert mid.startswith("3EB0")
		[sent] = sim.sent(sid)
		assert sent["id"] == mid and sent["to"] == CHAT and sent["text"] == "Hola" and sent["media"] is None
		assert sim.count("send") == 1
		if kind == "baileys":
			assert answer == {"success": True, "messageId": mid, "status": "sent"}
		elif kind == "evolution":
			assert answer["key"] == {"remoteJid": f"{CHAT}@s.whatsapp.net", "fromMe": True, "id": mid}
			assert answer["status"] == "PENDING" and answer["message"] == {"conversation": "Hola"}
			assert answer["messageType"] == "conversation" and answer["source"] == "web"
			assert answer["pushName"] == "Você"
			# an API send is announced as send.message, never as messages.upsert
			receiver.wait_for(lambda bs: [b for b in bs if b["event"] == "send.message"])
			assert not message_events(kind, receiver.bodies)
		else:
			assert answer["message"] == {"extendedTextMessage": {"text": "Hola"}}
			assert answer["status"] == "PENDING" and isinstance(answer["messageTimestamp"], str)
			# Baileys emits its own messages: message.any (not message) sees the send
			mine = receiver.wait_for(lambda bs: message_events(kind, bs, any_=True))
			assert mine[0]["id"] == f"true_{CHAT}@c.us_{mid}" and mine[0]["raw"]["ackName"] == "PENDING"


@pytest.mark.parametrize("kind", TYPES)
def test_send_fails_on_unlinked_and_unknown_sessions(kind: str) -> None:
	with start_sim(kind, None) as sim:
		sid = create_session(sim, None, link=False)
		status, answer = send_text(sim, sid, CHAT, "x")
		if kind == "baileys":
			assert (status, answer["error"]) == (409, "NOT_CONNECTED")
		elif kind == "evolution":
			# what a real 2.3.6 answers while its instance is connecting
			assert status == 500 and answer["response"]["message"] == "Connection Closed"
		else:
			assert status == 422 and answer["expected"] == ["WORKING"] and answer["status"] == "SCAN_QR_CODE"
		status, answer = send_text(sim, "ghost", CHAT, "x")
		assert status == 404
		assert sim.sent() == []


@pytest.mark.parametrize("kind", TYPES)
def test_not_on_whatsapp(kind: str, receiver: Receiver) -> None:
	with start_sim(kind, receiver) as sim:
		sid = create_session(sim, receiver)
		status, answer = send_text(sim, sid, NOT_ON_WHATSAPP, "x")
		if kind == "baileys":
			assert (status, answer["error"]) == (400, "NOT_ON_WHATSAPP")
			assert sim.sent() == []
		elif kind == "evolution":
			assert status == 400
			assert answer["response"]["message"] == [
				{"jid": f"{NOT_ON_WHATSAPP}@s.whatsapp.net", "exists": False, "number": NOT_ON_WHATSAPP}
			]
			assert sim.sent() == []
		else:
			# NOWEB checks no number: accepted, then acked ERROR
			assert status == 201
			mid = sent_id(kind, answer)
			assert receiver.wait_for(lambda bs: (mid, "failed") in ack_events(kind, bs))


@pytest.mark.parametrize("kind", TYPES)
def test_media_send_and_inbound_media_download(kind: str, receiver: Receiver) -> None:
	with start_sim(kind, receiver) as sim:
		sid = create_session(sim, receiver)
		status, answer = send_pdf(sim, sid, CHAT)
		assert status == 201
		[sent] = sim.sent(sid)
		assert sent["media"] == {"mimetype": "application/pdf", "filename": "bill.pdf", "size": len(PDF)}
		assert sent["caption"] == "c" and sent["id"] == sent_id(kind, answer)

		media = {"data": PDF, "mimetype": "application/pdf", "filename": "in.pdf", "caption": "la factura"}
		public_id = sim.inbound(sid, CHAT, media=media)
		[event] = receiver.wait_for(lambda bs: message_events(kind, bs))
		assert event["id"] == public_id
		key_id = public_id.split("_")[-1]
		assert download(sim, sid, key_id, event) == PDF
		assert sim.count("media") == 1
		if kind == "baileys":
			assert event["raw"]["media"] == {
				"mimetype": "application/pdf",
				"filename": "in.pdf",
				"size": len(PDF),
				"caption": "la factura",
			}
		elif kind == "evolution":
			doc = event["raw"]["message"]["documentMessage"]
			assert doc["fileName"] == "in.pdf" and doc["caption"] == "la factura"
			assert event["raw"]["messageType"] == "documentMessage"
		else:
			assert event["raw"]["hasMedia"] is True and event["raw"]["body"] == "la factura"
			assert event["raw"]["media"]["filename"] == "in.pdf"


@pytest.mark.parametrize("kind", TYPES)
def test_inbound_repeats_keep_the_message_id(kind: str, receiver: Receiver) -> None:
	with start_sim(kind, receiver) as sim:
		sid = create_session(sim, receiver)
		public_id = sim.inbound(sid, CHAT, "¿Tenéis cita mañana?", repeat=3)
		events = receiver.wait_for(lambda bs: len(message_events(kind, bs)) >= 3 and message_events(kind, bs))
		assert [e["id"] for e in events] == [public_id] * 3
		assert {e["text"] for e in events} == {"¿Tenéis cita mañana?"}
		if kind == "baileys":
			assert (
				len({e["event_id"] for e in events}) == 3
			)  # new event ids: the app must dedupe by message id
			assert events[0]["raw"]["chat"] == CHAT and events[0]["raw"]["pushName"] == "Ana Cliente"
		elif kind == "evolution":
			assert events[0]["raw"]["status"] == "DELIVERY_ACK"
			assert events[0]["raw"]["key"]["addressingMode"] == "pn"
		else:
			assert public_id.startswith(f"false_{CHAT}@c.us_")


@pytest.mark.parametrize("kind", TYPES)
def test_lid_and_lid_only_shapes(kind: str, receiver: Receiver) -> None:
	with start_sim(kind, receiver) as sim:
		sid = create_session(sim, receiver)
		sim.inbound(sid, CHAT, "con lid", lid=LID)
		sim.inbound(sid, CHAT, "solo lid", lid=LID, lid_only=True)
		with_lid, only_lid = receiver.wait_for(
			lambda bs: len(message_events(kind, bs)) >= 2 and message_events(kind, bs)
		)
		a, b = with_lid["raw"], only_lid["raw"]
		if kind == "baileys":
			assert (a["chat"], a["lid"]) == (CHAT, LID)
			assert (b["chat"], b["lid"]) == (None, LID)
		elif kind == "evolution":
			assert a["key"]["remoteJid"] == f"{LID}@lid" and a["key"]["addressingMode"] == "lid"
			assert a["key"]["remoteJidAlt"] == f"{CHAT}@s.whatsapp.net"
			assert b["key"]["remoteJid"] == f"{LID}@lid" and "remoteJidAlt" not in b["key"]
		else:
			assert a["from"] == f"{LID}@lid" and a["_data"]["key"]["remoteJidAlt"] == f"{CHAT}@s.whatsapp.net"
			assert b["from"] == f"{LID}@lid" and "remoteJidAlt" not in b["_data"]["key"]


@pytest.mark.parametrize("kind", TYPES)
def test_auto_acks_follow_the_clock(kind: str, receiver: Receiver) -> None:
	clock = FakeClock()
	with start_sim(kind, receiver, clock=clock, ack_delay_s=30.0) as sim:
		sid = create_session(sim, receiver)
		status, answer = send_text(sim, sid, CHAT, "ack me")
		assert status == 201
		mid = sent_id(kind, answer)

		def acks() -> list[str]:
			return [s for i, s in ack_events(kind, receiver.bodies) if i == mid]

		receiver.wait_for(lambda bs: (mid, "sent") in ack_events(kind, bs))
		assert acks() == ["sent"]  # the clock has not moved: nothing else is due
		clock.now += 30
		receiver.wait_for(lambda bs: (mid, "delivered") in ack_events(kind, bs))
		clock.now += 30
		receiver.wait_for(lambda bs: (mid, "read") in ack_events(kind, bs))
		assert acks() == ["sent", "delivered", "read"]


def test_no_auto_acks_when_disabled(receiver: Receiver) -> None:
	with start_sim("baileys", receiver, auto_ack=False) as sim:
		sid = create_session(sim, receiver)
		_, answer = send_text(sim, sid, CHAT, "quiet")
		sim.ack(sid, answer["messageId"], "played")
		bodies = receiver.wait_for(lambda bs: ack_events("baileys", bs) and bs)
		# the only ack is the one asked for: an automatic "sent" would have been queued first
		assert ack_events("baileys", bodies) == [(answer["messageId"], "played")]


@pytest.mark.parametrize("kind", TYPES)
def test_control_routes(kind: str, receiver: Receiver) -> None:
	with start_sim(kind, receiver, auto_ack=False) as sim:
		sid = create_session(sim, receiver)
		_, answer = send_text(sim, sid, CHAT, "first")
		mid = sent_id(kind, answer)

		data = base64.b64encode(PDF).decode()
		body = {
			"chat": CHAT,
			"text": "respuesta",
			"replyTo": mid,
			"pushName": "Luis",
			"messageId": "3EB0AAAAAAAAAAAAAAAA",
			"repeat": 2,
		}
		status, reply = call_json(sim, "POST", f"/_sim/sessions/{sid}/inbound", body)
		assert status == 200 and reply["success"] is True
		assert reply["messageId"].endswith("3EB0AAAAAAAAAAAAAAAA")
		media = {"data": data, "mimetype": "application/pdf", "filename": "in.pdf"}
		status, reply2 = call_json(
			sim, "POST", f"/_sim/sessions/{sid}/inbound", {"chat": CHAT, "media": media}
		)
		assert status == 200

		events = receiver.wait_for(lambda bs: len(message_events(kind, bs)) >= 3 and message_events(kind, bs))
		first = events[0]["raw"]
		assert events[0]["id"] == events[1]["id"] == reply["messageId"]
		if kind == "baileys":
			assert first["replyTo"] == mid and first["pushName"] == "Luis"
		elif kind == "evolution":
			assert first["contextInfo"]["stanzaId"] == mid and first["pushName"] == "Luis"
		else:
			assert first["replyTo"]["id"] == mid and first["replyTo"]["body"] == "first"
		assert download(sim, sid, reply2["messageId"].split("_")[-1], events[2]) == PDF

		status, acked = call_json(
			sim, "POST", f"/_sim/sessions/{sid}/ack", {"messageId": mid, "status": "read"}
		)
		assert status == 200 and acked["success"] is True
		assert receiver.wait_for(lambda bs: (mid, "read") in ack_events(kind, bs))

		status, listing = call_json(sim, "GET", f"/_sim/sessions/{sid}/sent")
		assert status == 200 and [m["id"] for m in listing["messages"]] == [mid]
		assert listing["messages"][0]["text"] == "first"

		# bad input, unknown message, unknown session, unlinked session
		status, bad = call_json(sim, "POST", f"/_sim/sessions/{sid}/inbound", {"chat": "12", "text": "x"})
		assert (status, bad["error"]) == (400, "INVALID_MESSAGE")
		status, bad = call_json(
			sim, "POST", f"/_sim/sessions/{sid}/ack", {"messageId": mid, "status": "seen"}
		)
		assert status == 400
		status, _ = call_json(
			sim, "POST", f"/_sim/sessions/{sid}/ack", {"messageId": "3EB0NOPE", "status": "read"}
		)
		assert status == 404
		status, _ = call_json(sim, "POST", "/_sim/sessions/ghost/inbound", {"chat": CHAT, "text": "x"})
		assert status == 404
		if kind == "baileys":
			call_json(sim, "POST", "/api/sessions", {"sessionId": "s2"})
			status, unlinked = call_json(
				sim, "POST", "/_sim/sessions/s2/inbound", {"chat": CHAT, "text": "x"}
			)
			assert (status, unlinked["error"]) == (409, "NOT_CONNECTED")
			with pytest.raises(ValueError):
				sim.inbound("s2", CHAT, "x")


@pytest.mark.parametrize("kind", TYPES)
def test_send_hangs_under_the_hang_fault(kind: str) -> None:
	with start_sim(kind, None, hang_max_s=30.0) as sim:
		sid = create_session(sim, None)
		sim.set_scenario(sid, "hang")
		started = threading.Event()
		outcome: list[BaseException] = []

		def send() -> None:
			started.set()
			try:
				body = {"to": CHAT, "text": "x"}
				if kind == "baileys":
					call(sim, "POST", f"/api/sessions/{sid}/messages", body, timeout=0.5)
				elif kind == "evolution":
					call(sim, "POST", f"/message/sendText/{sid}", {"number": CHAT, "text": "x"}, timeout=0.5)
				else:
					call(
						sim,
						"POST",
						"/api/sendText",
						{"session": sid, "chatId": f"{CHAT}@c.us", "text": "x"},
						timeout=0.5,
					)
			except (TimeoutError, urllib.error.URLError) as exc:
				outcome.append(exc)

		thread = threading.Thread(target=send)
		thread.start()
		thread.join(5)
		assert started.is_set() and outcome, "the send should have timed out on the client side"
		assert sim.sent() == [] and sim.count("send") == 1


def test_baileys_send_validation_and_media_limit(receiver: Receiver) -> None:
	with start_sim("baileys", receiver) as sim:
		sid = create_session(sim, receiver)
		path = f"/api/sessions/{sid}/messages"
		assert call_json(sim, "POST", path, {"to": "12ab", "text": "x"})[1]["error"] == "INVALID_PHONE"
		assert call_json(sim, "POST", path, {"to": CHAT})[1]["error"] == "INVALID_MESSAGE"
		bad_media = {"data": "***", "mimetype": "application/pdf", "filename": "a.pdf"}
		assert call_json(sim, "POST", path, {"to": CHAT, "media": bad_media})[1]["error"] == "INVALID_MESSAGE"
		big = base64.b64encode(b"\0" * (16 * 1024 * 1024 + 1)).decode()
		media = {"data": big, "mimetype": "application/octet-stream", "filename": "big.bin"}
		status, answer = call_json(sim, "POST", path, {"to": CHAT, "media": media})
		assert (status, answer["error"]) == (413, "MEDIA_TOO_LARGE")
		status, answer = call_json(sim, "GET", f"{path}/3EB0NOTHERE/media")
		assert (status, answer["error"]) == (404, "MESSAGE_NOT_FOUND")
		assert sim.sent() == []


def test_evolution_respects_the_instance_event_filter(receiver: Receiver) -> None:
	# a still clock: the delayed acks never come due, so the upsert is the last event queued
	with start_sim("evolution", receiver, clock=FakeClock()) as sim:
		sid = create_session(sim, receiver, events=["MESSAGES_UPSERT"])
		assert send_text(sim, sid, CHAT, "filtered")[0] == 201
		sim.inbound(sid, CHAT, "in")
		# a session's events go out in order: once the upsert is here, send.message and the ack were dropped
		receiver.wait_for(lambda bs: message_events("evolution", bs))
		assert {b["event"] for b in receiver.bodies} == {"messages.upsert"}


def test_waha_core_refuses_send_file_and_filters_message_any(receiver: Receiver) -> None:
	with start_sim("waha", receiver, core_2024=True, clock=FakeClock()) as sim:
		config = {"webhooks": [{"url": receiver.url, "events": ["message"]}]}
		assert call_json(sim, "PUT", "/api/sessions/default", {"config": config})[0] == 200
		status, answer = send_text(sim, "default", CHAT, "x")
		assert status == 404 and "Please start it first" in answer["message"]  # Core's default is STOPPED
		assert call_json(sim, "POST", "/api/sessions/default/start")[0] == 201
		sim.scan("default")
		status, answer = send_pdf(sim, "default", CHAT)
		assert status == 422 and "available only in Plus version" in answer["message"]
		assert send_text(sim, "default", CHAT, "ok")[0] == 201
		sim.inbound("default", CHAT, "from phone", from_me=True)
		sim.inbound("default", CHAT, "from customer")
		# in order: once the customer's message is here, everything queued before it was sent or dropped
		events = receiver.wait_for(lambda bs: message_events("waha", bs))
		assert [e["text"] for e in events] == ["from customer"]
		assert {b["event"] for b in receiver.bodies} == {"message"}  # no message.any, no acks
		assert events[0]["raw"]["ack"] is None
