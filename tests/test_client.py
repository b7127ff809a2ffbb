"""GatewayClient against the simulator over real loopback HTTP: every scenario, typed errors, redaction."""

from __future__ import annotations

import socket
import threading

import pytest

from whatsapp_crm.gateway import errors
from whatsapp_crm.gateway.adapters.baileys import BaileysClient
from whatsapp_crm.gateway.client import Timeouts, normalise_base_url, validate_session_id
from whatsapp_crm.gateway.status import Kind
from whatsapp_crm.simulator import BaileysSimulator, SessionOptions

from .conftest import SENTINEL_KEY


def test_create_is_idempotent(client, sim):
	first = client.create_session("alpha")
	again = client.create_session("alpha")
	assert (first.created, first.http_status) == (True, 201)
	assert (again.created, again.http_status) == (False, 409)


def test_qr_now_status_then_qr(client, sim):
	client.create_session("alpha")
	state = client.get_status("alpha")
	assert state.kind == Kind.QR and state.has_qr and state.raw_status == "qr"
	answer = client.get_qr("alpha")
	assert answer.payload.startswith("2@") and answer.http_status == 200


def test_qr_after_waits_then_appears(client, sim, clock):
	sim.set_scenario("late", "qr_after")
	client.create_session("late")
	assert client.get_status("late").kind == Kind.WAITING
	with pytest.raises(errors.QrNotReady) as e:
		client.get_qr("late")
	assert e.value.http_status == 404
	clock.t += 3.5
	assert client.get_status("late").kind == Kind.QR
	assert client.get_qr("late").payload


def test_qr_generation_error_then_qr(client, sim):
	sim.set_scenario("flaky", SessionOptions(qr_errors=2))
	client.create_session("flaky")
	for _ in range(2):
		with pytest.raises(errors.QrGenerationError) as e:
			client.get_qr("flaky")
		assert (e.value.code, e.value.http_status) == ("QR_GENERATION_ERROR", 500)
		assert e.value.server_error == "QR_GENERATION_ERROR"
		assert e.value.retryable
	assert client.get_qr("flaky").payload


def test_rotation_changes_payload(client, sim, clock):
	sim.set_scenario("rot", "qr_rotating")
	client.create_session("rot")
	first = client.get_qr("rot").payload
	clock.t += 2.5
	assert client.get_qr("rot").payload != first


def test_linked_after_scan(client, sim, clock):
	sim.set_scenario("link", "linked")
	client.create_session("link")
	client.get_qr("link")
	clock.t += 3.5
	state = client.get_status("link")
	assert state.kind == Kind.CONNECTED and state.phone == "34600111222"


def test_explicit_scan_and_delete(client, sim):
	client.create_session("s1")
	sim.scan("s1")
	assert client.get_status("s1").kind == Kind.CONNECTED
	assert client.delete_session("s1") is True
	assert client.delete_session("s1") is False
	with pytest.raises(errors.SessionNotFound):
		client.get_status("s1")


def test_unknown_session_is_session_not_found(client):
	with pytest.raises(errors.SessionNotFound) as e:
		client.get_status("never-created")
	assert e.value.http_status == 404


def test_session_lost_after_restart(client, sim):
	client.create_session("gone")
	sim.restart()
	with pytest.raises(errors.SessionNotFound):
		client.get_status("gone")
	assert client.create_session("gone").created is True
	assert client.get_status("gone").kind == Kind.QR


def test_unauthorized_scenario_and_wrong_key(client, sim):
	sim.set_scenario("nokey", "unauthorized")
	with pytest.raises(errors.Unauthorized):
		client.create_session("nokey")
	with BaileysClient(sim.url, "wrong-key") as bad:
		with pytest.raises(errors.Unauthorized) as e:
			bad.get_status("alpha")
	assert e.value.http_status == 401 and not e.value.retryable


def test_html_502_is_server_error(client, sim):
	sim.set_scenario("proxy", "html_502")
	client.create_session("proxy")
	with pytest.raises(errors.ServerError) as e:
		client.get_status("proxy")
	assert e.value.http_status == 502 and "502 Bad Gateway" in e.value.body_excerpt


def test_success_false_with_200_is_a_failure(client, sim):
	sim.set_scenario("sf", "success_false")
	client.create_session("sf")
	with pytest.raises(errors.ServerError) as e:
		client.get_status("sf")
	assert e.value.http_status == 200
	# Server text is kept apart (untrusted) and never in the exception's own summary.
	assert "<script>" in e.value.server_message
	assert "<script>" not in str(e.value)


def test_not_json_is_bad_response(client, sim):
	sim.set_scenario("nj", "not_json")
	client.create_session("nj")
	with pytest.raises(errors.BadResponse) as e:
		client.get_status("nj")
	assert not e.value.retryable


def test_huge_body_is_refused_at_the_cap(client, sim):
	sim.set_scenario("big", "huge_body")
	client.create_session("big")
	with pytest.raises(errors.BadResponse, match="cap"):
		client.get_status("big")
	# the connection pool is still usable afterwards
	client.create_session("fine")
	assert client.get_status("fine").kind == Kind.QR


