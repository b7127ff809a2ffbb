"""Catch-up numbers (``make bench-sync``): no customer message lost or doubled when webhooks go missing, a
webhook burst hits the real endpoint, or a send job is killed mid-flush. Runs against a real Frappe site with
frappe_whatsapp, inside the bench's Python, with the gateway simulator of each type in this process.

R1  N sessions (10), the receiver down, M inbound messages each (100, over several chats, some of a chat in
    the same second), then ONE scheduled catch-up: ``catchup.run_due()`` queues a job per due session on
    ``long`` (when a worker listens there), else ``sync_session`` for each due session in a pool of 2. Wall
    time from the start of the catch-up to all stored, stored count, duplicates, lost, per-chat order (CRM
    orders by ``creation``) against the gateway's order.
R2  Right after, the same catch-up with nothing missing: gateway requests per session on the history route.
R3  A burst of B (200) signed message events, C (50) at a time, to the real webhook endpoint on --base:
    answer time p50 / p99 / max, HTTP statuses, events parked; then stored, lost and twice (a parked event
    counts as not lost once ``replay_parked()`` applied it).
R4  50 outgoing messages queued on one linked session, flushed by ``outbox.flush`` in a separate process
    (``frappe ... execute``) that is SIGKILLed when the K-th (10th) send reaches the simulator; two rounds
    on two sessions: killed just after the gateway accepted that send (before the process heard the answer:
    its claim must be *adopted*, not sent again) and killed when the send reached the gateway, before it was
    accepted (the claim's send never happened: it must be sent once, *resent*). Recovery is the scheduler's
    path: the flush lock's TTL runs out, the claim goes stale, ``outbox.sweep()`` queues a flush (on the
    ``short`` worker, or run here when there is none). ``--backdate`` sets claimed_at and creation back and
    drops the dead job's lock instead of waiting the ~60 s. Printed: sends at the gateway per message,
    adopted vs resent, final statuses.

Prints PASS/FAIL against each target; exits 1 only on a correctness failure (a message lost or doubled).
Everything it creates is named ``wabench-sync-*`` and removed afterwards; the settings it changes are put back.

    cd frappe-bench/sites && ../env/bin/python /path/to/whatsapp_crm/benchmarks/bench_sync.py --site SITE
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import frappe  # the bench's own
from frappe.utils import add_to_date, get_datetime, now_datetime

from whatsapp_crm.gateway.adapters import make_client
from whatsapp_crm.gateway.client import Timeouts, WebhookTarget
from whatsapp_crm.gateway.messaging import message_id
from whatsapp_crm.gateway.webhook import sign
from whatsapp_crm.simulator import SessionOptions, make_simulator

PREFIX = "wabench-sync-"
KEY = "wabench-sync-key"
SECRET = "wabench-sync-webhook-secret"
SETTINGS = "WhatsApp CRM Settings"
LABELS = {"baileys": "Baileys REST", "evolution": "Evolution API", "waha": "WAHA"}
RESTORED = ("enabled", "public_site_url", "sync_interval")
GATEWAY = "bench-sync"  # the benchmark's own WhatsApp Gateway record (removed afterwards)
HOOK_PATH = f"/api/method/whatsapp_crm.api.webhook.receive?gateway={GATEWAY}"
LINKED_PHONE = "34911222333"
FAILED_CHECKS: list[str] = []  # correctness failures (lost or doubled messages): the exit code


def commit() -> None:
	frappe.db.commit()  # nosemgrep: a benchmark sets the site up through its own connection


def verdict(ok: bool) -> str:
	return "PASS" if ok else "FAIL"


def correctness(ok: bool, what: str, valid: bool = True) -> str:
	if not valid:
		return "INVALID (another process changed the settings meanwhile)"
	if not ok:
		FAILED_CHECKS.append(what)
	return verdict(ok)


class Guard:
	"""WhatsApp CRM Settings are the site's one gateway: another process saving them (a test run) points
	the jobs at its own gateway. A part during which they changed is reported as invalid, not as a failure."""

	def __init__(self) -> None:
		self.modified: str | None = None
		self.interfered: list[str] = []

	@staticmethod
	def current() -> str:
		frappe.db.rollback()  # a fresh snapshot (nothing is pending at the check points)
		rows = frappe.db.sql(
			"select value from `tabSingles` where doctype = %s and field = 'modified'", SETTINGS
		)
		return str(rows[0][0]) if rows else ""

	def mark(self) -> None:
		self.modified = self.current()

	def check(self, part: str) -> bool:
		if self.current() == self.modified:
			return True
		self.interfered.append(part)
		print(f"   !! {part}: WhatsApp CRM Settings were saved by another process during this part")
		return False


def chat_number(session_no: int, chat_no: int) -> str:
	return f"3460077{session_no:02d}{chat_no:03d}"


def pct(values: list[float], q: float) -> float:
	ordered = sorted(values)
	return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def workers_for(queue: str) -> int:
	from frappe.utils.background_jobs import get_workers

	try:
		return sum(1 for w in get_workers() if any(q.split(":")[-1] == queue for q in w.queue_names()))
	except Exception:
		return 0


# -- settings --------------------------------------------------------------------------------------------


class SavedSettings:
	def __init__(self) -> None:
		settings = frappe.get_single(SETTINGS)
		self.values = {k: settings.get(k) for k in RESTORED}

	def restore(self, guard: Guard | None = None) -> None:
		frappe.db.rollback()
		if guard is not None and guard.modified is not None and guard.current() != guard.modified:
			print("settings not restored: another process saved them after this benchmark did")
			return
		save_settings(self.values)
		frappe.db.delete("WhatsApp Gateway", GATEWAY)
		commit()


def configure(gateway_type: str, sim_url: str, base: str) -> None:
	from whatsapp_crm.testing import save_gateway

	interval = int(frappe.db.get_single_value(SETTINGS, "sync_interval") or 0)
	save_settings(
		{
			"enabled": 1,
			"public_site_url": base,
			"sync_interval": interval or 10,  # 0 would switch the schedule off
		}
	)
	save_gateway(
		GATEWAY,
		sim_url,
		KEY,
		gateway_type=LABELS[gateway_type],
		webhook_secret=SECRET,
		enabled=1,
		is_default=0,
	)
	commit()


def save_settings(values: dict) -> None:
	"""Saved through the document (its validation, the passwords); read again if someone saved it meanwhile."""
	for attempt in range(5):
		settings = frappe.get_single(SETTINGS)
		settings.update(values)
		try:
			settings.save(ignore_permissions=True)
		except frappe.TimestampMismatchError:
			frappe.db.rollback()
			if attempt == 4:
				raise
			time.sleep(0.2)
			continue
		commit()
		return


# -- fixture ---------------------------------------------------------------------------------------------


def cleanup() -> None:
	"""Everything named wabench-sync-*: messages, profiles, accounts, sessions, their events and logs."""
	from whatsapp_crm.chat import parked, provider
	from whatsapp_crm.integration import SESSION

	frappe.db.rollback()
	accounts = frappe.get_all(
		provider.ACCOUNT, filters={"account_name": ("like", f"{PREFIX}%")}, pluck="name"
	)
	if accounts:
		# Plain deletes: delete_doc would queue one link-cleanup job per message.
		frappe.db.delete(provider.MESSAGE, {"whatsapp_account": ("in", accounts)})
		if frappe.db.table_exists("WhatsApp Profiles"):
			frappe.db.delete("WhatsApp Profiles", {"whatsapp_account": ("in", accounts)})
		for name in accounts:
			frappe.db.delete("WhatsApp Account Role", {"parent": name})
			frappe.db.delete(provider.ACCOUNT, name)
	frappe.db.delete(SESSION, {"name": ("like", f"{PREFIX}%")})
	frappe.db.delete("WhatsApp Session Event", {"session": ("like", f"{PREFIX}%")})
	frappe.db.delete("Error Log", {"reference_name": ("like", f"{PREFIX}%")})
	frappe.db.delete("Error Log", {"error": ("like", f"%{PREFIX}%")})  # a job's traceback names its session
	frappe.db.delete(parked.PARKED, {"session_id": ("like", f"{PREFIX}%")})
	commit()


class Fixture:
	"""N linked sessions on one simulator, each backing a WhatsApp Account, with the receiver down."""

	def __init__(self, gateway_type: str, sim, base: str, sessions: int) -> None:
		from whatsapp_crm.chat import catchup, provider
		from whatsapp_crm.integration import SESSION

		self.gateway_type, self.sim, self.base = gateway_type, sim, base
		self.sessions = [f"{PREFIX}{gateway_type}-{i:02d}" for i in range(sessions)]
		hook = f"{base}{HOOK_PATH}"
		if gateway_type == "baileys":
			sim.set_webhook(hook, SECRET, "hmac")
		target = WebhookTarget(url=hook, secret=SECRET)
		with make_client(gateway_type, sim.url, KEY, Timeouts(2, 5), webhook=target) as client:
			for sid in self.sessions:
				sim.set_scenario(sid, SessionOptions(qr_after_s=0, rotate_s=0))
				client.create_session(sid)
				sim.scan(sid, LINKED_PHONE)
		now_ts = int(time.time())
		self.accounts: dict[str, str] = {}
		for sid in self.sessions:
			frappe.get_doc({"doctype": SESSION, "session_id": sid, "label": sid, "gateway": GATEWAY}).insert(
				ignore_permissions=True
			)
			# Connected without a history event (an event would queue a catch-up and a flush of its own), and
			# synced just now, so the scheduler leaves it alone until the benchmark makes it due.
			state = catchup.dump_state(catchup.SyncState(watermark=now_ts))
			frappe.db.set_value(
				SESSION,
				sid,
				{"status": "Connected", "sync_state": state, "last_sync_at": now_datetime()},
				update_modified=False,
			)
			account = frappe.get_doc(
				{"doctype": provider.ACCOUNT, "account_name": sid, provider.SESSION_FIELD: sid}
			).insert(ignore_permissions=True)
			self.accounts[sid] = account.name
		commit()
		sim.set_receiver_down(True)

	def make_due(self) -> None:
		from whatsapp_crm.integration import SESSION, get_settings

		interval = int(get_settings().sync_interval or 10)
		frappe.db.set_value(
			SESSION,
			{"name": ("in", self.sessions)},
			"last_sync_at",
			add_to_date(now_datetime(), minutes=-interval, seconds=-30),
			update_modified=False,
		)
		commit()

	def incoming(self, fields: list[str], **filters) -> list:
		from whatsapp_crm.chat import provider

		frappe.db.rollback()  # a fresh snapshot
		return frappe.get_all(
			provider.MESSAGE,
			filters={"whatsapp_account": ("in", list(self.accounts.values())), "type": "Incoming", **filters},
			fields=fields,
			order_by="creation asc, name asc",
			limit_page_length=0,
		)


# -- R1 / R2: the scheduled catch-up ---------------------------------------------------------------------


def _sync_in_thread(site: str, session: str) -> dict:
	from whatsapp_crm.chat import catchup

	frappe.init(site=site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	try:
		return catchup.sync_session(session, catchup.SCHEDULE)
	finally:
		frappe.destroy()


def scheduled_catchup(fx: Fixture, site: str, use_workers: bool) -> tuple[float, list]:
	"""One scheduled catch-up of the fixture's sessions; returns (started monotonic, inline results)."""
	from whatsapp_crm.chat import catchup
	from whatsapp_crm.integration import get_settings

	fx.make_due()
	started = time.monotonic()
	if use_workers:
		catchup.run_due()
		commit()  # the jobs are queued after the commit
		return started, []
	interval = int(get_settings().sync_interval or 10)
	due = [s for s in catchup.due_sessions(now_datetime(), interval, False) if s in fx.sessions]
	with ThreadPoolExecutor(2) as pool:
		results = list(pool.map(lambda s: _sync_in_thread(site, s), due))
	return started, results


