"""Pairing codes (linking by typing a code on the phone): request_pairing_code over real loopback HTTP."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from whatsapp_crm.gateway import errors
from whatsapp_crm.gateway.adapters.baileys import BaileysClient
from whatsapp_crm.gateway.client import GatewayClient, Timeouts
from whatsapp_crm.simulator import BaileysSimulator, pairing_code

from .conftest import SENTINEL_KEY


def test_happy_path(client: GatewayClient, sim: BaileysSimulator) -> None:
	client.create_session("pair")
	code = client.request_pairing_code("pair", "+34 (600) 111-222")
	assert code == pairing_code("pair", "34600111222", 1)
	assert len(code) == 8 and code.isalnum() and code == code.upper()
	entry = sim.requests[-1]
	assert (entry["method"], entry["endpoint"], entry["session_id"], entry["status"]) == (
		"POST",
		"pairing",
		"pair",
		200,
	)
	# a second request is a new code
	assert client.request_pairing_code("pair", "34600111222") == pairing_code("pair", "34600111222", 2)


@pytest.mark.parametrize(
	"phone",
	[
		"",
		"1234567",
		"1" * 16,
		"34 600 111 22a",
		"++34600111222",
		"34.600.111.222",
		"٣٤٦٠٠١١١٢٢٢",
		None,
		34600111222,
	],
)
def test_invalid_phones_refused_before_any_request(
	client: GatewayClient, sim: BaileysSimulator, phone: Any
) -> None:
	client.create_session("pair")
	before = sim.count()
	with pytest.raises(errors.InvalidPhone) as e:
		client.request_pairing_code("pair", phone)
	assert isinstance(e.value, ValueError) and e.value.code == "INVALID_PHONE"
	assert sim.count() == before
	if isinstance(phone, str) and phone:
		assert phone not in str(e.value)  # personal data stays out of logs


def test_phone_edges_accepted(client: GatewayClient, sim: BaileysSimulator) -> None:
	client.create_session("pair")
	for phone in ("12345678", "1" * 15, "+1 (234) 567-89"):
		assert len(client.request_pairing_code("pair", phone)) == 8


def test_bad_session_id_refused_before_any_request(client: GatewayClient, sim: BaileysSimulator) -> None:
	before = sim.count()
	with pytest.raises(errors.InvalidSessionId):
		client.request_pairing_code("a/b", "34600111222")
	assert sim.count() == before


def test_already_connected_is_409(client: GatewayClient, sim: BaileysSimulator) -> None:
	client.create_session("linked")
	sim.scan("linked")
	with pytest.raises(errors.BadResponse) as e:
		client.request_pairing_code("linked", "34600111222")
	assert (e.value.http_status, e.value.server_error) == (409, "ALREADY_CONNECTED")


def test_unknown_session_is_session_not_found(client: GatewayClient) -> None:
	with pytest.raises(errors.SessionNotFound) as e:
		client.request_pairing_code("ghost", "34600111222")
	assert e.value.http_status == 404


def test_unauthorized(sim: BaileysSimulator) -> None:
	with BaileysClient(sim.url, "wrong-key", Timeouts(1, 2)) as bad:
		with pytest.raises(errors.Unauthorized):
			bad.request_pairing_code("any", "34600111222")
	sim.set_scenario("locked", "unauthorized")
	with BaileysClient(sim.url, SENTINEL_KEY, Timeouts(1, 2)) as good:
		with pytest.raises(errors.Unauthorized) as e:
			good.request_pairing_code("locked", "34600111222")
	assert SENTINEL_KEY not in str(e.value) + repr(e.value.as_dict())


def test_faults_apply(client: GatewayClient, sim: BaileysSimulator) -> None:
	for sid, error in (("p--html_502", errors.ServerError), ("p--success_false", errors.ServerError)):
		client.create_session(sid)
		with pytest.raises(error):
			client.request_pairing_code(sid, "34600111222")
	with BaileysClient(sim.url, SENTINEL_KEY, Timeouts(1, 0.3)) as impatient:
		with pytest.raises(errors.GatewayTimeout):
			impatient.request_pairing_code("p--hang", "34600111222")


# -- answers from a gateway other than the simulator --


class _Server(ThreadingHTTPServer):
	daemon_threads = True

	def server_bind(self) -> None:
		# HTTPServer.server_bind does a reverse DNS lookup that can take seconds in a sandbox.
		socketserver.TCPServer.server_bind(self)
		self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])


class FixedGateway:
	"""Answers every request with `answer`, and remembers the JSON bodies it was sent."""

	def __init__(self) -> None:
		self.answer: tuple[int, dict[str, Any]] = (200, {"success": True})
		self.bodies: list[Any] = []
		outer = self

		class Handler(BaseHTTPRequestHandler):
			def do_POST(self) -> None:
				outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
				status, payload = outer.answer
				data = json.dumps(payload).encode()
				self.send_response(status)
				self.send_header("Content-Type", "application/json")
				self.send_header("Content-Length", str(len(data)))
				self.end_headers()
				self.wfile.write(data)

			def log_message(self, format: str, *args: Any) -> None:
				pass

		self.server = _Server(("127.0.0.1", 0), Handler)
		self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
		self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
		self.thread.start()

	def close(self) -> None:
		self.server.shutdown()
		self.server.server_close()
		self.thread.join(5)


@pytest.fixture
def fixed() -> Iterator[tuple[FixedGateway, GatewayClient]]:
	gw = FixedGateway()
	with BaileysClient(gw.url, SENTINEL_KEY, Timeouts(1, 2)) as c:
		yield gw, c
	gw.close()


@pytest.mark.parametrize(
	"body",
	[
		{"success": True, "code": "12"},
		{"success": True},
		{"success": True, "code": "ABCD-EFG"},
		{"success": True, "code": "ABCDEFGHI"},
		{"success": True, "code": "ABCD_EFGH"},
		{"success": True, "code": "AB-CD-EF-GH"},
		{"success": True, "code": 12345678},
		{"success": True, "code": "<b>ABCD</b>"},
	],
)
def test_bad_code_is_bad_response(fixed: tuple[FixedGateway, GatewayClient], body: dict[str, Any]) -> None:
	gw, c = fixed
	gw.answer = (200, body)
	with pytest.raises(errors.BadResponse) as e:
		c.request_pairing_code("x", "34600111222")
	assert e.value.http_status == 200 and e.value.path == "/api/sessions/x/pairing-code"


@pytest.mark.parametrize(
	"body,code",
	[
		({"success": True, "code": "abcd-efgh"}, "ABCDEFGH"),
		({"success": True, "pairingCode": "WXYZ1234"}, "WXYZ1234"),
		({"success": True, "pairing_code": " 1234-ABCD "}, "1234ABCD"),
		({"success": True, "code": 5, "pairingCode": "Q1W2E3R4"}, "Q1W2E3R4"),
	],
)
def test_code_field_variants(
	fixed: tuple[FixedGateway, GatewayClient], body: dict[str, Any], code: str
) -> None:
	gw, c = fixed
	gw.answer = (200, body)
	assert c.request_pairing_code("x", "+34 600-111-222") == code
	assert gw.bodies == [{"phoneNumber": "34600111222"}]  # digits only on the wire


def test_gateway_refusing_the_phone_is_invalid_phone(fixed: tuple[FixedGateway, GatewayClient]) -> None:
	gw, c = fixed
	gw.answer = (400, {"success": False, "error": "INVALID_PHONE", "message": "bad number"})
	with pytest.raises(errors.InvalidPhone) as e:
		c.request_pairing_code("x", "34600111222")
	assert (e.value.http_status, e.value.server_error, e.value.server_message) == (
		400,
		"INVALID_PHONE",
		"bad number",
	)
	gw.answer = (400, {"success": False, "error": "SOMETHING_ELSE"})
	with pytest.raises(errors.BadResponse) as e2:
		c.request_pairing_code("x", "34600111222")
	assert not isinstance(e2.value, errors.InvalidPhone)
