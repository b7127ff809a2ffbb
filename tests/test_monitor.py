"""The monitor loop against the simulator over loopback, on a fake clock shared with the simulator."""

from __future__ import annotations

from whatsapp_crm.gateway.acquire import QrPolicy
from whatsapp_crm.gateway.adapters.baileys import BaileysClient
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.gateway.monitor import MonitorPolicy, Watch, lost_reason, read_once, step, watch
from whatsapp_crm.simulator import SessionOptions

from .conftest import SENTINEL_KEY


def run(client, clock, sid, policy=None, **kw):
	changes = []
	reason = watch(
		client,
		sid,
		QrPolicy(),
		policy or MonitorPolicy(),
		on_change=changes.append,
		clock=clock.now,
		sleep=clock.sleep,
		**kw,
	)
	return reason, changes


def test_waits_for_qr_then_follows_rotation_until_linked(client, sim, clock):
	sim.set_scenario("m1", SessionOptions(qr_after_s=3, rotate_s=20, scan_after_s=45))
	client.create_session("m1")
	sim.reset_log()
	reason, changes = run(client, clock, "m1")
	assert reason == "connected"
	states = [c.doc_status for c in changes]
	assert states[0] == "Connecting" and states[-1] == "Connected"
	qrs = [c.qr_payload for c in changes if c.state == "qr"]
	assert len(qrs) >= 3 and len(set(qrs)) == len(qrs)  # one change per rotation, none repeated
	# write-on-change: far fewer changes than gateway reads
	assert len(changes) < sim.count(endpoint="status")


def test_nothing_changes_nothing_reported(client, sim, clock):
	sim.set_scenario("m2", SessionOptions(qr_after_s=999))
	client.create_session("m2")
	reason, changes = run(client, clock, "m2", MonitorPolicy(cap_s=60))
	assert reason == "cap"
	assert len(changes) == 1 and changes[0].error_code == "QR_NOT_READY"
	assert clock.t - 1000 <= 60 + 1e-6


def test_qr_lifetime_over(client, sim, clock):
	sim.set_scenario("m3", SessionOptions(rotate_s=0))  # one QR that never rotates: the gateway gave up
	client.create_session("m3")
	reason, _ = run(client, clock, "m3", MonitorPolicy(cap_s=600))
	assert reason == "qr_expired"
	assert 70 <= clock.t - 1000 <= 75  # first QR lifetime 60 s + 10 s grace, at poll resolution


def test_later_qrs_have_the_shorter_lifetime(client, sim, clock):
	sim.set_scenario("m4", SessionOptions(rotate_s=20))
	client.create_session("m4")
	reason, changes = run(client, clock, "m4", MonitorPolicy(cap_s=100))
	assert reason == "cap"  # rotating every 20 s keeps it alive
	assert len([c for c in changes if c.state == "qr"]) >= 5


def test_ended_and_failed_stop_at_once(sim, clock):
	with BaileysClient(sim.url, "wrong", Timeouts(1, 1)) as bad:
		reason, changes = run(bad, clock, "m5")
	assert reason == "failed" and changes[-1].error_code == "UNAUTHORIZED"


def test_heartbeat_lost_stops(client, sim, clock):
	sim.set_scenario("m6", SessionOptions(qr_after_s=999))
	client.create_session("m6")
	beats = iter([True, True, False])
	reason, _ = run(client, clock, "m6", heartbeat=lambda: next(beats))
	assert reason == "stopped"


def test_create_first_and_error_waits(client, sim, clock):
	sim.set_scenario("m7", SessionOptions(qr_errors=2, scan_after_s=5))
	reason, changes = run(client, clock, "m7", create_first=True)
	assert reason == "connected"
	assert "QR_GENERATION_ERROR" in [c.error_code for c in changes]
	assert 5.0 in clock.sleeps  # the §4 wait after a generation error


def test_gateway_restart_is_recovered(client, sim, clock):
	sim.set_scenario("m8", SessionOptions(scan_after_s=30))
	client.create_session("m8")
	sim.restart()
	reason, _ = run(client, clock, "m8")
	assert reason == "connected"
	assert sim.count(endpoint="create", session_id="m8") >= 2


