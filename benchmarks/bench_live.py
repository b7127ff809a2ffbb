"""Live-session numbers against a real Frappe site (``make bench-live``): P1-P4 of the live-sessions issue.

Needs a running site with whatsapp_crm installed (web server, socket.io, and short-queue workers), and an
Administrator login. It starts its own gateway simulator on loopback, points WhatsApp CRM Settings at it
(restoring them afterwards), and prints a table. Every load is bounded in count and time and only goes to
127.0.0.1. Prints numbers; asserts nothing (shared, noisy machines: compare within one run).

P1 wall time of the create request while the gateway hangs
P2 time from the simulator having a QR to a realtime client receiving it, with webhooks and with polling
P3 gateway requests per minute for one waiting session with 1 and with 20 forms open
P4 p50/p99 latency and errors of the status call with 100 concurrent pollers while the gateway hangs
P5 gateway reads caused by 20 Status calls at once on one session (single flight; target <= 3)
The seed-style behaviour (no monitor: the request waits on the gateway, every poll goes to it) is measured
beside the new one where it applies.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from whatsapp_crm.simulator import BaileysSimulator, SessionOptions

KEY = "bench-live-key"
SECRET = "bench-live-webhook-secret"
API = "/api/method/whatsapp_crm.api.session."
DEFAULT_POLICY = {
	"max_attempts": 5,
	"connect_timeout": 3,
	"status_timeout": 10,
	"qr_timeout": 10,
	"wait_initial": 2,
	"wait_step": 1,
	"wait_max": 5,
	"qr_error_wait": 5,
	"timeout_wait": 3,
	"deadline": 20,
	"poll_interval": 3,
}
GATEWAY = "bench-live"  # this benchmark's own WhatsApp Gateway record (the default while it runs)
SETTINGS_FIELDS = (
	"enabled",
	"use_monitor",
	"request_wait",
	"monitor_cap",
	*DEFAULT_POLICY,
)
created: list[str] = []


class Site:
	def __init__(self, base: str, user: str, password: str, site_name: str) -> None:
		self.base = base.rstrip("/")
		self.http = requests.Session()
		# a production server (gunicorn behind no proxy) needs the site named; bench serve has a default
		self.http.headers["X-Frappe-Site-Name"] = site_name
		r = self.http.post(f"{self.base}/api/method/login", json={"usr": user, "pwd": password}, timeout=30)
		r.raise_for_status()
		self.sid = self.http.cookies.get("sid")

	def call(self, method: str, timeout: float = 60, **args) -> dict:
		r = self.http.post(f"{self.base}{API}{method}", json=args, timeout=timeout)
		r.raise_for_status()
		return r.json()["message"]

	def settings(self) -> dict:
		r = self.http.get(f"{self.base}/api/resource/WhatsApp CRM Settings/WhatsApp CRM Settings", timeout=30)
		return r.json()["data"]

	def set_settings(self, **values) -> None:
		r = self.http.put(
			f"{self.base}/api/resource/WhatsApp CRM Settings/WhatsApp CRM Settings", json=values, timeout=30
		)
		r.raise_for_status()

	def set_gateway(self, name: str, **values) -> None:
		"""Create or update a WhatsApp Gateway record (the benchmark's own; the site's others stay)."""
		r = self.http.get(f"{self.base}/api/resource/WhatsApp Gateway/{name}", timeout=30)
		if r.status_code == 404:
			r = self.http.post(
				f"{self.base}/api/resource/WhatsApp Gateway", json={"label": name, **values}, timeout=30
			)
		else:
			r = self.http.put(f"{self.base}/api/resource/WhatsApp Gateway/{name}", json=values, timeout=30)
		r.raise_for_status()

	def new_session(self, session_id: str) -> str:
		r = self.http.post(
			f"{self.base}/api/resource/WhatsApp Session",
			json={"session_id": session_id, "label": session_id},
			timeout=30,
		)
		r.raise_for_status()
		created.append(r.json()["data"]["name"])
		return created[-1]

	def delete_session(self, name: str) -> None:
		self.http.delete(f"{self.base}/api/resource/WhatsApp Session/{name}", timeout=30)


class Listener:
	"""A realtime client like the desk's: socket.io, authenticated by the session cookie, in the doc room."""

	def __init__(self, site: Site, socket_url: str, site_name: str) -> None:
		import socketio

		self.received: dict[str, float] = {}
		self.sio = socketio.Client(reconnection=False)
		self.namespace = f"/{site_name}"

		@self.sio.on("whatsapp_session_update", namespace=self.namespace)
		def on_update(payload):
			if payload.get("qr_available"):
				self.received.setdefault(payload["session_db_id"], time.monotonic())

		self.sio.connect(
			socket_url,
			namespaces=[self.namespace],
			# as a browser on the desk: Origin is the web server (the socket server asks it who we are)
			headers={"Cookie": f"sid={site.sid}", "Origin": site.base},
			transports=["polling"],  # websocket-client rewrites Origin; long-polling keeps ours
			wait_timeout=10,
		)

	def subscribe(self, name: str) -> None:
		self.sio.emit("doc_subscribe", ("WhatsApp Session", name), namespace=self.namespace)

	def close(self) -> None:
		self.sio.disconnect()