def test_huge_body_without_content_length_is_capped_while_reading():
	"""A body streamed with no Content-Length is cut off at the cap, not read whole."""
	srv = socket.socket()
	srv.bind(("127.0.0.1", 0))
	srv.listen(1)
	port = srv.getsockname()[1]
	sent = []

	def serve():
		conn, _ = srv.accept()
		conn.recv(65536)
		conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
		try:
			for _ in range(512):  # up to 32 MB, far more than loopback socket buffers absorb
				conn.sendall(b"{" + b" " * 65535)
				sent.append(1)
		except OSError:
			pass
		conn.close()

	t = threading.Thread(target=serve, daemon=True)
	t.start()
	with BaileysClient(f"http://127.0.0.1:{port}", SENTINEL_KEY, Timeouts(1, 2)) as c:
		with pytest.raises(errors.BadResponse, match="cap"):
			c.get_status("x")
	t.join(5)
	srv.close()
	assert len(sent) < 512


def test_hang_times_out_with_typed_error(sim):
	sim.set_scenario("hung", "hang")
	with BaileysClient(sim.url, SENTINEL_KEY, Timeouts(connect=1.0, read=0.3)) as c:
		with pytest.raises(errors.GatewayTimeout) as e:
			c.get_status("hung")
	assert e.value.code == "TIMEOUT" and e.value.retryable


def test_per_call_timeout_only_shortens():
	t = Timeouts(connect=3, read=10)
	assert t.clipped(None) == (3, 10)
	assert t.clipped(1.5) == (1.5, 1.5)
	assert t.clipped(60) == (3, 10)


def test_unreachable():
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	port = s.getsockname()[1]
	s.close()  # nothing listens there now
	with BaileysClient(f"http://127.0.0.1:{port}", SENTINEL_KEY) as c:
		with pytest.raises(errors.Unreachable) as e:
			c.get_status("x")
	assert e.value.code == "UNREACHABLE"


@pytest.mark.parametrize("bad", ["a/b", "../etc", "", "x" * 65, "spa ce", "é", "a%2Fb", None, 5])
def test_bad_ids_are_refused_before_any_request(client, sim, bad):
	before = sim.count()
	with pytest.raises(errors.InvalidSessionId):
		client.get_status(bad)
	with pytest.raises(ValueError):  # also a ValueError, for callers outside the gateway layer
		client.create_session(bad)
	assert sim.count() == before


def test_ids_are_percent_encoded_paths(sim, client):
	assert validate_session_id("A_b-9") == "A_b-9"
	client.create_session("A_b-9")
	assert sim.requests[-1]["session_id"] == "A_b-9"


@pytest.mark.parametrize(
	"url,reason",
	[
		("", "missing_url"),
		("baileys:3000", "bad_url"),
		("ftp://host", "bad_url"),
		("http://user:pass@host", "credentials_in_url"),
		("http://host/?token=1", "bad_url"),
		("http://host:99999", "bad_url"),
		("http://ho st", "bad_url"),
	],
)
def test_bad_urls(url, reason):
	with pytest.raises(errors.NotConfigured) as e:
		BaileysClient(url, "k")
	assert e.value.reason == reason


def test_url_normalised_and_key_required():
	assert (
		normalise_base_url(" https://gw.example.com:8443/baileys/ ") == "https://gw.example.com:8443/baileys"
	)
	with pytest.raises(errors.NotConfigured) as e:
		BaileysClient("http://h", "  ")
	assert e.value.reason == "missing_key"


def test_health_reports_reachability_key_and_identity(sim):
	with BaileysClient(sim.url, SENTINEL_KEY) as good:
		h = good.health()
	assert h.reachable and h.key_accepted is True and h.name == "whatsapp-crm-simulator"
	with BaileysClient(sim.url, "wrong") as bad:
		h = bad.health()
	assert h.reachable and h.key_accepted is False and h.error.code == "UNAUTHORIZED"
	with BaileysClient("http://127.0.0.1:9", "k", Timeouts(0.5, 0.5)) as down:
		h = down.health()
	assert not h.reachable and h.key_accepted is None


def test_key_never_leaks(sim):
	"""The key is only a header: absent from reprs, exception texts, excerpts and debug dicts."""
	sim.set_scenario("leak", "success_false")
	with BaileysClient(sim.url, SENTINEL_KEY, Timeouts(1, 1)) as c:
		assert SENTINEL_KEY not in repr(c)
		c.create_session("leak")
		seen = []
		for call in (lambda: c.get_status("leak"), lambda: c.get_status("nope"), lambda: c.get_qr("nope")):
			with pytest.raises(errors.GatewayError) as e:
				call()
			seen += [str(e.value), repr(e.value), repr(e.value.as_dict())]
	assert seen and all(SENTINEL_KEY not in s for s in seen)


def test_a_server_echoing_the_key_is_redacted():
	srv = socket.socket()
	srv.bind(("127.0.0.1", 0))
	srv.listen(1)
	port = srv.getsockname()[1]

	def serve():
		conn, _ = srv.accept()
		request = conn.recv(65536)
		body = b'{"success": false, "message": "bad request: ' + request.replace(b"\r\n", b" ")[:300] + b'"}'
		conn.sendall(
			b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
		)
		conn.close()

	threading.Thread(target=serve, daemon=True).start()
	with BaileysClient(f"http://127.0.0.1:{port}", SENTINEL_KEY) as c:
		with pytest.raises(errors.ServerError) as e:
			c.get_status("x")
	srv.close()
	assert "X-API-Key" in e.value.body_excerpt and SENTINEL_KEY not in e.value.body_excerpt
	assert "X-API-Key" in e.value.server_message and SENTINEL_KEY not in e.value.server_message
