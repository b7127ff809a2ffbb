"""Sessions at scale (``make bench-scale``): P5-P9, against a real Frappe site.

Runs inside a bench's Python (it uses frappe to set the site up, to enqueue jobs and to watch the workers) and
talks to the site over HTTP as a browser would. It starts its own gateway simulators on loopback, each behind
its own WhatsApp Gateway record (``bench-scale``, ``bench-scale-2``...; the site's own gateways are left alone),
and puts everything back afterwards, whatever happens (settings, gateways, sessions, their Error Logs,
notifications and history). Every load is bounded in count and time and only goes to 127.0.0.1.
Prints numbers; asserts nothing.

P5  N sessions created at once, the QR 4 s after each is created, webhooks on:
    create request wall time; QR stored and pushed after the gateway has it (published to the realtime
    server, read from its Redis channel); the most workers the watching held at once; how long a short job
    enqueued meanwhile waited to start; gateway requests per waiting session per minute.
    P5q: the same without webhooks (the QR found by polling): create worst <= 1 s, QR worst <= 8 s after create.
P6  one health sweep over M Connected sessions: gateway requests, wall time, the time its job held a worker.
P7  a session already linked on the gateway, beside one whose gateway calls hang: Create session -> Connected.
P8  3 gateways with 20 Connected sessions each, one of them hanging: the other 40 sessions' status reads and
    the sweep, beside the same without the dead gateway.
P9  100 ordinary jobs queued on default: Create session -> QR pushed (the watcher runs on short).

Run it from the bench's sites folder:
    cd frappe-bench/sites && ../env/bin/python /path/to/whatsapp_crm/benchmarks/bench_scale.py --site SITE
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import signal
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import frappe  # the bench's own

from whatsapp_crm.gateway.adapters import make_client
from whatsapp_crm.sessions import live
from whatsapp_crm.simulator import BaileysSimulator, SessionOptions

GATEWAY = "bench-scale"
KEY = "bench-scale-key"
SECRET = "bench-scale-webhook-secret"
PREFIX = "bscale-"
SESSION = "WhatsApp Session"
SETTINGS = "WhatsApp CRM Settings"
POLICY = {
	"use_monitor": 1,
	"request_wait": 0,
	"monitor_cap": 60,
	"poll_interval": 3,
	"status_timeout": 10,
	"qr_timeout": 10,
	"connect_timeout": 3,
	"deadline": 20,
	"health_check_interval": 0,  # the benchmark runs its own sweep
}


def commit() -> None:
	frappe.db.commit()  # nosemgrep: a benchmark sets the site up through its own connection


def _events_child(site: str, out, stop) -> None:
	"""The realtime server's input (Redis channel "events"): when each session's QR was published."""
	frappe.init(site=site, sites_path=".")
	from frappe.utils.background_jobs import get_redis_connection_without_auth

	qr_at: dict[str, float] = {}
	pubsub = get_redis_connection_without_auth().pubsub()
	pubsub.subscribe("events")
	while not stop.is_set():
		message = pubsub.get_message(timeout=0.2)
		if not message or message["type"] != "message":
			continue
		data = message["data"]
		if b"whatsapp_session_update" not in data or b'"qr_available": true' not in data:
			continue  # decode only what is measured: this process shares the host with the site
		event = json.loads(data)
		payload = event.get("message") or {}
		if event.get("event") == "whatsapp_session_update" and payload.get("qr_available"):
			qr_at.setdefault(payload.get("session_db_id"), time.monotonic())  # CLOCK_MONOTONIC: one per host
	out.put(qr_at)


def _workers_child(site: str, out, stop) -> None:
	"""Every 100 ms: how many workers run the watcher's tick, and how many are busy at all."""
	frappe.init(site=site, sites_path=".")
	from frappe.utils.background_jobs import get_workers

	most_watcher = most_busy = errors = 0
	while not stop.wait(0.1):
		watcher = busy = 0
		try:
			for w in get_workers():
				job = w.get_current_job()
				if job is None:
					continue
				busy += 1
				if "whatsapp_crm.sessions.watcher.tick" in str(job.kwargs.get("method", "")):
					watcher += 1
		except Exception:
			errors += 1
			continue
		most_watcher, most_busy = max(most_watcher, watcher), max(most_busy, busy)
	out.put({"watcher": most_watcher, "busy": most_busy, "errors": errors})