def wait_jobs(fx: Fixture, since, timeout: float) -> list:
	"""Until every session's last_sync_at is at or after ``since`` (its catch-up ended)."""
	from whatsapp_crm.integration import SESSION

	ends = time.monotonic() + timeout
	rows: list = []
	while time.monotonic() < ends:
		frappe.db.rollback()
		rows = frappe.get_all(
			SESSION,
			filters={"name": ("in", fx.sessions)},
			fields=["name", "last_sync_at", "last_sync_found", "last_sync_error", "sync_state"],
		)
		if all(r.last_sync_at and get_datetime(r.last_sync_at) >= since for r in rows):
			break
		time.sleep(0.2)
	return rows


def r1(fx: Fixture, site: str, use_workers: bool, per_session: int, chats: int, timeout: float) -> dict:
	sim = fx.sim
	t0 = int(time.time()) - 120  # the outage began two minutes ago
	expected: dict[tuple[str, str], list[str]] = {}
	ids: set[str] = set()
	for s_no, sid in enumerate(fx.sessions):
		for j in range(per_session):
			chat = chat_number(s_no, (j // 4) % chats)  # four in a row on a chat, two to a second
			text = f"{PREFIX}in {fx.gateway_type} s{s_no:02d} m{j:03d}"
			ids.add(message_id(sim.inbound(sid, chat, text, timestamp=t0 + j // 2)))
			expected.setdefault((sid, "+" + chat), []).append(text)
	total = len(ids)
	ends = time.monotonic() + 10
	while sim._wh_queue and time.monotonic() < ends:  # the sender drops what was queued while down
		time.sleep(0.05)
	dropped = sim.webhook_dropped
	marker = now_datetime()
	started, inline = scheduled_catchup(fx, site, use_workers)
	stored = 0
	all_stored_s = None
	ends = started + timeout
	while time.monotonic() < ends:
		stored = len(fx.incoming(["name"]))
		if stored >= total:
			all_stored_s = time.monotonic() - started
			break
		time.sleep(0.2)
	jobs = wait_jobs(fx, marker, max(5.0, ends - time.monotonic()))
	jobs_done_s = time.monotonic() - started
	rows = fx.incoming(["name", "message_id", "message", "from", "whatsapp_account", "creation"])
	per_id = Counter(r.message_id for r in rows)
	account_session = {v: k for k, v in fx.accounts.items()}
	got: dict[tuple[str, str], list[str]] = {}
	for r in rows:  # already in CRM's order: creation, then name
		got.setdefault((account_session[r.whatsapp_account], r["from"]), []).append(r.message)
	in_order = sum(1 for key, texts in expected.items() if got.get(key) == texts)
	bad = [key for key, texts in expected.items() if got.get(key) != texts]
	example = None
	if bad:
		key = bad[0]
		mine, theirs = got.get(key, []), expected[key]
		at = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), None)
		example = {"chat": key[1], "session": key[0], "first_difference_at": at}
	return {
		"mode": (
			f"run_due() -> {len(fx.sessions)} jobs on `long` ({workers_for('long')} worker(s))"
			if use_workers
			else "here, not on a worker: sync_session of each due session in a pool of 2 threads"
		),
		"sent": total,
		"webhooks_dropped": dropped,
		"all_stored_s": None if all_stored_s is None else round(all_stored_s, 2),
		"jobs_done_s": round(jobs_done_s, 2),
		"stored": len(rows),
		"twice": sum(1 for n in per_id.values() if n > 1),
		"lost": len(ids - set(per_id)),
		"chats_in_order": in_order,
		"chats": len(expected),
		"order_example": example,
		"found_per_job": sorted(int(j.last_sync_found or 0) for j in jobs),
		"job_errors": sorted({j.last_sync_error for j in jobs if j.last_sync_error}),
		"inline": [{k: r.get(k) for k in ("found", "pages", "complete", "error")} for r in inline][:2],
	}


def r2(fx: Fixture, site: str, use_workers: bool, timeout: float) -> dict:
	sim = fx.sim
	before = len(fx.incoming(["name"]))
	sim.reset_log()
	marker = now_datetime()
	started, _ = scheduled_catchup(fx, site, use_workers)
	jobs = wait_jobs(fx, marker, timeout)
	took = time.monotonic() - started
	history = {sid: sim.count("history", sid) for sid in fx.sessions}
	requests_ = sim.requests
	others = Counter(
		e["endpoint"]
		for e in requests_
		if e["endpoint"] != "history" and e["session_id"] in (None, *fx.sessions)
	)
	return {
		"history_requests_per_session": sorted(history.values()),
		"max": max(history.values()),
		"other_requests": dict(others),
		"found": sum(int(j.last_sync_found or 0) for j in jobs),
		"stored_before_after": (before, len(fx.incoming(["name"]))),
		"all_done_s": round(took, 2),
	}


# -- R3: a webhook burst ---------------------------------------------------------------------------------


def event_body(gateway_type: str, session_id: str, chat: str, mid: str, text: str) -> dict:
	if gateway_type == "evolution":
		key = {"remoteJid": f"{chat}@s.whatsapp.net", "fromMe": False, "id": mid}
		return {
			"event": "messages.upsert",
			"instance": session_id,
			"data": {"key": key, "message": {"conversation": text}},
		}
	if gateway_type == "waha":
		payload = {"id": f"false_{chat}@c.us_{mid}", "from": f"{chat}@c.us", "fromMe": False, "body": text}
		return {"event": "message.any", "session": session_id, "payload": payload}
	return {
		"event": "message",
		"sessionId": session_id,
		"id": f"evt-{mid}",
		"message": {"id": mid, "chat": chat, "text": text},
	}


def r3(fx: Fixture, base: str, burst: int, concurrency: int, warmup: int) -> dict:
	from whatsapp_crm.chat import parked as parked_events

	local = threading.local()
	tag = frappe.generate_hash(length=6).upper()
	site = frappe.local.site  # frappe.local is this thread's: the posting threads get the name

	def post(raw: bytes) -> tuple[float, int, dict, dict]:
		http = getattr(local, "http", None)
		if http is None:
			http = local.http = requests.Session()
		headers = {
			"Content-Type": "application/json",
			# gunicorn serves the site the Host names (bench serve falls back to the default site)
			"X-Frappe-Site-Name": site,
			**sign(raw, SECRET, int(time.time())),
		}
		started = time.perf_counter()
		try:
			r = http.post(f"{base}{HOOK_PATH}", data=raw, headers=headers, timeout=60)
		except requests.RequestException as e:
			return time.perf_counter() - started, 0, {"error": type(e).__name__}, {}
		took = time.perf_counter() - started
		try:
			data = r.json()
		except ValueError:
			data = {}
		return (
			took,
			r.status_code,
			data.get("message", data) if isinstance(data, dict) else {},
			dict(r.headers),
		)

	def bodies(kind: str, count: int) -> tuple[list[bytes], list[str]]:
		raws, mids = [], []
		for i in range(count):
			s_no = i % len(fx.sessions)
			sid = fx.sessions[s_no]
			mid = f"WBS{kind}{tag}{i:04d}"
			text = f"{PREFIX}burst {fx.gateway_type} {kind} {i:03d}"
			raws.append(
				json.dumps(event_body(fx.gateway_type, sid, chat_number(s_no, i % 3), mid, text)).encode()
			)
			mids.append(mid)
		return raws, mids

	# Warm the web workers (modules, caches), as a running site is; these are not counted.
	warm_raws, _ = bodies("W", warmup)
	with ThreadPoolExecutor(min(16, max(1, warmup))) as pool:
		warm = list(pool.map(post, warm_raws))

	def ping(_: object) -> float:
		"""Frappe's own cheapest call, in the same burst: the floor the webhook is compared with."""
		http = getattr(local, "http", None)
		if http is None:
			http = local.http = requests.Session()
		started = time.perf_counter()
		try:
			http.post(f"{base}/api/method/ping", headers={"X-Frappe-Site-Name": site}, timeout=60)
		except requests.RequestException:
			pass
		return time.perf_counter() - started

	raws, mids = bodies("B", burst)
	started = time.monotonic()
	# One burst, the webhooks and as many pings interleaved, `concurrency` requests at a time.
	with ThreadPoolExecutor(concurrency) as pool:
		hooks, pings = [], []
		for raw in raws:
			hooks.append(pool.submit(post, raw))
			pings.append(pool.submit(ping, None))
		answers = [f.result() for f in hooks]
		ping_times = [f.result() for f in pings]
	burst_s = time.monotonic() - started
	server = next((h.get("Server") for _, _, _, h in warm + answers if h.get("Server")), "?")
	times = [a[0] for a in answers]
	statuses = Counter(a[1] for a in answers)
	parked = sum(1 for a in answers if isinstance(a[2], dict) and a[2].get("parked"))
	# A 503 is retried by every gateway that retries, after Retry-After: so does this one, once.
	retry = [raws[i] for i, a in enumerate(answers) if a[1] >= 500 or a[1] == 0]
	retried: Counter = Counter()
	if retry:
		time.sleep(
			min(10, max(int(a[3].get("Retry-After", 1) or 1) for a in answers if a[1] >= 500 or a[1] == 0))
		)
		with ThreadPoolExecutor(concurrency) as pool:
			retried = Counter(a[1] for a in pool.map(post, retry))
	# Parked events: the webhook queued a replay on `short`; give it a moment, then replay what is left here.
	ends = time.monotonic() + 20
	while time.monotonic() < ends and len(fx.incoming(["name"], message_id=("in", mids))) < burst:
		time.sleep(0.3)
	replayed = parked_events.replay_parked()
	commit()
	rows = fx.incoming(["message_id"], message_id=("in", mids))
	per_id = Counter(r.message_id for r in rows)
	return {
		"server": server,
		"warmup": warmup,
		"warmup_statuses": dict(Counter(a[1] for a in warm)),
		"events": burst,
		"concurrency": concurrency,
		"p50_s": round(statistics.median(times), 3),
		"p99_s": round(pct(times, 0.99), 3),
		"max_s": round(max(times), 3),
		"parked_p99_s": round(
			pct([a[0] for a in answers if isinstance(a[2], dict) and a[2].get("parked")] or [0], 0.99), 3
		),
		"inline_p99_s": round(
			pct([a[0] for a in answers if not (isinstance(a[2], dict) and a[2].get("parked"))] or [0], 0.99),
			3,
		),
		"ping_p50_s": round(statistics.median(ping_times), 3),
		"ping_p99_s": round(pct(ping_times, 0.99), 3),
		"p99_ratio": round(pct(times, 0.99) / max(1e-6, pct(ping_times, 0.99)), 2),
		"burst_s": round(burst_s, 2),
		"statuses": dict(statuses),
		"parked": parked,
		"retried": dict(retried),
		"replay_parked_here": replayed,
		"stored": len(rows),
		"lost": len(set(mids) - set(per_id)),
		"twice": sum(1 for n in per_id.values() if n > 1),
		"errors": [a[2] for a in answers if a[1] not in (200,)][:3],
	}


# -- R4: a send job killed mid-flush ---------------------------------------------------------------------


class KillSwitch:
	"""Wraps the simulator's send recording: at the K-th send of a watched session, SIGKILL its flusher."""

	def __init__(self, sim, kill_at: int) -> None:
		self.sim, self.kill_at = sim, kill_at
		self.plans: dict[str, dict] = {}
		self.original = sim._record_send
		sim._record_send = self._record_send

	def watch(self, session_id: str, mode: str) -> dict:
		plan = {"mode": mode, "seen": 0, "proc": None, "killed": False, "gateway_at_kill": None}
		self.plans[session_id] = plan
		return plan

	def _kill(self, session_id: str, plan: dict) -> None:
		proc = plan["proc"]
		if proc is not None:
			os.killpg(proc.pid, signal.SIGKILL)
		plan["killed"] = True
		plan["killed_at"] = time.monotonic()
		plan["gateway_at_kill"] = [m["text"] for m in self.sim.sent(session_id)]

	def _record_send(self, session, chat, **kwargs):
		plan = self.plans.get(session.session_id)
		if plan is None or plan["killed"]:
			return self.original(session, chat, **kwargs)
		plan["seen"] += 1
		if plan["seen"] < self.kill_at:
			return self.original(session, chat, **kwargs)
		if plan["mode"] == "before_accept":
			# The request reached the gateway, which never took it: the process dies waiting.
			self._kill(session.session_id, plan)
			raise ConnectionResetError("the sending process was killed")
		msg = self.original(session, chat, **kwargs)
		self._kill(session.session_id, plan)  # accepted; the process dies before it reads the answer
		return msg

	def close(self) -> None:
		self.sim._record_send = self.original


def r4(fx: Fixture, site: str, count: int, kill_at: int, backdate: bool) -> list[dict]:
	from whatsapp_crm.chat import outbox, provider

	sim = fx.sim
	sim.set_receiver_down(False)  # receipts come back through the webhook from now on
	rounds = [("after_accept", fx.sessions[0]), ("before_accept", fx.sessions[1])]
	switch = KillSwitch(sim, kill_at)
	docs: dict[str, list[str]] = {}
	try:
		for mode, sid in rounds:
			names = []
			for i in range(count):
				doc = frappe.get_doc(
					{
						"doctype": provider.MESSAGE,
						"type": "Outgoing",
						"to": f"+3460077999{rounds.index((mode, sid))}",
						"message": f"{PREFIX}out {fx.gateway_type} {mode} {i:02d}",
						"content_type": "text",
						"whatsapp_account": fx.accounts[sid],
					}
				).insert(ignore_permissions=True)
				names.append(doc.name)
			docs[sid] = names
		all_names = [n for names in docs.values() for n in names]
		frappe.db.after_commit.reset()  # no flush job of the site's own: the flush below is the one killed
		commit()
		python = str(Path(sys.executable))
		for mode, sid in rounds:
			plan = switch.watch(sid, mode)
			plan["proc"] = subprocess.Popen(
				[
					python,
					"-m",
					"frappe.utils.bench_helper",
					"frappe",
					"--site",
					site,
					"execute",
					"whatsapp_crm.chat.outbox.flush",
					"--kwargs",
					json.dumps({"session": sid}),
				],
				cwd=os.getcwd(),
				stdout=subprocess.PIPE,
				stderr=subprocess.STDOUT,
				start_new_session=True,
			)
			plan["started"] = time.monotonic()
		for _mode, sid in rounds:
			plan = switch.plans[sid]
			try:
				out, _ = plan["proc"].communicate(timeout=120)
			except subprocess.TimeoutExpired:
				os.killpg(plan["proc"].pid, signal.SIGKILL)
				out, _ = plan["proc"].communicate()
			plan["rc"] = plan["proc"].returncode
			plan["output"] = (out or b"").decode("utf-8", "replace")[-300:]
		# What the dead process left: read once it can change nothing more.
		frappe.db.rollback()
		fields = ["name", "message", "status", "message_id", outbox.CLAIM_FIELD, outbox.CLAIMED_AT]
		left = {
			sid: {
				r.name: r
				for r in frappe.get_all(provider.MESSAGE, filters={"name": ("in", docs[sid])}, fields=fields)
			}
			for _, sid in rounds
		}
		recovery_started = time.monotonic()
		if backdate:
			for _, sid in rounds:
				frappe.db.set_value(
					provider.MESSAGE,
					{"name": ("in", docs[sid]), outbox.CLAIM_FIELD: ("is", "set")},
					outbox.CLAIMED_AT,
					add_to_date(now_datetime(), seconds=-outbox.CLAIM_STALE_S - 5),
					update_modified=False,
				)
				# Shifted, not set: the flush sends oldest first, so the queue keeps its order.
				frappe.db.sql(
					f"""update `tab{provider.MESSAGE}`
					set creation = creation - interval {outbox.STALE_QUEUED_S + 5} second
					where name in %(names)s""",
					{"names": tuple(docs[sid])},
				)
				frappe.cache.delete(outbox._key("lock", sid))
			commit()
		else:
			# The dead job's lock runs out (LOCK_TTL_S), its claim goes stale (CLAIM_STALE_S) and its messages
			# count as waiting too long (STALE_QUEUED_S): then the sweep picks the outbox up.
			ends = time.monotonic() + outbox.STALE_QUEUED_S + outbox.CLAIM_STALE_S + 30
			while time.monotonic() < ends:
				frappe.db.rollback()
				locked = any(frappe.cache.get(outbox._key("lock", sid)) for _, sid in rounds)
				rows = frappe.get_all(
					provider.MESSAGE,
					filters={"name": ("in", all_names), "status": outbox.QUEUED},
					fields=["creation", outbox.CLAIMED_AT],
				)
				now = now_datetime()
				stale = all(
					(now - get_datetime(r.creation)).total_seconds() > outbox.STALE_QUEUED_S + 1
					and (
						not r.get(outbox.CLAIMED_AT)
						or (now - get_datetime(r.get(outbox.CLAIMED_AT))).total_seconds()
						> outbox.CLAIM_STALE_S + 1
					)
					for r in rows
				)
				if not locked and stale:
					break
				time.sleep(0.5)
		waited = time.monotonic() - recovery_started
		swept = outbox.sweep()
		commit()  # its flush jobs are queued after the commit
		by = f"sweep() -> flush on `short` ({workers_for('short')} worker(s))"
		if not workers_for("short"):
			by = "sweep() found no `short` worker: outbox.flush(session) here"
			for _, sid in rounds:
				outbox.flush(sid)
		ends = time.monotonic() + 180
		while time.monotonic() < ends:
			frappe.db.rollback()
			if not frappe.db.count(provider.MESSAGE, {"name": ("in", all_names), "status": outbox.QUEUED}):
				break
			time.sleep(0.3)
		recovered_s = time.monotonic() - recovery_started - waited
		ends = time.monotonic() + 15  # the last receipts (sent, delivered, read) come through the webhook
		while time.monotonic() < ends:
			frappe.db.rollback()
			if not frappe.db.count(provider.MESSAGE, {"name": ("in", all_names), "status": ("!=", "read")}):
				break
			time.sleep(0.3)
		frappe.db.rollback()
		results = []
		for mode, sid in rounds:
			plan = switch.plans[sid]
			final = {
				r.name: r
				for r in frappe.get_all(
					provider.MESSAGE,
					filters={"name": ("in", docs[sid])},
					fields=["name", "message", "status", "message_id"],
				)
			}
			sent = sim.sent(sid)
			per_text = Counter(m["text"] for m in sent)
			ids_by_text = {m["text"]: message_id(m["id"]) for m in sent}
			at_kill = Counter(plan["gateway_at_kill"] or [])
			before = left[sid]
			in_flight = [
				r for r in before.values() if r.status == outbox.QUEUED and r.get(outbox.CLAIM_FIELD)
			]
			adopted = [
				r
				for r in in_flight
				if at_kill[r.message]
				and per_text[r.message] == 1
				and final[r.name].message_id
				and message_id(final[r.name].message_id) == ids_by_text.get(r.message)
			]
			resent = [r for r in in_flight if not at_kill[r.message] and per_text[r.message] == 1]
			texts = [final[n].message for n in docs[sid]]
			# What CRM's tab shows: documents of the account beyond the 50 queued ones (a gateway's echo of a
			# send stored as a message of its own).
			extra = frappe.get_all(
				provider.MESSAGE,
				filters={
					"whatsapp_account": fx.accounts[sid],
					"type": "Outgoing",
					"name": ("not in", docs[sid]),
				},
				fields=["name", "message", "message_id", "status"],
			)
			shown = Counter([*texts, *(e.message for e in extra)])
			results.append(
				{
					"round": mode,
					"session": sid,
					"killed": plan["killed"],
					"flusher_rc": plan["rc"],
					"flusher_output": None if plan["killed"] else plan["output"],
					"sent_before_kill": len(plan["gateway_at_kill"] or []),
					"done_before_kill": sum(1 for r in before.values() if r.status != outbox.QUEUED),
					"claimed_by_dead_job": len(in_flight),
					"waited_s": round(waited, 1),
					"recovery": by,
					"sweep": swept,
					"recovered_s": round(recovered_s, 2),
					"backdated": backdate,
					"sends_per_message": dict(Counter(per_text[t] for t in texts)),
					"adopted": len(adopted),
					"resent": len(resent),
					"sent_by_recovery": sum(1 for t in texts if per_text[t] and not at_kill[t]),
					"final_statuses": dict(Counter(final[n].status for n in docs[sid])),
					"gateway_order_ok": [m["text"] for m in sent if m["text"] in set(texts)] == texts,
					"extra_outgoing_docs": len(extra),
					"shown_twice_in_crm": sum(1 for n in shown.values() if n > 1),
				}
			)
		return results
	finally:
		switch.close()


# -- the run ---------------------------------------------------------------------------------------------


SHOW_JSON = False


def show(gateway_type: str, name: str, result) -> None:
	if SHOW_JSON:
		print(f"[{gateway_type}] {name} {json.dumps(result, default=str)}", flush=True)


def run_type(gateway_type: str, args, guard: Guard) -> None:
	extra = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
	use_workers = not args.inline and workers_for("long") > 0
	parts = {p.strip().upper() for p in args.parts.split(",")}
	with make_simulator(gateway_type, api_key=KEY, hang_max_s=20, **extra) as sim:
		try:
			cleanup()
			configure(gateway_type, sim.url, args.base)
			guard.mark()
			fx = Fixture(gateway_type, sim, args.base, args.sessions)

			def again(part: str) -> bool:
				valid = guard.check(f"{gateway_type} {part}")
				if not valid:
					configure(gateway_type, sim.url, args.base)
					guard.mark()
				return valid

			print(f"== {gateway_type}: {args.sessions} sessions on the {gateway_type} simulator at {sim.url}")
			if "R1" in parts:
				res = r1(fx, args.site, use_workers, args.per_session, args.chats, args.timeout)
				ok = res["stored"] == res["sent"] and not res["twice"] and not res["lost"]
				valid = again("R1")
				print(
					f"R1 catch-up ({res['mode']}): {res['sent']} sent with the receiver down "
					f"({res['webhooks_dropped']} webhook deliveries dropped)\n"
					f"   all stored in {res['all_stored_s']} s (target <= 60 s: "
					f"{verdict(res['all_stored_s'] is not None and res['all_stored_s'] <= 60)}); "
					f"jobs done in {res['jobs_done_s']} s\n"
					f"   stored {res['stored']}/{res['sent']}, lost {res['lost']}, twice {res['twice']}: "
					f"{correctness(ok, f'{gateway_type} R1 lost/twice', valid)}\n"
					f"   chats in CRM order (creation) = gateway order: {res['chats_in_order']}/{res['chats']}: "
					f"{verdict(res['chats_in_order'] == res['chats'])}"
					+ (f" first mismatch {res['order_example']}" if res["order_example"] else "")
				)
				show(gateway_type, "R1", res)
			if "R2" in parts:
				res2 = r2(fx, args.site, use_workers, args.timeout)
				valid = again("R2")
				print(
					f"R2 the same catch-up again, nothing missing: history requests per session "
					f"{res2['history_requests_per_session']} (target <= 2: "
					f"{verdict(res2['max'] <= 2) if valid else 'INVALID'}); "
					f"found {res2['found']}; other gateway requests {res2['other_requests']}; "
					f"done in {res2['all_done_s']} s"
				)
				show(gateway_type, "R2", res2)
			if "R3" in parts:
				res3 = r3(fx, args.base, args.burst, args.concurrency, args.warmup)
				ok3 = not res3["lost"] and not res3["twice"]
				valid = again("R3")
				print(
					f"R3 webhook burst on {args.base} (server: {res3['server']}): {res3['events']} events, "
					f"{res3['concurrency']} at a time, after {res3['warmup']} warm-up events\n"
					f"   answer p50 {res3['p50_s']} s, p99 {res3['p99_s']} s, max {res3['max_s']} s; "
					f"HTTP {res3['statuses']}; parked {res3['parked']}; retried {res3['retried']}\n"
					f"   p99 of the parked answers {res3['parked_p99_s']} s, of those stored at once {res3['inline_p99_s']} s\n"
					f"   Frappe's ping in the same burst: p50 {res3['ping_p50_s']} s, p99 {res3['ping_p99_s']} s; "
					f"webhook p99 / ping p99 = {res3['p99_ratio']} (target <= 1.5: "
					f"{'PASS' if res3['p99_ratio'] <= 1.5 else 'MISS'})\n"
					f"   stored {res3['stored']}/{res3['events']}, lost {res3['lost']}, twice {res3['twice']}: "
					f"{correctness(ok3, f'{gateway_type} R3 lost/twice', valid)}"
				)
				show(gateway_type, "R3", res3)
			if "R4" in parts:
				results4 = r4(fx, args.site, args.outbox, args.kill_at, args.backdate)
				valid = again("R4")
				for res4 in results4:
					once = res4["sends_per_message"] == {1: args.outbox}
					print(
						f"R4 {args.outbox} queued, flusher SIGKILLed at send #{args.kill_at} ({res4['round']}): "
						f"{res4['sent_before_kill']} at the gateway and {res4['done_before_kill']} stored as sent "
						f"at the kill, {res4['claimed_by_dead_job']} claimed by the dead job\n"
						f"   recovery after {res4['waited_s']} s"
						f"{' (claims, creation and lock set back)' if res4['backdated'] else ' (lock TTL, stale claim, stale queue)'}"
						f": {res4['recovery']}, done in {res4['recovered_s']} s\n"
						f"   sends at the gateway per message {res4['sends_per_message']}: "
						f"{correctness(once, gateway_type + ' R4 ' + res4['round'] + ' sent once', valid)}; "
						f"adopted {res4['adopted']}, resent {res4['resent']}, sent by the recovery "
						f"{res4['sent_by_recovery']}; final statuses {res4['final_statuses']}; "
						f"gateway order = queue order: {verdict(res4['gateway_order_ok'])}\n"
						f"   CRM: {res4['extra_outgoing_docs']} outgoing documents beyond the {args.outbox} queued, "
						f"{res4['shown_twice_in_crm']} messages shown twice: "
						f"{correctness(not res4['shown_twice_in_crm'], gateway_type + ' R4 ' + res4['round'] + ' stored once', valid)}"
					)
					show(gateway_type, "R4", res4)
		finally:
			sim.set_receiver_down(False)
			cleanup()


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--site", required=True)
	ap.add_argument("--base", default="http://127.0.0.1:8000")
	ap.add_argument("--type", default="baileys", choices=sorted(LABELS))
	ap.add_argument("--all-types", action="store_true", help="run baileys, evolution and waha in turn")
	ap.add_argument("--sessions", type=int, default=10)
	ap.add_argument("--per-session", type=int, default=100)
	ap.add_argument("--chats", type=int, default=5)
	ap.add_argument("--burst", type=int, default=200)
	ap.add_argument("--concurrency", type=int, default=50)
	ap.add_argument("--warmup", type=int, default=16)
	ap.add_argument("--outbox", type=int, default=50)
	ap.add_argument("--kill-at", type=int, default=10)
	ap.add_argument("--timeout", type=float, default=240)
	ap.add_argument("--inline", action="store_true", help="catch up here (pool of 2), not on the long worker")
	ap.add_argument(
		"--backdate", action="store_true", help="R4: set claims and creation back instead of waiting ~60 s"
	)
	ap.add_argument("--parts", default="R1,R2,R3,R4", help="which parts to run (R2 needs R1)")
	ap.add_argument("--json", action="store_true", help="also print each result as one JSON line")
	args = ap.parse_args()
	global SHOW_JSON
	SHOW_JSON = args.json
	if args.sessions < 2:
		ap.error("--sessions must be at least 2 (R4 uses two)")
	frappe.init(site=args.site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	saved, guard = SavedSettings(), Guard()
	types = ["baileys", "evolution", "waha"] if args.all_types else [args.type]
	print(
		f"bench-sync on {args.site}: {os.cpu_count()} cores; workers: long {workers_for('long')}, "
		f"short {workers_for('short')}",
		flush=True,
	)
	try:
		for gateway_type in types:
			run_type(gateway_type, args, guard)
	finally:
		saved.restore(guard)
		frappe.destroy()
	if FAILED_CHECKS:
		print("correctness failures: " + ", ".join(FAILED_CHECKS))
		return 1
	if guard.interfered:
		print("no message lost or doubled in the valid parts; invalid: " + ", ".join(guard.interfered))
		return 2
	print("no message lost or doubled")
	return 0


if __name__ == "__main__":
	sys.exit(main())