def wait_for(predicate, timeout: float, step: float = 0.05) -> bool:
	end = time.monotonic() + timeout
	while time.monotonic() < end:
		if predicate():
			return True
		time.sleep(step)
	return False


def p1(site: Site, sim: BaileysSimulator, runs: int) -> dict:
	out = {}
	for label, monitor in (("seed-style (request waits)", 0), ("watcher", 1)):
		site.set_settings(use_monitor=monitor, request_wait=0)
		times, modes = [], []
		for i in range(1 if not monitor else runs):
			name = site.new_session(f"p1-{monitor}-{i}-{int(time.time())}--hang")
			started = time.monotonic()
			payload = site.call("create_session", session=name)
			times.append(time.monotonic() - started)
			modes.append(payload["debug"].get("monitor"))

		out[label] = (statistics.median(times), max(times), modes)
	return out


def p2(site: Site, sim: BaileysSimulator, listener: Listener, runs: int, webhook_url: str) -> dict:
	out = {}
	rng = random.Random(7)
	site.set_settings(use_monitor=1, request_wait=0)
	for label, url in (("webhooks (+ monitor)", webhook_url), ("polling (monitor only)", None)):
		sim.set_webhook(url, SECRET, "hmac")
		delays, misses = [], 0
		for i in range(runs):
			sid = f"p2-{'w' if url else 'p'}-{i}-{int(time.time())}"
			sim.set_scenario(sid, SessionOptions(qr_after_s=10_000, rotate_s=0))
			name = site.new_session(sid)
			listener.subscribe(name)
			site.call("create_session", session=name)
			# the monitor is up and polling, no QR yet; a random phase so its poll cadence does not line up
			time.sleep(rng.uniform(1.5, 3.5))
			t0 = time.monotonic()
			sim.set_scenario(sid, SessionOptions(qr_after_s=0, rotate_s=0))  # the gateway has the QR now
			if wait_for(lambda n=name: n in listener.received, 15):
				delays.append(listener.received[name] - t0)
			else:
				misses += 1
			sim.scan(sid)  # let the monitor stop and free its worker
			time.sleep(2.5)
		out[label] = (statistics.median(delays) if delays else None, max(delays) if delays else None, misses)
		print(f"      {label}: {[round(d, 2) for d in delays]}")
	sim.set_webhook(None)
	return out


def p3(site: Site, sim: BaileysSimulator, seconds: float) -> dict:
	out = {}
	for label, monitor in (("seed-style (no monitor)", 0), ("monitor", 1)):
		site.set_settings(use_monitor=monitor, request_wait=0)
		for forms in (1, 20):
			sid = f"p3-{monitor}-{forms}-{int(time.time())}"
			sim.set_scenario(sid, SessionOptions(qr_after_s=10_000))
			name = site.new_session(sid)
			site.call("create_session", session=name)
			time.sleep(1.0)
			before = sim.count(session_id=sid)
			stop = time.monotonic() + seconds

			def form(stop=stop, name=name):
				while time.monotonic() < stop:
					site.call("get_status", session=name, recreate=1)
					time.sleep(3.0)  # the form's poll interval

			with ThreadPoolExecutor(forms) as pool:
				for _ in range(forms):
					pool.submit(form)
			sent = sim.count(session_id=sid) - before
			out[(label, forms)] = sent * 60 / seconds
			sim.scan(sid)
			time.sleep(2.5)
	return out