class Observer:
	"""A child process (so that it takes no time from the clients measured here) running ``target``."""

	def __init__(self, target) -> None:
		ctx = multiprocessing.get_context("fork")
		self.out, self.stop = ctx.Queue(), ctx.Event()
		self.proc = ctx.Process(target=target, args=(ARGS.site, self.out, self.stop), daemon=True)
		self.proc.start()
		time.sleep(0.5)  # subscribed before anything happens

	def result(self):
		self.stop.set()
		value = self.out.get(timeout=10)
		self.proc.join(timeout=5)
		return value


def short_job_waits(count: int, every_s: float) -> list[float]:
	"""Enqueue frappe.ping on the short queue every ``every_s``; how long each waited to start."""
	jobs = []
	for _ in range(count):
		jobs.append(frappe.enqueue("frappe.ping", queue="short"))
		time.sleep(every_s)
	waits = []
	for job in jobs:
		for _ in range(600):
			job.refresh()
			if job.started_at:
				break
			time.sleep(0.1)
		if job.started_at and job.enqueued_at:
			waits.append((job.started_at - job.enqueued_at).total_seconds())
		else:
			waits.append(float("inf"))
	return waits


def login(base: str, site: str) -> requests.Session:
	http = requests.Session()
	http.headers["X-Frappe-Site-Name"] = site
	http.post(
		f"{base}/api/method/login", json={"usr": "Administrator", "pwd": ARGS.password}, timeout=30
	).raise_for_status()
	return http


def warm_up(http: requests.Session, base: str, sim: BaileysSimulator) -> None:
	"""Every web worker loads the app's modules and caches once, as a running site already has."""
	sid = f"{PREFIX}warm-{int(time.time())}"
	sim.set_scenario(sid, SessionOptions(rotate_s=0))
	name = (
		frappe.get_doc({"doctype": SESSION, "session_id": sid, "label": sid, "gateway": GATEWAY})
		.insert(ignore_permissions=True)
		.name
	)
	commit()

	def call(i: int) -> None:
		method = "create_session" if i % 8 == 0 else "get_status"
		http.post(f"{base}/api/method/whatsapp_crm.api.session.{method}", json={"session": name}, timeout=60)

	with ThreadPoolExecutor(16) as pool:
		list(pool.map(call, range(64)))
	sim.scan(sid)
	time.sleep(3)


def p5(sim: BaileysSimulator, base: str, site: str, sessions: int, wait_s: float) -> dict:
	http = login(base, site)
	names = []
	for i in range(sessions):
		sid = f"{PREFIX}p5-{i}-{int(time.time())}"
		sim.set_scenario(sid, SessionOptions(qr_after_s=4.0, rotate_s=0))
		doc = frappe.get_doc(
			{"doctype": SESSION, "session_id": sid, "label": sid, "gateway": GATEWAY}
		).insert(ignore_permissions=True)
		names.append((doc.name, sid))
	commit()
	warm_up(http, base, sim)
	events, sampler = Observer(_events_child), Observer(_workers_child)
	created_at: dict[str, float] = {}

	def create(name: str) -> float:
		started = time.monotonic()
		try:
			r = http.post(
				f"{base}/api/method/whatsapp_crm.api.session.create_session",
				json={"session": name},
				timeout=60,
			)
		except (
			requests.ConnectionError
		):  # a web worker recycled under us (gunicorn --max-requests): once more
			r = http.post(
				f"{base}/api/method/whatsapp_crm.api.session.create_session",
				json={"session": name},
				timeout=60,
			)
		r.raise_for_status()
		created_at[name] = started
		return time.monotonic() - started

	try:
		with ThreadPoolExecutor(sessions) as pool:
			create_times = list(pool.map(create, [n for n, _s in names]))
		waits = short_job_waits(5, 1.0)  # meanwhile, while the sessions wait for their QR
		time.sleep(max(0.0, 10 - 5))  # the QRs come 4 s after each create
		# the watching of sessions that wait with their QR on screen, webhooks on: requests per minute
		before = sim.count()
		time.sleep(wait_s)
		per_session_min = (sim.count() - before) / sessions * 60 / wait_s
		for _name, sid in names:
			sim.scan(sid)
		time.sleep(3)
	finally:
		qr_at = events.result()
		workers = sampler.result()
	qr_delays = []
	for name, sid in names:
		session = sim._sessions.get(sid)  # the simulator shares this host's monotonic clock
		if session is not None and name in qr_at:
			qr_delays.append(qr_at[name] - (session.created_at + 4.0))
	return {
		"create": create_times,
		"qr": qr_delays,
		"qr_missing": sessions - len(qr_delays),
		"watcher_workers": workers["watcher"],
		"busy_workers": workers["busy"],
		"sampler_errors": (workers["errors"], ""),
		"short_waits": waits,
		"requests_per_session_min": per_session_min,
	}