def test_hanging_gateway_bounded_by_cap(sim, clock):
	sim.set_scenario("m9", "hang")
	with BaileysClient(sim.url, SENTINEL_KEY, Timeouts(0.5, 0.1)) as c:
		reason = watch(
			c,
			"m9",
			QrPolicy(status_timeout=0.1, qr_timeout=0.1),
			MonitorPolicy(cap_s=30),
			on_change=lambda o: None,
			clock=clock.now,
			sleep=clock.sleep,
		)
	assert reason == "cap"
	assert 3.0 in clock.sleeps and max(clock.sleeps) <= 3.0  # the §4 wait after a timeout, never more


# -- step() and Watch: what the multiplexing watcher runs, one read at a time --------------------------------


def test_watch_round_trips_through_json():
	import json

	w = Watch("doc-1", "sales-1", started=10.0, next_due=12.0, create_first=True, user="a@b.c", token="t")
	assert Watch.from_dict(json.loads(json.dumps(w.to_dict()))) == w
	assert Watch.from_dict({**w.to_dict(), "from_a_newer_version": 1}) == w


def test_step_schedules_per_session_and_reports_only_changes(client, sim, clock):
	"""Two sessions on one schedule: each read is news only when what the user sees changed."""
	sim.set_scenario("s1", SessionOptions(qr_after_s=3, rotate_s=0, scan_after_s=4))
	sim.set_scenario("s2", SessionOptions(qr_after_s=999))
	client.create_session("s1")
	client.create_session("s2")
	policy = MonitorPolicy(cap_s=60, poll_s=2)
	watches = {sid: Watch(sid, sid, started=clock.t, next_due=clock.t) for sid in ("s1", "s2")}
	changes: dict[str, int] = {"s1": 0, "s2": 0}
	reads = 0
	stopped: dict[str, str] = {}
	while watches and reads < 200:
		due = [w for w in watches.values() if w.next_due <= clock.t]
		for w in due:
			reads += 1
			outcome = read_once(client, w, QrPolicy(), clock=clock.now, sleep=clock.sleep)
			result = step(w, outcome, clock.t, policy)
			changes[w.session] += result.changed
			if result.stop:
				stopped[w.session] = result.stop
				del watches[w.session]
		if watches:
			clock.t = min(w.next_due for w in watches.values())
	assert stopped == {"s1": "connected", "s2": "cap"}
	assert changes["s1"] == 3  # waiting, QR, linked
	assert changes["s2"] == 1  # one "waiting" news, then silence until the cap
	assert reads > 30  # the quiet session was read all along, on its own schedule


def test_create_first_creates_once(client, sim, clock):
	w = Watch("c1", "c1", started=clock.t, next_due=clock.t, create_first=True)
	read_once(client, w, QrPolicy(), clock=clock.now, sleep=clock.sleep)
	read_once(client, w, QrPolicy(), clock=clock.now, sleep=clock.sleep)
	assert sim.count(endpoint="create", session_id="c1") == 1 and not w.create_first


def _outcome(state: str, code: str | None = None, word: str | None = None):
	from whatsapp_crm.gateway import errors
	from whatsapp_crm.gateway.acquire import QrOutcome

	error = None
	if code:
		error = next(
			c for c in vars(errors).values() if isinstance(c, type) and getattr(c, "code", None) == code
		)("x")
	return QrOutcome(session_id="s", state=state, error=error, gateway_status=word)


def test_lost_reason_separates_a_lost_phone_from_a_sick_gateway():
	assert lost_reason(_outcome("connected", word="open")) is None
	assert lost_reason(_outcome("failed", "SESSION_NOT_FOUND")) == "unknown"
	assert lost_reason(_outcome("ended", "SESSION_ENDED", "logged_out")) == "logged_out"
	assert lost_reason(_outcome("waiting", "QR_NOT_READY", "close")) == "closed"
	assert lost_reason(_outcome("qr", None, "SCAN_QR_CODE")) == "closed"
	for code in ("TIMEOUT", "UNREACHABLE", "SERVER_ERROR", "UNAUTHORIZED", "BAD_RESPONSE"):
		state = "failed" if code in ("UNAUTHORIZED", "BAD_RESPONSE") else "waiting"
		assert lost_reason(_outcome(state, code)) is None, code