def p4(site: Site, sim: BaileysSimulator, pollers: int, rounds: int) -> dict:
	"""Latency of the status call under load while the gateway hangs, next to Frappe's own floor (the
	cheapest whitelisted call, ``ping``, under the same load on the same server)."""
	seed = site.new_session(f"p4-seed-{int(time.time())}--hang")
	new = site.new_session(f"p4-new-{int(time.time())}--hang")

	def ping() -> None:
		site.http.post(f"{site.base}/api/method/ping", timeout=60).raise_for_status()

	status = lambda: site.call("get_status", session=new)  # noqa: E731
	new_settings = {"use_monitor": 0, **DEFAULT_POLICY}
	# (label, settings, calls per poller, pollers, pause between a poller's calls, call)
	cases = [
		("new, 1 poller", new_settings, rounds, 1, 0.2, status),
		# what 100 open forms do: each polls every 3 s (the default interval), starting at random times
		(f"new, {pollers} forms polling every 3 s", new_settings, rounds, pollers, 3.0, status),
		(f"floor: frappe ping, {pollers} x every 3 s", {}, rounds, pollers, 3.0, ping),
		# a stress far above what forms do: every poller calls again 0.2 s after each answer
		(f"new, {pollers} pollers every 0.2 s (stress)", new_settings, rounds, pollers, 0.2, status),
		(f"floor: frappe ping, {pollers} x every 0.2 s", {}, rounds, pollers, 0.2, ping),
		# what the seed did: every status call is one gateway read that waits for its timeout. Last, as
		# these hold the server's threads for long after they time out on the client.
		(
			"seed-style (every poll waits)",
			{"use_monitor": 0, "max_attempts": 1, "deadline": 10},
			1,
			pollers,
			3.0,
			lambda: site.call("refresh_qr", session=seed),
		),
	]
	out = {}
	# The first poll after the gateway hangs pays one status timeout (it holds the single flight and then
	# opens the breaker); report it on its own, then measure the steady state.
	site.set_settings(use_monitor=0, **DEFAULT_POLICY)
	started = time.monotonic()
	site.call("get_status", session=new)
	out["new, first call (opens the breaker)"] = (
		time.monotonic() - started,
		time.monotonic() - started,
		0,
		1,
	)
	jitter = random.Random(11)
	for label, settings, count, workers, pause, call in cases:
		if settings:
			site.set_settings(**settings)
		latencies, errors = [], 0
		lock = threading.Lock()

		def poller(call=call, count=count, pause=pause, offset=0.0):
			nonlocal errors
			time.sleep(offset)
			for _ in range(count):
				started = time.monotonic()
				try:
					call()
					ok = True
				except requests.RequestException:
					ok = False
				with lock:
					latencies.append(time.monotonic() - started)
					errors += 0 if ok else 1
				time.sleep(pause)

		with ThreadPoolExecutor(workers) as pool:
			for _ in range(workers):
				pool.submit(poller, offset=jitter.uniform(0, pause) if pause >= 1 else 0.0)
		latencies.sort()
		p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
		out[label] = (statistics.median(latencies), p99, errors, len(latencies))
	return out


def p5(site: Site, sim: BaileysSimulator, clicks: int, runs: int) -> dict:
	"""Single flight under a crowd: ``clicks`` Status calls at once on one session showing its QR, with
	nothing fresh to answer from; the gateway reads they cause within the burst's 1.5 s (target <= 3)."""
	out = {}
	for label, monitor in (("in the request (no watcher)", 0), ("through the watcher", 1)):
		site.set_settings(use_monitor=monitor, request_wait=0)  # the default in-request wait
		reads = []
		for run in range(runs):
			sid = f"p5-{monitor}-{run}-{int(time.time())}"
			sim.set_scenario(sid, SessionOptions(qr_after_s=0, rotate_s=0))
			name = site.new_session(sid)
			site.call("create_session", session=name)
			time.sleep(DEFAULT_POLICY["poll_interval"] + 0.5)  # older than the poll interval: nothing fresh
			before = sim.count(endpoint="status", session_id=sid)
			started = time.monotonic()
			with ThreadPoolExecutor(clicks) as pool:
				for _ in range(clicks):
					pool.submit(site.call, "get_status", session=name, recreate=1)  # as the form polls
			time.sleep(max(0.0, started + 1.5 - time.monotonic()))
			reads.append(sim.count(endpoint="status", session_id=sid) - before)
			sim.scan(sid)
		out[label] = (statistics.median(reads), max(reads), reads)
	return out