def p6(sim: BaileysSimulator, count: int, lost: int) -> dict:
	from whatsapp_crm.sessions import sweep

	names = []
	with make_client("baileys", sim.url, KEY) as client:
		for i in range(count):
			sid = f"{PREFIX}p6-{i}-{int(time.time())}"
			sim.set_scenario(sid, SessionOptions(rotate_s=0))
			client.create_session(sid)
			if i >= lost:
				sim.scan(sid)  # linked on the gateway; the first `lost` are not: the phone unlinked them
			doc = frappe.get_doc(
				{
					"doctype": SESSION,
					"session_id": sid,
					"label": sid,
					"status": "Connected",
					"phone_number": "34600111222",
					"gateway": GATEWAY,
				}
			).insert(ignore_permissions=True)
			names.append(doc.name)
	commit()
	out = {}
	before = sim.count()
	started = time.monotonic()
	stats = sweep.sweep(names=names)
	out["in_process"] = (time.monotonic() - started, sim.count() - before, stats)
	# the same sweep as the scheduler runs it, on a worker: how long the job held it
	before = sim.count()
	job = frappe.enqueue("whatsapp_crm.sessions.sweep.sweep", queue="default", names=names)
	for _ in range(1200):
		job.refresh()
		if job.ended_at:
			break
		time.sleep(0.1)
	held = (job.ended_at - job.started_at).total_seconds() if job.ended_at and job.started_at else None
	out["job"] = (held, sim.count() - before)
	return out


def _session(sid: str, gateway_name: str = GATEWAY, **fields) -> str:
	doc = frappe.get_doc(
		{"doctype": SESSION, "session_id": sid, "label": sid, "gateway": gateway_name, **fields}
	).insert(ignore_permissions=True)
	return doc.name


def _wait_status(name: str, status: str, timeout_s: float) -> float | None:
	"""Seconds until the session shows ``status`` in the database (None: not within the timeout)."""
	started = time.monotonic()
	while time.monotonic() - started < timeout_s:
		commit()  # a fresh snapshot
		if frappe.db.get_value(SESSION, name, "status") == status:
			return time.monotonic() - started
		time.sleep(0.05)
	return None


def p7(sim: BaileysSimulator, base: str, site: str, runs: int) -> list[float | None]:
	"""A linked session beside a hanging one: Create session (the phone is already linked on the gateway)
	until Connected, while the watcher also serves a session whose every read hangs for its read timeout."""
	http = login(base, site)
	out = []
	for i in range(runs):
		stamp = f"{i}-{int(time.time())}"
		sick = _session(f"{PREFIX}p7-hang-{stamp}")
		sim.set_scenario(f"{PREFIX}p7-hang-{stamp}", "hang")
		well_sid = f"{PREFIX}p7-linked-{stamp}"
		sim.set_scenario(well_sid, SessionOptions(qr_after_s=0, rotate_s=0))
		with make_client("baileys", sim.url, KEY) as client:
			client.create_session(well_sid)
		sim.scan(well_sid)
		well = _session(well_sid)
		commit()
		for name in (sick, well):
			if name == well:
				time.sleep(1.0)  # the hanging session's read is in flight first
			http.post(
				f"{base}/api/method/whatsapp_crm.api.session.create_session",
				json={"session": name},
				timeout=60,
			).raise_for_status()
		out.append(_wait_status(well, "Connected", 40))
		live.watch_drop(sick)
	return out


