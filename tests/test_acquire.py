"""acquire_qr(): the §4 policy, checked with a fake clock shared with the simulator (no real waiting),
plus one real-time deadline check against a hanging gateway."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from whatsapp_crm.gateway import errors
from whatsapp_crm.gateway.acquire import QrPolicy, acquire_qr, build_payload, outcome_from_error
from whatsapp_crm.gateway.adapters.baileys import BaileysClient
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.simulator import SessionOptions

from .conftest import SENTINEL_KEY

PAYLOAD_KEYS = {
	"success",
	"message",
	"session_db_id",
	"session_id",
	"status",
	"qr_available",
	"qr_code",
	"qr_error",
	"keep_polling",
	"poll_after_ms",
	"debug",
}
DEBUG_KEYS = {
	"qr_attempts",
	"qr_error",
	"elapsed_ms",
	"last_http_status",
	"gateway_status",
	"has_qr",
	"attempts",
}


def run(client, clock, session_id, policy=None, **kw):
	return acquire_qr(client, session_id, policy or QrPolicy(), clock=clock.now, sleep=clock.sleep, **kw)


def test_qr_at_once_is_one_attempt_two_requests(client, sim, clock):
	client.create_session("now")
	sim.reset_log()
	out = run(client, clock, "now")
	assert out.state == "qr" and out.qr_code.startswith("data:image/svg+xml;base64,")
	assert [a.outcome for a in out.attempts] == ["qr"]
	assert clock.sleeps == []
	assert sim.count(endpoint="status") == 1 and sim.count(endpoint="qr") == 1


def test_status_is_checked_before_the_qr(client, sim, clock):
	sim.set_scenario("late", SessionOptions(qr_after_s=100))
	client.create_session("late")
	sim.reset_log()
	out = run(client, clock, "late")
	assert sim.count(endpoint="qr") == 0  # never asked for a QR the status said was not there
	assert out.state == "waiting" and out.error_code == "QR_NOT_READY"


def test_progressive_waits_when_not_ready(client, sim, clock):
	sim.set_scenario("late", SessionOptions(qr_after_s=100))
	client.create_session("late")
	out = run(client, clock, "late", QrPolicy(deadline=60))
	assert len(out.attempts) == 5
	assert clock.sleeps == [2, 3, 4, 5]
	assert [a.wait_s for a in out.attempts] == [2, 3, 4, 5, None]


def test_waits_are_capped_at_the_max(client, sim, clock):
	sim.set_scenario("late", SessionOptions(qr_after_s=100))
	client.create_session("late")
	run(client, clock, "late", QrPolicy(deadline=100, max_attempts=7))
	assert clock.sleeps == [2, 3, 4, 5, 5, 5]


def test_qr_appears_on_third_attempt(client, sim, clock):
	sim.set_scenario("mid", SessionOptions(qr_after_s=4))
	client.create_session("mid")
	out = run(client, clock, "mid")
	assert out.state == "qr"
	assert [a.outcome for a in out.attempts] == ["QR_NOT_READY", "QR_NOT_READY", "qr"]
	assert clock.sleeps == [2, 3]


def test_qr_generation_error_waits_5s_then_succeeds(client, sim, clock):
	sim.set_scenario("flaky", SessionOptions(qr_errors=2))
	client.create_session("flaky")
	seen = []
	out = run(client, clock, "flaky", on_attempt=seen.append)
	assert out.state == "qr" and out.error is None
	assert [a.outcome for a in out.attempts] == ["QR_GENERATION_ERROR", "QR_GENERATION_ERROR", "qr"]
	assert clock.sleeps == [5, 5]
	assert out.qr_generation_errors == 2
	assert [a.number for a in seen] == [1, 2, 3]  # callback fires once per attempt, last one included


def test_generation_error_every_time_reports_it(client, sim, clock):
	sim.set_scenario("broken", SessionOptions(qr_errors=99))
	client.create_session("broken")
	out = run(client, clock, "broken")
	payload = build_payload(out)
	assert payload["qr_error"] == "QR_GENERATION_ERROR" and payload["keep_polling"] is True
	assert payload["status"] == "Connecting" and payload["poll_after_ms"] == 5000
	assert payload["debug"]["last_http_status"] == 500
	# 20 s deadline: 4 tries fit with 5 s waits (0, 5, 10, 15); the 5th wait is clipped by the deadline
	assert sum(clock.sleeps) <= 20


def test_unauthorized_stops_at_once(client, sim, clock):
	with BaileysClient(sim.url, "wrong", Timeouts(1, 1)) as bad:
		out = run(bad, clock, "x")
	assert len(out.attempts) == 1 and clock.sleeps == []
	p = build_payload(out)
	assert (p["success"], p["status"], p["qr_error"], p["keep_polling"]) == (
		False,
		"Failed",
		"UNAUTHORIZED",
		False,
	)


def test_session_ended_stops_at_once(clock):
	"""A gateway that says the session was logged out: no retry, Disconnected, stop polling."""

	class Ended(BaseHTTPRequestHandler):
		def do_GET(self):
			body = b'{"success": true, "status": "logged_out", "hasQR": false}'
			self.send_response(200)
			self.send_header("Content-Length", str(len(body)))
			self.end_headers()
			self.wfile.write(body)

		def log_message(self, *a):
			pass

	server = HTTPServer(("127.0.0.1", 0), Ended)
	threading.Thread(target=server.serve_forever, daemon=True).start()
	try:
		with BaileysClient(f"http://127.0.0.1:{server.server_port}", SENTINEL_KEY) as c:
			out = run(c, clock, "bye")
	finally:
		server.shutdown()
		server.server_close()
	p = build_payload(out)
	assert len(out.attempts) == 1 and clock.sleeps == []
	assert (p["status"], p["qr_error"], p["keep_polling"]) == ("Disconnected", "SESSION_ENDED", False)
	assert p["debug"]["gateway_status"] == "logged_out"


def test_connected_stops_polling(client, sim, clock):
	client.create_session("done")
	sim.scan("done", phone="34999")
	p = build_payload(run(client, clock, "done"))
	assert (p["status"], p["keep_polling"], p["qr_code"], p["success"]) == ("Connected", False, "", True)


def test_session_lost_is_recreated_once(client, sim, clock):
	client.create_session("lost")
	sim.restart()
	out = run(client, clock, "lost")
	assert out.recreated and out.state == "qr"
	assert [a.outcome for a in out.attempts] == ["recreated", "qr"]


def test_session_lost_without_recreate_is_a_hard_failure(client, sim, clock):
	out = run(client, clock, "never", recreate_missing=False)
	p = build_payload(out)
	assert (p["status"], p["qr_error"], p["keep_polling"]) == ("Failed", "SESSION_NOT_FOUND", False)


@pytest.mark.parametrize(
	"scenario,code,retried",
	[
		("html_502", "SERVER_ERROR", True),
		("success_false", "SERVER_ERROR", True),
		("not_json", "BAD_RESPONSE", False),
		("huge_body", "BAD_RESPONSE", False),
	],
)
def test_faulty_answers(client, sim, clock, scenario, code, retried):
	sid = f"f-{scenario.replace('_', '-')}"
	sim.set_scenario(sid, scenario)
	client.create_session(sid)
	out = run(client, clock, sid)
	assert out.error_code == code
	assert (len(out.attempts) > 1) is retried
	if retried:
		assert set(clock.sleeps) == {3}
	p = build_payload(out)
	assert p["keep_polling"] is retried and p["success"] is False


def test_hang_with_fake_clock_respects_attempts_and_waits(sim, clock):
	sim.set_scenario("hung", "hang")
	with BaileysClient(sim.url, SENTINEL_KEY, Timeouts(0.5, 0.2)) as c:
		out = run(c, clock, "hung", QrPolicy(status_timeout=0.2))
	assert [a.outcome for a in out.attempts] == ["TIMEOUT"] * 5
	assert clock.sleeps == [3, 3, 3, 3]


def test_deadline_clips_waits(client, sim, clock):
	sim.set_scenario("late", SessionOptions(qr_after_s=100))
	client.create_session("late")
	out = run(client, clock, "late", QrPolicy(deadline=6))
	assert sum(clock.sleeps) <= 6 - 0.25 + 1e-9
	assert clock.sleeps[:1] == [2]
	assert out.elapsed_ms <= 6000


def test_real_deadline_with_a_hanging_gateway(real_sim):
	"""Real time: a 1.5 s deadline against a gateway that never answers returns promptly (no timing
	assertion against noise: the bound is 5 x 10 s timeouts the policy would otherwise allow)."""
	real_sim.set_scenario("hung", "hang")
	with BaileysClient(real_sim.url, SENTINEL_KEY) as c:
		started = time.monotonic()
		out = acquire_qr(c, "hung", QrPolicy(deadline=1.5))
		took = time.monotonic() - started
	assert out.error_code == "TIMEOUT" and out.state == "waiting"
	assert took < 10  # one un-clipped status timeout alone would be 10 s
	assert out.attempts[0].outcome == "TIMEOUT"


def test_payload_shape_is_exact(client, sim, clock):
	client.create_session("shape")
	p = build_payload(run(client, clock, "shape"), message="hola", session_db_id="WAS-1")
	assert set(p) == PAYLOAD_KEYS
	assert DEBUG_KEYS <= set(p["debug"])
	assert (p["message"], p["session_db_id"], p["session_id"]) == ("hola", "WAS-1", "shape")
	assert (p["success"], p["status"], p["qr_available"], p["qr_error"]) == (True, "QR Ready", True, None)
	assert p["debug"]["attempts"][0]["outcome"] == "qr"
	json.dumps(p)  # serialisable as is


def test_key_absent_from_payloads(sim, clock):
	for scenario in ("success_false", "html_502", "qr_now"):
		sim.set_scenario(f"k-{scenario.replace('_', '-')}", scenario)
	with BaileysClient(sim.url, SENTINEL_KEY, Timeouts(1, 1)) as c:
		dumps = []
		for scenario in ("success_false", "html_502", "qr_now"):
			sid = f"k-{scenario.replace('_', '-')}"
			c.create_session(sid)
			dumps.append(json.dumps(build_payload(run(c, clock, sid))))
	with BaileysClient(sim.url, "wrong", Timeouts(1, 1)) as bad:
		dumps.append(json.dumps(build_payload(run(bad, clock, "x"))))
	assert all(SENTINEL_KEY not in d for d in dumps)


def test_outcome_from_error_classifies():
	assert build_payload(outcome_from_error("a", errors.Unauthorized()))["status"] == "Failed"
	timeout = build_payload(outcome_from_error("a", errors.GatewayTimeout()))
	assert (timeout["status"], timeout["keep_polling"], timeout["success"]) == ("Connecting", True, False)