def main() -> int:
	# SIGTERM unwinds through the same cleanup as Ctrl-C
	signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--base", default="http://127.0.0.1:8000")
	ap.add_argument("--socket", default="http://127.0.0.1:9000")
	ap.add_argument("--site", default="wa.localhost")
	ap.add_argument("--user", default="Administrator")
	ap.add_argument("--password", default="admin")
	ap.add_argument("--runs", type=int, default=10)
	ap.add_argument("--p3-seconds", type=float, default=30)
	ap.add_argument("--pollers", type=int, default=100)
	ap.add_argument("--clicks", type=int, default=20, help="P5: Status calls at once")
	ap.add_argument("--only", default="P1,P2,P3,P4,P5", help="a comma-separated subset")
	args = ap.parse_args()
	only = set(args.only.upper().split(","))

	site = Site(args.base, args.user, args.password, args.site)
	saved = {k: v for k, v in site.settings().items() if k in SETTINGS_FIELDS}
	webhook_url = f"{args.base}/api/method/whatsapp_crm.api.webhook.receive?gateway={GATEWAY}"
	with BaileysSimulator(api_key=KEY, scenario="qr_now") as sim:
		# the default policy (see docs/architecture.md, 'QR acquisition'), whatever the site had
		site.set_gateway(
			GATEWAY,
			enabled=1,
			is_default=1,
			gateway_type="Baileys REST",
			gateway_url=sim.url,
			api_key=KEY,
			webhook_secret=SECRET,
		)
		site.set_settings(enabled=1, monitor_cap=30, **DEFAULT_POLICY)
		listener = Listener(site, args.socket, args.site) if "P2" in only else None
		try:
			if "P1" in only:
				print("P1 create request wall time, gateway hangs")
				for label, (median, worst, modes) in p1(site, sim, min(args.runs, 3)).items():
					print(
						f"   {label:<42} median {median:6.2f}s  worst {worst:6.2f}s  monitor={sorted(set(modes))}"
					)
			if "P2" in only:
				print("P2 simulator has the QR -> realtime client receives it")
				for label, (median, worst, misses) in p2(site, sim, listener, args.runs, webhook_url).items():
					shown = (
						f"median {median:6.3f}s  worst {worst:6.3f}s" if median is not None else "no delivery"
					)
					print(f"   {label:<42} {shown}  missed {misses}/{args.runs}")
			if "P3" in only:
				print(f"P3 gateway requests per minute, one waiting session ({args.p3_seconds:g} s each)")
				for (label, forms), rate in p3(site, sim, args.p3_seconds).items():
					print(f"   {label:<42} {forms:>2} form(s) open: {rate:6.1f}/min")
			if "P4" in only:
				print(f"P4 status call latency, {args.pollers} concurrent pollers, gateway hangs")
				for label, (median, p99, errors, total) in p4(site, sim, args.pollers, 10).items():
					print(
						f"   {label:<42} p50 {median * 1000:8.1f} ms  p99 {p99 * 1000:8.1f} ms  errors {errors}/{total}"
					)
			if "P5" in only:
				print(f"P5 gateway reads caused by {args.clicks} Status calls at once on one session (1.5 s)")
				for label, (median, worst, reads) in p5(site, sim, args.clicks, min(args.runs, 5)).items():
					verdict = "PASS" if worst <= 3 else "MISS"
					print(
						f"   {label:<42} median {median:4.1f}  worst {worst}  runs {reads}  target <= 3 {verdict}"
					)
		except KeyboardInterrupt:
			print("interrupted")
		finally:
			if listener:
				listener.close()
			restore(site, saved)
	return 0


def restore(site: Site, saved: dict) -> None:
	"""Leave the site as it was found, whatever happened: a load step can hold every server thread for a
	minute after it ends, so wait until the site answers again, then retry each write with a long timeout."""
	deadline = time.monotonic() + 300
	while time.monotonic() < deadline:
		try:
			site.http.post(f"{site.base}/api/method/ping", timeout=30).raise_for_status()
			break
		except requests.RequestException:
			time.sleep(5)
	for attempt in range(5):
		try:
			r = site.http.put(
				f"{site.base}/api/resource/WhatsApp CRM Settings/WhatsApp CRM Settings",
				json=saved,
				timeout=120,
			)
			r.raise_for_status()
			break
		except requests.RequestException as e:
			print(f"(restoring the settings, attempt {attempt + 1}: {e})")
			time.sleep(10)
	else:
		print("!! could not restore WhatsApp CRM Settings; put these back by hand:", saved)
	left = []
	for name in created:
		try:
			site.http.delete(f"{site.base}/api/resource/WhatsApp Session/{name}", timeout=120)
		except requests.RequestException:
			left.append(name)
	print(f"(site restored: settings, {len(created) - len(left)} benchmark sessions removed)")
	# Passwords never leave a Frappe site over REST, so they cannot be read here to be put back.
	print(
		"(the API Key and Webhook Secret are still the benchmark's: set them again in WhatsApp CRM Settings,"
	)
	print(" or use benchmarks/bench_scale.py, which runs inside the bench and restores them too)")
	if left:
		print("!! sessions left behind:", left)


if __name__ == "__main__":
	raise SystemExit(main())
