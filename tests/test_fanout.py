"""Isolation at the gateway layer: reads on their own clocks (gateway.fanout) against the simulator over
loopback. A read that hangs holds back neither another session's read nor the caller."""

from __future__ import annotations

import threading
import time

from whatsapp_crm.gateway.acquire import QrPolicy
from whatsapp_crm.gateway.adapters import make_client
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.gateway.fanout import Fanout
from whatsapp_crm.gateway.monitor import Watch, read_once
from whatsapp_crm.simulator import BaileysSimulator, SessionOptions

KEY = "fanout-key"


def test_a_hanging_read_delays_only_its_own_session():
	with BaileysSimulator(api_key=KEY, scenario="linked").start() as sim:
		sim.set_scenario("sick", "hang")
		sim.set_scenario("well", SessionOptions(qr_after_s=0, rotate_s=0))
		with make_client("baileys", sim.url, KEY) as c:
			c.create_session("well")
		sim.scan("well")
		# The hanging read would take 20 s (its read timeout); the caller looks for results for 1 s.
		policy = QrPolicy(status_timeout=20, qr_timeout=20, max_attempts=1, deadline=20)

		def read(session_id: str):
			with make_client("baileys", sim.url, KEY, Timeouts(connect=1, read=20)) as client:
				now = time.time()
				return read_once(client, Watch(session_id, session_id, now, now), policy)

		reads = Fanout(max_parallel=4, per_key=4)
		assert reads.start("sick", "gw", lambda: read("sick"))
		assert reads.start("well", "gw", lambda: read("well"))
		assert not reads.start("well", "gw", lambda: read("well"))  # never two reads of one session
		got = {}
		ends = time.monotonic() + 1.0
		while time.monotonic() < ends and "well" not in got:
			for done in reads.finished(timeout=0.1):
				got[done.item] = done
		assert "well" in got and got["well"].error is None
		assert got["well"].result.state == "connected"
		assert "sick" not in got and reads.busy("sick")  # still hanging, and nobody waited for it
		assert reads.abandon() == ["sick"]
		assert reads.in_flight() == 0


def test_one_key_holds_only_its_share():
	release = threading.Event()
	reads = Fanout(max_parallel=4, per_key=2)
	try:
		assert reads.start("a1", "dead", release.wait)
		assert reads.start("a2", "dead", release.wait)
		assert not reads.start("a3", "dead", release.wait)  # the dead gateway's share is full
		assert not reads.can_start("dead") and reads.can_start("alive")
		assert reads.start("b1", "alive", lambda: "ok")
		[done] = reads.finished(timeout=2)
		assert (done.item, done.key, done.result) == ("b1", "alive", "ok")
		assert reads.in_flight("dead") == 2
	finally:
		release.set()
		reads.abandon()


def test_a_read_that_raises_comes_back_as_its_error():
	def boom():
		raise RuntimeError("bug in one read")

	with Fanout() as reads:
		reads.start("x", "gw", boom)
		[done] = reads.finished(timeout=2)
		assert isinstance(done.error, RuntimeError) and done.result is None


def test_a_slow_read_is_told_apart_from_quick_ones():
	release = threading.Event()
	with Fanout() as reads:
		reads.start("quick", "gw", lambda: "ok")
		reads.start("slow", "gw", release.wait)
		time.sleep(0.3)
		assert reads.running_longer_than(0.2) and not reads.running_longer_than(30)
		release.set()
		while reads.in_flight():
			reads.finished(timeout=1)
		assert not reads.running_longer_than(0)
