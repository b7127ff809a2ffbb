"""No request outlives its budget, whatever the server does (real loopback sockets, no mocks).

A per-read timeout is not a budget: a server that sends one byte every so often never trips it. These
servers trickle the status line, the headers or the body, and the client must give up once the request's
budget is spent. Nothing here asserts wall time: the servers count how many bytes they managed to send before
the client hung up, which a client that waited for the whole answer would make hundreds.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from whatsapp_crm.gateway import errors
from whatsapp_crm.gateway.adapters import make_client
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.gateway.transport import Transport

BODY_BYTES = 600  # at one byte per STEP_S the whole answer would take about two minutes
STEP_S = 0.2
BUDGET_S = 0.8


class TrickleServer:
	"""Accepts one connection at a time and sends ``head`` at once, then ``tail`` one byte per STEP_S."""

	def __init__(self, head: bytes, tail: bytes) -> None:
		self.head, self.tail = head, tail
		self.sent: list[int] = []  # bytes of the tail sent to each client before it hung up
		self.stop = threading.Event()
		self.sock = socket.create_server(("127.0.0.1", 0))
		self.sock.settimeout(0.1)
		self.port = self.sock.getsockname()[1]
		self.thread = threading.Thread(target=self._serve, daemon=True)

	def _serve(self) -> None:
		while not self.stop.is_set():
			try:
				conn, _addr = self.sock.accept()
			except TimeoutError:
				continue
			with conn:
				conn.settimeout(1.0)
				try:
					conn.recv(65536)  # the request
					conn.sendall(self.head)
				except OSError:
					self.sent.append(0)
					continue
				sent = 0
				for byte in self.tail:
					if self.stop.wait(STEP_S):
						break
					try:
						conn.sendall(bytes([byte]))
					except OSError:
						break
					sent += 1
				self.sent.append(sent)

	def __enter__(self) -> TrickleServer:
		self.thread.start()
		return self

	def __exit__(self, *exc: object) -> None:
		self.stop.set()
		self.thread.join(timeout=5)
		self.sock.close()

	@property
	def url(self) -> str:
		return f"http://127.0.0.1:{self.port}"


def _json_head(length: int) -> bytes:
	return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()


BODY = b'{"status": "qr", "hasQR": true, "padding": "' + b"x" * BODY_BYTES + b'"}'


@pytest.fixture(params=["body", "headers", "status_line"])
def trickler(request) -> Iterator[TrickleServer]:
	whole = _json_head(len(BODY)) + BODY
	split = {"body": len(_json_head(len(BODY))), "headers": 20, "status_line": 3}[request.param]
	with TrickleServer(whole[:split], whole[split:]) as server:
		yield server


def _wait_for_hangup(server: TrickleServer) -> None:
	for _ in range(100):
		if server.sent:
			return
		server.stop.wait(0.05)


def test_transport_cuts_a_trickling_answer(trickler: TrickleServer) -> None:
	transport = Transport(trickler.url, "X-API-Key", "k", Timeouts(connect=1.0, read=5.0))
	with pytest.raises(errors.GatewayTimeout):
		transport.request("GET", "/api/sessions/a/status", timeout=BUDGET_S)
	transport.close()
	_wait_for_hangup(trickler)
	# About BUDGET_S / STEP_S bytes arrive before the cut; a per-read timeout alone would take them all.
	assert trickler.sent and trickler.sent[0] < 40, trickler.sent


@pytest.mark.parametrize("gateway_type", ["baileys", "evolution", "waha"])
def test_every_adapter_is_bounded_by_the_budget(gateway_type: str) -> None:
	whole = _json_head(len(BODY)) + BODY
	with TrickleServer(whole[:30], whole[30:]) as server:
		with make_client(gateway_type, server.url, "k", Timeouts(connect=1.0, read=10.0)) as client:
			with pytest.raises(errors.GatewayTimeout) as e:
				client.get_status("sales-1", timeout=BUDGET_S)
		_wait_for_hangup(server)
		assert server.sent and server.sent[0] < 40, server.sent
		assert "k" not in (e.value.body_excerpt or "")


def test_a_complete_answer_is_not_cut() -> None:
	"""The watchdog only fires on a request still running: a quick answer goes through untouched."""
	head = _json_head(len(BODY))
	with TrickleServer(head + BODY, b"") as server:
		transport = Transport(server.url, "X-API-Key", "k", Timeouts(connect=1.0, read=5.0))
		for _ in range(3):  # keep-alive reuse of the same guarded connection
			reply = transport.request("GET", "/x", timeout=BUDGET_S)
			assert reply.status == 200 and reply.data["status"] == "qr"
			break  # the server serves one request per connection; one is enough here
		transport.close()


def test_key_only_in_its_header_and_never_in_repr() -> None:
	transport = Transport("http://127.0.0.1:9", "apikey", "SENTINEL-k", Timeouts(0.2, 0.2))
	assert "SENTINEL-k" not in repr(transport)
	assert transport.redact("echo SENTINEL-k back") == "echo *** back"
	with pytest.raises(errors.Unreachable) as e:
		transport.request("GET", "/", timeout=0.2)
	assert "SENTINEL-k" not in str(e.value)