def p8(sims: list[BaileysSimulator], dead: BaileysSimulator, base: str, site: str, per: int) -> dict:
	"""3 gateways (the simulators, one of them hanging), ``per`` Connected sessions on each."""
	from whatsapp_crm.sessions import sweep

	names: dict[str, list[str]] = {}
	for n, sim in enumerate(sims):
		gw = GATEWAY if n == 0 else f"{GATEWAY}-{n + 1}"
		if n:
			gateway(gw, sim.url)
		names[gw] = []
		with make_client("baileys", sim.url, KEY) as client:
			for i in range(per):
				sid = f"{PREFIX}p8-{n}-{i}-{int(time.time())}"
				sim.set_scenario(sid, "hang" if sim is dead else SessionOptions(rotate_s=0))
				if sim is not dead:
					client.create_session(sid)
					sim.scan(sid)
				names[gw].append(_session(sid, gw, status="Connected", phone_number="34600111222"))
	commit()
	dead_gw = next(g for g, s in zip(names, sims, strict=True) if s is dead)
	healthy = [n for g, ns in names.items() if g != dead_gw for n in ns]
	http = login(base, site)

	def status(name: str) -> float:
		started = time.monotonic()
		http.post(
			f"{base}/api/method/whatsapp_crm.api.session.get_status", json={"session": name}, timeout=60
		).raise_for_status()
		return time.monotonic() - started

	def reads(pool_names: list[str]) -> list[float]:
		for name in pool_names:
			live.clear_payload(name)  # not fresh: each read is a real one
		with ThreadPoolExecutor(8) as pool:
			times = dict(zip(pool_names, pool.map(status, pool_names), strict=True))
		return [times[n] for n in healthy]

	out = {"alone": reads(healthy), "beside_dead": reads(healthy + names[dead_gw])}
	for g in names:
		live.STORE.delete(f"whatsapp_crm:breaker:{g}")
	started = time.monotonic()
	out["sweep_alone"] = (sweep.sweep(names=healthy), time.monotonic() - started)
	started = time.monotonic()
	out["sweep_beside_dead"] = (sweep.sweep(names=healthy + names[dead_gw]), time.monotonic() - started)
	out["dead"] = dead_gw
	return out


def p9(sim: BaileysSimulator, base: str, site: str, runs: int, jobs: int) -> list[float | None]:
	"""With ``jobs`` ordinary jobs queued on default (each takes 0.2 s), Create session -> QR shown."""
	http = login(base, site)
	out = []
	for i in range(runs):
		for _ in range(jobs):
			frappe.enqueue("frappe.utils.background_jobs.test_job", queue="default", s=0.2)
		sid = f"{PREFIX}p9-{i}-{int(time.time())}"
		sim.set_scenario(sid, SessionOptions(qr_after_s=0, rotate_s=0))
		name = _session(sid)
		commit()
		started = time.monotonic()
		http.post(
			f"{base}/api/method/whatsapp_crm.api.session.create_session", json={"session": name}, timeout=60
		).raise_for_status()
		waited = _wait_status(name, "QR Ready", 60)
		out.append(None if waited is None else time.monotonic() - started)
		from frappe.utils.background_jobs import get_queue

		get_queue("default").empty()  # the rest of the ordinary jobs are not this run's business
	return out


def cleanup(saved: dict) -> None:
	frappe.db.rollback()
	names = frappe.get_all(SESSION, filters={"name": ("like", f"{PREFIX}%")}, pluck="name")
	for table, field in (
		("Error Log", "reference_name"),
		("Notification Log", "document_name"),
		("WhatsApp Session Event", "session"),
	):
		if names and frappe.db.table_exists(table):
			frappe.db.delete(table, {field: ("in", names)})
	for name in names:
		frappe.db.delete(SESSION, name)
	for name in frappe.get_all("WhatsApp Gateway", filters={"name": ("like", f"{GATEWAY}%")}, pluck="name"):
		frappe.db.delete("WhatsApp Gateway", name)
		live.STORE.delete(f"whatsapp_crm:breaker:{name}")
	settings = frappe.get_single(SETTINGS)
	settings.update(saved["values"])
	settings.flags.ignore_permissions = True
	settings.save()
	commit()
	for name in names:
		live.watch_drop(name)
		live.clear_payload(name)
	print(f"(site restored: settings, gateways, and {len(names)} benchmark sessions removed)")


def gateway(name: str, url: str, secret: str = "") -> None:
	"""The benchmark's own gateway record (never the default: its sessions name it)."""
	from whatsapp_crm.testing import save_gateway

	save_gateway(name, url, KEY, gateway_type="Baileys REST", webhook_secret=secret, enabled=1, is_default=0)
	commit()


def fmt(values: list[float]) -> str:
	if not values:
		return "none"
	return f"median {statistics.median(values):6.3f}s  worst {max(values):6.3f}s  (n={len(values)})"


