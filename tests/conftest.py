"""Shared fixtures: the gateway simulator on an ephemeral loopback port, and a fake clock.

The fake clock drives both the simulator's scenario timing and acquire_qr's waits, so policy tests check
exact waits without ever sleeping.
"""

from __future__ import annotations

import pytest

from whatsapp_crm.gateway.adapters.baileys import BaileysClient
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.gateway.sim import BaileysSimulator

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
