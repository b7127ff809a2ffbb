"""Numbers for the QR acquisition policy against the simulator over real loopback HTTP (``make bench``).

(a) time-to-QR overhead: the simulator has the QR at T; when does acquire_qr return it (median of N runs,
    run concurrently, one session each, so the whole table takes seconds, not minutes);
(b) gateway requests per acquisition, per scenario;
(c) worst-case wall time against a hanging gateway: ours (measured) against the naive policy of
    5 x (10 s status + 10 s QR) plus its waits (computed: it would take two minutes to measure).
Prints numbers; asserts nothing. Machines here are shared and noisy: compare within one run.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from whatsapp_crm.gateway.acquire import QrPolicy, acquire_qr
from whatsapp_crm.gateway.adapters.baileys import BaileysClient
from whatsapp_crm.simulator import BaileysSimulator, SessionOptions

KEY = "bench-key"
RUNS = 20


def timed_acquisition(sim: BaileysSimulator, session_id: str, policy: QrPolicy) -> tuple[float, str, int]:
	with BaileysClient(sim.url, KEY) as client:
		client.create_session(session_id)
		started = time.monotonic()
		outcome = acquire_qr(client, session_id, policy)
		return time.monotonic() - started, outcome.state, len(outcome.attempts)


def table_a(sim: BaileysSimulator) -> list[tuple]:
	rows = []
	for ready_at in (0.0, 0.5, 1.5, 4.0):
		ids = [f"a{int(ready_at * 10)}-{i}" for i in range(RUNS)]
		for sid in ids:
			sim.set_scenario(sid, SessionOptions(qr_after_s=ready_at, rotate_s=0))
		with ThreadPoolExecutor(RUNS) as pool:
			results = list(pool.map(lambda sid: timed_acquisition(sim, sid, QrPolicy()), ids))
		times = sorted(r[0] for r in results)
		got = sum(1 for r in results if r[1] == "qr")
		median = statistics.median(times)
		rows.append((ready_at, median, median - ready_at, times[-1], got))
	return rows


def table_b(sim: BaileysSimulator) -> list[tuple]:
	rows = []
	for name, options in (
		("QR at once", SessionOptions()),
		("QR after 3 s", SessionOptions(qr_after_s=3)),
		("2 x QR_GENERATION_ERROR", SessionOptions(qr_errors=2)),
		("never ready (deadline)", SessionOptions(qr_after_s=999)),
		("HTML 502 every time", SessionOptions(fault="html_502")),
	):
		sid = "b-" + str(len(rows))
		sim.set_scenario(sid, options)
		with BaileysClient(sim.url, KEY) as client:
			client.create_session(sid)
			before = sim.count(session_id=sid)
			started = time.monotonic()
			outcome = acquire_qr(client, sid, QrPolicy())
			took = time.monotonic() - started
		rows.append((name, sim.count(session_id=sid) - before, len(outcome.attempts), outcome.state, took))
	return rows


def table_c(sim: BaileysSimulator) -> tuple[float, float, int]:
	sim.set_scenario("c-hang", "hang")
	policy = QrPolicy()
	with BaileysClient(sim.url, KEY) as client:
		started = time.monotonic()
		outcome = acquire_qr(client, "c-hang", policy)
		ours = time.monotonic() - started
	waits = sum(min(2 + i, 5) for i in range(policy.max_attempts - 1))
	naive = policy.max_attempts * (policy.status_timeout + policy.qr_timeout) + waits
	return ours, naive, len(outcome.attempts)


def memory(sim: BaileysSimulator) -> tuple[float, float]:
	ids = [f"m-{i}" for i in range(RUNS)]
	tracemalloc.start()
	with ThreadPoolExecutor(RUNS) as pool:
		list(pool.map(lambda sid: timed_acquisition(sim, sid, QrPolicy()), ids))
	current, peak = tracemalloc.get_traced_memory()
	tracemalloc.stop()
	return peak / 1024 / 1024, current / 1024 / 1024


def main() -> int:
	with BaileysSimulator(api_key=KEY, scenario="qr_now") as sim:
		print(f"(a) time to QR, median of {RUNS} concurrent acquisitions (default policy)")
		print(f"    {'QR ready at':>12} {'median':>9} {'overhead':>9} {'worst':>9} {'got QR':>7}")
		for ready_at, median, overhead, worst, got in table_a(sim):
			print(f"    {ready_at:>11.1f}s {median:>8.2f}s {overhead:>8.2f}s {worst:>8.2f}s {got:>4}/{RUNS}")
		print()
		print("(b) gateway requests per acquisition")
		print(f"    {'scenario':<26} {'requests':>8} {'attempts':>8} {'result':>8} {'wall':>7}")
		for name, requests, attempts, state, took in table_b(sim):
			print(f"    {name:<26} {requests:>8} {attempts:>8} {state:>8} {took:>6.1f}s")
		print()
		ours, naive, attempts = table_c(sim)
		print("(c) worst-case wall time, gateway accepts connections and never answers")
		print(f"    ours (deadline 20 s, measured): {ours:6.1f}s in {attempts} attempts")
		print(f"    naive 5 x (10 s + 10 s) + waits (computed): {naive:6.1f}s")
		print(f"    ratio naive/ours: {naive / ours:.1f}x")
		print()
		peak, left = memory(sim)
		print(
			f"(d) Python heap for {RUNS} concurrent acquisitions: peak {peak:.2f} MiB, retained {left:.2f} MiB"
		)
	return 0


if __name__ == "__main__":
	raise SystemExit(main())