def main() -> int:
	frappe.init(site=ARGS.site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	settings = frappe.get_single(SETTINGS)
	saved = {"values": {k: settings.get(k) for k in (*POLICY, "enabled", "public_site_url")}}
	# SIGTERM and Ctrl-C both unwind through the finally below
	signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
	webhook_url = f"{ARGS.base}/api/method/whatsapp_crm.api.webhook.receive?gateway={GATEWAY}"
	try:
		with BaileysSimulator(api_key=KEY, scenario="qr_now") as sim:
			settings.update({"enabled": 1, **POLICY})
			settings.flags.ignore_permissions = True
			settings.save()
			gateway(GATEWAY, sim.url, SECRET)
			print(f"layout: {ARGS.layout}")
			if "P5" in ARGS.only:
				sim.set_webhook(webhook_url, SECRET, "hmac")
				r = p5(sim, ARGS.base, ARGS.site, ARGS.sessions, ARGS.wait)
				sim.set_webhook(None)
				print(f"P5 {ARGS.sessions} sessions created at once, QR 4 s after creation, webhooks on")
				print(f"   create request          {fmt(r['create'])}")
				print(f"   QR stored+pushed after  {fmt(r['qr'])}  missing {r['qr_missing']}")
				print(
					f"   workers held by the watcher at once: {r['watcher_workers']} (busy workers at most: {r['busy_workers']})"
				)
				if r["sampler_errors"][0]:
					print(
						f"   (worker sampler failed {r['sampler_errors'][0]} times: {r['sampler_errors'][1]})"
					)
				print(f"   short job start wait    {fmt(r['short_waits'])}")
				print(
					f"   gateway requests per waiting session per minute: {r['requests_per_session_min']:.1f}"
				)
			if "P5Q" in ARGS.only:
				r = p5(sim, ARGS.base, ARGS.site, ARGS.sessions, 5)
				print(f"P5q {ARGS.sessions} sessions created at once, QR 4 s after creation, no webhooks")
				print(f"   create request          {fmt(r['create'])}   (target: worst <= 1 s)")
				qr_after_create = [d + 4.0 for d in r["qr"]]
				print(
					f"   QR shown after create   {fmt(qr_after_create)}  missing {r['qr_missing']}   (target: worst <= 8 s)"
				)
			if "P7" in ARGS.only:
				r = p7(sim, ARGS.base, ARGS.site, 3)
				print("P7 a linked session beside a hanging one: Create session -> Connected")
				print(
					f"   {fmt([x for x in r if x is not None])}  not within 40 s: {sum(x is None for x in r)}   (target: <= 4 s)"
				)
			if "P9" in ARGS.only:
				r = p9(sim, ARGS.base, ARGS.site, 3, 100)
				print("P9 100 ordinary jobs queued on default: Create session -> QR shown")
				print(
					f"   {fmt([x for x in r if x is not None])}  not within 60 s: {sum(x is None for x in r)}   (target: <= 2 s)"
				)
			if "P8" in ARGS.only:
				with BaileysSimulator(api_key=KEY) as second, BaileysSimulator(api_key=KEY) as dead:
					r = p8([sim, second, dead], dead, ARGS.base, ARGS.site, 20)
				print("P8 3 gateways x 20 Connected sessions, one gateway hanging")
				print(f"   status reads of the other 40, alone        {fmt(r['alone'])}")
				print(f"   status reads of the other 40, beside dead  {fmt(r['beside_dead'])}")
				for label in ("sweep_alone", "sweep_beside_dead"):
					stats, wall = r[label]
					done = {g: v for g, v in stats["done_s"].items() if g != r["dead"]}
					print(
						f"   {label:<18} wall {wall:5.2f}s  checked {stats['checked']}  healthy gateways done at {done}"
						f"  stopped {stats['stopped']}"
					)
			if "P6" in ARGS.only:
				r = p6(sim, ARGS.connected, ARGS.lost)
				wall, sent, stats = r["in_process"]
				print(f"P6 one sweep over {ARGS.connected} Connected sessions ({ARGS.lost} of them lost)")
				print(f"   in process: {wall:.2f}s, {sent} gateway requests, {stats}")
				held, sent = r["job"]
				print(
					f"   as a job: held its worker {held if held is None else round(held, 2)}s, {sent} gateway requests"
				)
	except KeyboardInterrupt:
		print("interrupted")
	finally:
		cleanup(saved)
		frappe.destroy()
	return 0


if __name__ == "__main__":
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--site", required=True)
	ap.add_argument("--base", default="http://127.0.0.1:8000")
	ap.add_argument("--password", default="admin")
	ap.add_argument("--layout", default="unknown", help="a label for the worker layout under test")
	ap.add_argument("--sessions", type=int, default=20)
	ap.add_argument("--wait", type=float, default=30.0, help="seconds to count requests while sessions wait")
	ap.add_argument("--connected", type=int, default=200)
	ap.add_argument("--lost", type=int, default=10)
	ap.add_argument("--only", default="P5,P5Q,P6,P7,P8,P9")
	ARGS = ap.parse_args()
	ARGS.only = set(ARGS.only.upper().split(","))
	raise SystemExit(main())
