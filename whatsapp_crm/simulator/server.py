"""HTTP plumbing shared by every simulated gateway: a threaded loopback server whose connections stop() can
drop at once, and a handler that logs each answer and writes JSON, bytes, huge or trickling bodies.

The wire format (error bodies, content type) is the simulator's: the handler asks it.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
	from .core import BaseSimulator

MAX_BODY = 64 * 1024
CHUNK = 64 * 1024
TRICKLE_EVERY_S = 2.0  # one body byte this often: slow enough that only a whole-answer deadline catches it
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)

# The reason phrases the real gateways send (Node's http.STATUS_CODES), fixed here: Python's own change between
# versions (3.13 renamed 413 and 422), and a simulator must answer as the gateway does on every Python.
PHRASES = {
	200: "OK",
	201: "Created",
	204: "No Content",
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	408: "Request Timeout",
	409: "Conflict",
	413: "Payload Too Large",
	415: "Unsupported Media Type",
	422: "Unprocessable Entity",
	429: "Too Many Requests",
	500: "Internal Server Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Unavailable",
	504: "Gateway Timeout",
}


def phrase(status: int) -> str:
	return PHRASES.get(status) or HTTPStatus(status).phrase


class Server(ThreadingHTTPServer):
	daemon_threads = True
	allow_reuse_address = True
	request_queue_size = 128  # benchmarks open many connections at once

	def __init__(self, address: tuple[str, int], simulator: BaseSimulator) -> None:
		self.simulator = simulator
		self.stopping = threading.Event()
		self._conns: set[socket.socket] = set()
		self._conns_lock = threading.Lock()
		super().__init__(address, Handler)

	def server_bind(self) -> None:
		# HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can take seconds in a sandbox.
		socketserver.TCPServer.server_bind(self)
		host, port = self.server_address[:2]
		self.server_name, self.server_port = str(host), int(port)

	def track(self, conn: socket.socket, add: bool) -> None:
		with self._conns_lock:
			if add:
				self._conns.add(conn)
			else:
				self._conns.discard(conn)

	def drop_connections(self) -> None:
		# Idle keep-alive threads would otherwise linger, still answering on reused client connections.
		with self._conns_lock:
			conns = list(self._conns)
		for conn in conns:
			try:
				conn.shutdown(socket.SHUT_RDWR)
			except OSError:
				pass

	def handle_error(self, request: Any, client_address: Any) -> None:
		# Quiet about clients hanging up (huge bodies, timeouts, stop()); loud about real simulator bugs.
		if not isinstance(sys.exc_info()[1], OSError):
			super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"
	server_version = "whatsapp-crm-simulator/1.0"
	sys_version = ""
	disable_nagle_algorithm = True  # headers and body go out in two writes; avoid 40 ms delayed-ACK stalls
	timeout = 60  # idle keep-alive connections do not live forever
	server: Server
	_entry: dict[str, Any] | None = None  # this request's line in the simulator's log

	def setup(self) -> None:
		super().setup()
		self.server.track(self.connection, True)

	def finish(self) -> None:
		self.server.track(self.connection, False)
		try:
			super().finish()
		except OSError:
			pass

	def log_message(self, format: str, *args: Any) -> None:
		pass

	def version_string(self) -> str:
		return self.server_version

	def do_GET(self) -> None:
		self._dispatch("GET")

	def do_POST(self) -> None:
		self._dispatch("POST")

	def do_DELETE(self) -> None:
		self._dispatch("DELETE")

	def do_PUT(self) -> None:
		self._dispatch("PUT")

	def do_PATCH(self) -> None:
		self._dispatch("PATCH")

	def _dispatch(self, method: str) -> None:
		self._entry = None
		if self.server.stopping.is_set():
			# Accepted in the instant stop() ran: do not keep serving from a stopped simulator.
			self.close_connection = True
			return
		try:
			self.server.simulator._handle(self, method)
		except CLIENT_GONE:
			self.close_connection = True

	# -- answers --

	def _head(
		self,
		status: int,
		content_type: str | None,
		length: int,
		close: bool = False,
		headers: dict[str, str] | None = None,
	) -> None:
		self.server.simulator._log_status(self, status)
		self.send_response(status, phrase(status))
		if content_type is not None:
			self.send_header("Content-Type", content_type)
		for name, value in (headers or {}).items():
			self.send_header(name, value)
		self.send_header("Content-Length", str(length))
		if close:
			self.send_header("Connection", "close")
			self.close_connection = True
		self.end_headers()

	def send_bytes(
		self,
		status: int,
		body: bytes,
		content_type: str | None,
		close: bool = False,
		headers: dict[str, str] | None = None,
	) -> None:
		self._head(status, content_type, len(body), close, headers)
		self.wfile.write(body)

	def send_json(self, status: int, payload: Any, close: bool = False) -> None:
		body = json.dumps(payload).encode("utf-8")
		self.send_bytes(status, body, self.server.simulator.json_content_type, close)

	def send_huge(self, payload: dict[str, Any], size: int) -> None:
		# A valid JSON object padded to `size` bytes, streamed so the simulator never holds it in memory.
		head = json.dumps(payload)[:-1].encode("utf-8") + b', "padding": "'
		tail = b'"}'
		pad = max(0, size - len(head) - len(tail))
		self._head(200, self.server.simulator.json_content_type, len(head) + pad + len(tail))
		try:
			self.wfile.write(head)
			block = b"x" * CHUNK
			while pad > 0:
				n = min(pad, CHUNK)
				self.wfile.write(block[:n])
				pad -= n
			self.wfile.write(tail)
		except CLIENT_GONE:
			self.close_connection = True  # the client gave up early, as a careful one should

	def send_trickle(self, body: bytes) -> None:
		"""Status line and headers at once, then one body byte every TRICKLE_EVERY_S until stop().

		A per-read socket timeout never fires on this; only a deadline for the whole answer does.
		"""
		self._head(200, self.server.simulator.json_content_type, len(body))
		stopping = self.server.stopping
		for i in range(len(body)):
			self.wfile.write(body[i : i + 1])
			if i + 1 < len(body) and stopping.wait(TRICKLE_EVERY_S):
				self.close_connection = True  # shutting down: the body stays unfinished
				return

	def read_body(self, limit: int = MAX_BODY) -> bytes | None:
		"""The whole request body (keep-alive needs it consumed), or None after answering an error.

		`limit`: the largest body read; only the send routes (base64 media) raise it.
		"""
		sim = self.server.simulator
		if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
			self.send_json(411, sim._body_error(411, "LENGTH_REQUIRED"), close=True)
			return None
		raw = self.headers.get("Content-Length", "0").strip() or "0"
		try:
			length = int(raw)
			if length < 0:
				raise ValueError
		except ValueError:
			self.send_json(400, sim._body_error(400, "BAD_REQUEST"), close=True)
			return None
		if length > limit:
			# Not reading it: the connection is closed instead, so its bytes cannot be taken for a request.
			self.send_json(413, sim._body_error(413, "PAYLOAD_TOO_LARGE"), close=True)
			return None
		body = self.rfile.read(length) if length else b""
		if len(body) < length:
			self.close_connection = True
			return None
		return body

	def hang_up(self) -> None:
		self.close_connection = True
