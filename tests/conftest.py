"""Shared fixtures: the gateway simulator on an ephemeral loopback port, and a fake clock.

The fake clock drives both the simulator's scenario timing and acquire_qr's waits, so policy tests check
exact waits without ever sleeping.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from whatsapp_crm.gateway.adapters.baileys import BaileysClient
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.simulator import BaileysSimulator

SENTINEL_KEY = "SENTINEL-key-4f1e9c"


class FakeClock:
	def __init__(self) -> None:
		self.t = 1000.0
		self.sleeps: list[float] = []

	def now(self) -> float:
		return self.t

	def sleep(self, seconds: float) -> None:
		self.sleeps.append(round(seconds, 3))
		self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
	return FakeClock()


@pytest.fixture
def sim(clock: FakeClock):
	with BaileysSimulator(api_key=SENTINEL_KEY, scenario="qr_now", clock=clock.now) as s:
		yield s


@pytest.fixture
def real_sim():
	with BaileysSimulator(api_key=SENTINEL_KEY, scenario="qr_now") as s:
		yield s


@pytest.fixture
def client(sim: BaileysSimulator):
	with BaileysClient(sim.url, SENTINEL_KEY, Timeouts(connect=1.0, read=2.0)) as c:
		yield c


class _Quiet(SimpleHTTPRequestHandler):
	def log_message(self, *args: object) -> None:
		pass


@pytest.fixture
def file_server(tmp_path):
	"""A plain file server on loopback: answers 200 with HTML at / and 404 pages elsewhere."""
	(tmp_path / "index.html").write_text("<html><body>files</body></html>")
	server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path)))
	threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
	yield f"http://127.0.0.1:{server.server_address[1]}"
	server.shutdown()
	server.server_close()
