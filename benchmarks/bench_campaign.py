"""Campaign numbers (``make bench-campaign``): a campaign paced by its number's sending policy, an agent's reply
while it runs, pause / resume / a killed worker, and preparing a campaign over 50,000 Leads. Runs against a
real Frappe site with Frappe CRM and frappe_whatsapp, inside the bench's Python, with the gateway simulator
in this process; the sends are made by the bench's own workers (the scheduler's ``outbox.sweep`` keeps a
Running campaign going). Prints numbers and a PASS/FAIL line per target; asserts nothing.

S1  N (1000) Leads with distinct numbers, one number whose policy is 20 per minute (1200 / hour, 10000 / day
    and new chats, no warm-up, no quiet hours, gaps 1-2 s, typing on): from the simulator's receive times,
    the most sends in any 60 s window (target <= 20), each recipient once (distinct numbers and sends vs N),
    wall time first -> last receive against ``expected_campaign_s`` (target within 5%).
S2  While a campaign runs (the S1 one, or a short one of its own): an agent's reply (a WhatsApp Message
    inserted as CRM does, to a number that wrote in first) from its insert commit to the simulator's receive
    time, ~5 times: median and max (target <= 3 s).
S3  Pause: from the pause commit to the last send of that campaign the simulator receives (target <= 2 s);
    resume; the worker that sends (the long queue's) SIGKILLed mid-campaign (its process group: the work horse too) and
    started again by bench-ctl.sh: sends per number at the simulator vs recipients sent (none lost, none twice).
S4  A campaign over 50,000 Leads (bulk-inserted, with duplicates and opted-out numbers): ``campaigns.prepare``
    wall time (target <= 30 s) and ``campaigns.progress`` p50 / p95 over 50 calls.

Everything it creates is named ``wabench-camp-*`` and removed afterwards, even on failure.

    cd frappe-bench/sites && ../env/bin/python /path/to/whatsapp_crm/benchmarks/bench_campaign.py --site SITE \\
        [--only S1,S2,S3,S4] [--s1-recipients 1000]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import frappe  # the bench's own
from frappe.utils import now_datetime

from whatsapp_crm.gateway.adapters import make_client
from whatsapp_crm.gateway.client import Timeouts
from whatsapp_crm.simulator import SessionOptions, make_simulator

PREFIX = "wabench-camp-"
KEY = "wabench-camp-key"
GATEWAY = "wabench-camp-gateway"
LEAD = "CRM Lead"
LINKED_PHONE = "34911222444"
BENCH_CTL = "/work/shared/bench/bench-ctl.sh"
# Each part's numbers in a range of their own (none ends in 000: the simulator has no WhatsApp there).
BASES = {"S1": 610000000, "S2": 620000000, "S3": 630000000, "S4": 640000000, "reply": 650000000}
S1_POLICY = {
	"send_per_minute": 20,
	"send_per_hour": 1200,
	"send_per_day": 10000,
	"new_chats_per_day": 10000,
	"warmup_days": 0,
	"quiet_from": None,
	"quiet_to": None,
	"show_typing": 1,
	"gap_min_s": 1,
	"gap_max_s": 2,
	"linked_on": None,
}


def commit() -> None:
	frappe.db.commit()  # nosemgrep: a benchmark sets the site up through its own connection


def verdict(ok: bool) -> str:
	return "PASS" if ok else "FAIL"


def pct(values: list[float], q: float) -> float:
	ordered = sorted(values)
	return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def number(part: str, i: int) -> str:
	return f"34{BASES[part] + i * 10 + 1}"


def digits(chat: str) -> str:
	return re.sub(r"\D", "", (chat or "").split("@")[0])


def workers_for(queue: str) -> int:
	from frappe.utils.background_jobs import get_workers

	try:
		return sum(1 for w in get_workers() if any(q.split(":")[-1] == queue for q in w.queue_names()))
	except Exception:
		return 0


# -- fixtures --------------------------------------------------------------------------------------------


def cleanup() -> None:
	"""Everything named wabench-camp-*: campaigns (stopped first), recipients, messages, Leads, opt-outs,
	accounts, sessions, the gateway record, the outbox's Redis keys."""
	from whatsapp_crm.chat import campaign_recipients as cr
	from whatsapp_crm.chat import provider
	from whatsapp_crm.integration import SESSION

	frappe.db.rollback()
	sessions = frappe.get_all(SESSION, filters={"name": ("like", f"{PREFIX}%")}, pluck="name")
	names = frappe.get_all(cr.CAMPAIGN, filters={"title": ("like", f"{PREFIX}%")}, pluck="name")
	if names:  # no outbox claims for them from here on
		frappe.db.sql(
			f"update `tab{cr.CAMPAIGN}` set status = %s where name in %s", (cr.CANCELLED, tuple(names))
		)
	if sessions:
		frappe.db.sql(
			f"update `tab{SESSION}` set status = 'Disconnected' where name in %s", (tuple(sessions),)
		)
	commit()
	for name in names:
		frappe.db.delete(cr.RECIPIENT, {"campaign": name})
		frappe.db.delete(cr.NUMBER, {"parent": name})
		frappe.db.delete(cr.CAMPAIGN, name)
	accounts = frappe.get_all(
		provider.ACCOUNT, filters={"account_name": ("like", f"{PREFIX}%")}, pluck="name"
	)
	if accounts:
		# Plain deletes: delete_doc would queue one link-cleanup job per message.
		frappe.db.delete(provider.MESSAGE, {"whatsapp_account": ("in", accounts)})
		for name in accounts:
			frappe.db.delete("WhatsApp Account Role", {"parent": name})
			frappe.db.delete(provider.ACCOUNT, name)
	frappe.db.delete(LEAD, {"name": ("like", f"{PREFIX}%")})
	if sessions:
		frappe.db.delete(cr.OPT_OUT, {"session": ("in", sessions)})
	frappe.db.delete(SESSION, {"name": ("like", f"{PREFIX}%")})
	frappe.db.delete("WhatsApp Session Event", {"session": ("like", f"{PREFIX}%")})
	frappe.db.delete("Error Log", {"reference_name": ("like", f"{PREFIX}%")})
	frappe.db.delete("WhatsApp Gateway", GATEWAY)
	commit()
	for key in frappe.cache.get_keys(f"whatsapp_crm:*{PREFIX}*"):
		frappe.cache.delete(key)


def bulk_leads(tag: str, numbers: list[str | None]) -> list[str]:
	"""Leads straight into the table (no hooks): named ``<tag>-000001``, organization ``tag``."""
	status = (
		"New"
		if frappe.db.exists("CRM Lead Status", "New")
		else frappe.get_all("CRM Lead Status", pluck="name")[0]
	)
	now, user = now_datetime(), frappe.session.user
	fields = [
		"name", "creation", "modified", "owner", "modified_by", "docstatus", "idx",
		"first_name", "lead_name", "mobile_no", "organization", "status",
	]  # fmt: skip
	rows, names = [], []
	for i, n in enumerate(numbers, 1):
		name = f"{tag}-{i:06d}"
		names.append(name)
		rows.append((name, now, now, user, user, 0, 0, f"Cliente{i}", f"Cliente{i}", n, tag, status))
	frappe.db.bulk_insert(LEAD, fields, rows, chunk_size=10000)
	commit()
	return names


class Number:
	"""A session on the simulator (linked or not) backed by a WhatsApp Account, with the S1 policy."""

	def __init__(self, sim, part: str, linked: bool = True, **policy) -> None:
		from whatsapp_crm.chat import provider
		from whatsapp_crm.integration import SESSION

		self.sim = sim
		self.session = f"{PREFIX}{part.lower()}"
		if linked:
			sim.set_scenario(self.session, SessionOptions(qr_after_s=0, rotate_s=0))
			with make_client("baileys", sim.url, KEY, Timeouts(2, 5)) as client:
				client.create_session(self.session)
			sim.scan(self.session, LINKED_PHONE)
		frappe.get_doc(
			{"doctype": SESSION, "session_id": self.session, "label": self.session, "gateway": GATEWAY}
		).insert(ignore_permissions=True)
		# Connected without a history event (an event would queue a catch-up of its own).
		frappe.db.set_value(
			SESSION,
			self.session,
			{"status": "Connected" if linked else "Disconnected", **S1_POLICY, **policy},
			update_modified=False,
		)
		self.account = (
			frappe.get_doc(
				{
					"doctype": provider.ACCOUNT,
					"account_name": self.session,
					provider.SESSION_FIELD: self.session,
					"unknown_number_action": "Do nothing",
				}
			)
			.insert(ignore_permissions=True)
			.name
		)
		commit()

	def sends(self) -> list[dict]:
		return self.sim.pacing(self.session)["sends"]

	def campaign(self, tag: str, message: str = "Hola {first_name}, tenemos novedades para ti") -> str:
		from whatsapp_crm.chat import campaigns

		doc = frappe.get_doc(
			{
				"doctype": campaigns.CAMPAIGN,
				"title": f"{tag} {frappe.generate_hash(length=6)}",
				"source": LEAD,
				"filters": frappe.as_json([[LEAD, "organization", "=", tag]]),
				"message": message,
				"numbers": [{"session": self.session}],
			}
		).insert(ignore_permissions=True)
		commit()
		return doc.name


def start(name: str) -> float:
	"""start + prepare here, in one transaction until prepare commits (so the long worker's own prepare job,
	queued on that commit, finds the campaign Running and does nothing); then the commit that queues the
	outbox's flush. Returns prepare's wall time."""
	from whatsapp_crm.chat import campaigns

	campaigns.start(name)
	started = time.perf_counter()
	campaigns.prepare(name)
	took = time.perf_counter() - started
	commit()
	return took


def recipient_stats(name: str) -> dict:
	from whatsapp_crm.chat import campaign_recipients as cr

	frappe.db.rollback()
	rows = frappe.get_all(
		cr.RECIPIENT, filters={"campaign": name}, fields=["number", "status"], limit_page_length=0
	)
	return {
		"by_status": dict(Counter(r.status for r in rows)),
		"sent": sum(1 for r in rows if r.status in (cr.SENT, cr.DELIVERED, cr.READ, cr.REPLIED)),
		"numbers": {r.number for r in rows},
		"waiting_numbers": {r.number for r in rows if r.status not in (cr.SKIPPED,)},
	}


def campaign_status(name: str) -> str:
	from whatsapp_crm.chat import campaigns

	frappe.db.rollback()
	return frappe.db.get_value(campaigns.CAMPAIGN, name, "status")


# -- S2: an agent's reply while a campaign runs -----------------------------------------------------------


class Replies:
	"""Customers who wrote first, and the agent's answer to each, inserted as CRM's tab inserts it."""

	def __init__(self, fx: Number, count: int) -> None:
		self.fx, self.count = fx, count
		self.customers = [number("reply", i) for i in range(count)]
		self.leads = bulk_leads(f"{PREFIX}reply-{fx.session[-2:]}", [f"+{c}" for c in self.customers])
		self.committed: dict[str, float] = {}

	def send(self, i: int) -> None:
		from whatsapp_crm.chat import inbound, provider
		from whatsapp_crm.gateway.messaging import InboundMessage

		customer = self.customers[i]
		inbound.receive(
			self.fx.session,
			InboundMessage(
				id=f"{PREFIX}in-{i}-{frappe.generate_hash(length=6)}",
				chat=customer,
				from_me=False,
				text="Hola, ¿a qué hora abren mañana?",
				media=None,
				reply_to=None,
				timestamp=int(time.time()),
				push_name=f"Cliente {i}",
			),
		)
		commit()
		frappe.get_doc(
			{
				"doctype": provider.MESSAGE,
				"type": "Outgoing",
				"to": f"+{customer}",
				"message": "Abrimos a las 9:00, ¡le esperamos!",
				"content_type": "text",
				"whatsapp_account": self.fx.account,
				"reference_doctype": LEAD,
				"reference_name": self.leads[i],
			}
		).insert(ignore_permissions=True)
		commit()  # the outbox's flush is queued on this commit, as after CRM's request
		self.committed[customer] = time.time()

	def latencies(self, wait_s: float = 60) -> list[float | None]:
		ends = time.monotonic() + wait_s
		while time.monotonic() < ends:
			got = {digits(s["to"]): s["at"] for s in self.fx.sends() if digits(s["to"]) in self.committed}
			if len(got) == len(self.committed):
				break
			time.sleep(0.5)
		return [round(got[c] - t, 2) if c in got else None for c, t in self.committed.items()]


def report_s2(lat: list[float | None], during: str) -> None:
	got = [x for x in lat if x is not None]
	med = round(statistics.median(got), 2) if got else None
	top = max(got) if got else None
	print(
		f"S2 agent reply during {during}: {len(lat)} replies, latencies (insert commit -> gateway) {lat} s\n"
		f"   median {med} s, max {top} s, never arrived {len(lat) - len(got)} "
		f"(target max <= 3 s: {verdict(bool(got) and len(got) == len(lat) and top <= 3)})",
		flush=True,
	)


# -- S1: one campaign at the number's pace ----------------------------------------------------------------


def max_in_window(times: list[float], window: float = 60.0) -> int:
	times, best, j = sorted(times), 0, 0
	for i, t in enumerate(times):
		while times[j] <= t - window:
			j += 1
		best = max(best, i - j + 1)
	return best


def run_campaign(fx: Number, part: str, count: int, replies: int) -> None:
	from whatsapp_crm.chat import campaigns
	from whatsapp_crm.chat import sending as pacing
	from whatsapp_crm.sending import policy as rules

	tag = f"{PREFIX}{part.lower()}"
	nums = [number(part, i) for i in range(count)]
	bulk_leads(tag, [f"+{n}" for n in nums])
	row = pacing.session_row(fx.session)
	policy, caps = pacing.policy_of(row), pacing.caps_of(row)
	expected = rules.expected_campaign_s(policy, caps, count)
	pace = rules.campaign_pace_s(policy, caps)
	reply = Replies(fx, replies) if replies else None
	name = fx.campaign(tag)
	print(
		f"-- {part}: {count} recipients on one number (20/min policy, pace {pace:.2f} s): expected "
		f"{expected:.0f} s; started {time.strftime('%H:%M:%S')}",
		flush=True,
	)
	prepared = start(name)
	started = time.monotonic()
	every = max(10.0, expected / (replies + 1)) if replies else 0
	next_reply, sent_replies = started + every, 0
	deadline = started + expected * 1.6 + 240
	status = None
	while time.monotonic() < deadline:
		status = campaign_status(name)
		if status in (campaigns.COMPLETED, campaigns.CANCELLED):
			break
		if reply and sent_replies < replies and time.monotonic() >= next_reply:
			reply.send(sent_replies)
			sent_replies += 1
			next_reply += every
		time.sleep(1)
	wanted = set(nums)
	sends = fx.sends()
	ours = [s for s in sends if digits(s["to"]) in wanted]
	at = sorted(s["at"] for s in ours)
	per = Counter(digits(s["to"]) for s in ours)
	wall = (at[-1] - at[0]) if len(at) > 1 else 0.0
	off = (wall - expected) / expected * 100 if expected else 0.0
	top_all = max_in_window([s["at"] for s in sends])
	top_campaign = max_in_window(at)
	stats = recipient_stats(name)
	gaps = [b - a for a, b in pairwise(at)]
	print(
		f"{part} campaign of N={count} (prepared in {prepared:.2f} s; final status {status}; recipients {stats['by_status']})\n"
		f"   most sends in any 60 s: {top_all} all sends of the number, {top_campaign} campaign only "
		f"(target <= {policy.per_minute}: {verdict(top_all <= policy.per_minute)})\n"
		f"   sends {len(ours)}, distinct numbers {len(per)} of {count}, twice {sum(1 for v in per.values() if v > 1)} "
		f"(each exactly once: {verdict(len(ours) == count and len(per) == count)})\n"
		f"   wall time first -> last receive {wall:.1f} s vs expected_campaign_s {expected:.1f} s: {off:+.1f}% "
		f"(target within 5%: {verdict(len(at) == count and abs(off) <= 5)}); gap between sends "
		f"median {statistics.median(gaps) if gaps else 0:.2f} s, min {min(gaps) if gaps else 0:.2f} s, "
		f"max {max(gaps) if gaps else 0:.2f} s",
		flush=True,
	)
	if reply:
		report_s2(reply.latencies(), f"the {part} campaign")


# -- S3: pause, resume, a killed worker -------------------------------------------------------------------


# The queue a paced outbox sends from (chat/outbox.py PACE_QUEUE): its worker is the one to kill mid-send.
SENDING_WORKER = "worker_long"


def sending_worker_pid() -> int | None:
	out = subprocess.run(["bash", BENCH_CTL, "status"], capture_output=True, text=True, check=False).stdout
	m = re.search(SENDING_WORKER + r"\s+running\s+pid\s+(\d+)", out)
	return int(m.group(1)) if m else None


def s3(fx: Number, count: int, kill_after: int) -> None:
	from whatsapp_crm.chat import campaigns

	tag = f"{PREFIX}s3"
	nums = [number("S3", i) for i in range(count)]
	wanted = set(nums)
	bulk_leads(tag, [f"+{n}" for n in nums])
	name = fx.campaign(tag)

	def ours() -> list[dict]:
		return [s for s in fx.sends() if digits(s["to"]) in wanted]

	def until(n: int, timeout: float) -> bool:
		ends = time.monotonic() + timeout
		while time.monotonic() < ends:
			if len(ours()) >= n:
				return True
			time.sleep(0.2)
		return False

	print(f"-- S3: {count} recipients, started {time.strftime('%H:%M:%S')}", flush=True)
	start(name)
	until(5, 120)
	campaigns.pause(name)  # commits inside
	paused_at = time.time()
	time.sleep(10)
	after = [s["at"] for s in ours() if s["at"] > paused_at]
	took = max(after) - paused_at if after else 0.0
	before_resume = Counter(digits(s["to"]) for s in ours())
	print(
		f"S3 pause: {sum(before_resume.values())} sent before; {len(after)} send(s) reached the gateway after the "
		f"pause commit, the last {took:.2f} s after it (target <= 2 s: {verdict(took <= 2)}); "
		f"nothing more in the next {10 - took:.0f} s",
		flush=True,
	)
	campaigns.resume(name)
	commit()  # resume's wake-up flush is queued on the commit (as at the end of the request)
	resumed = sum(before_resume.values())
	until(resumed + 3, 120)
	twice_after_resume = sum(1 for v in Counter(digits(s["to"]) for s in ours()).values() if v > 1)
	print(f"S3 resume: sending again; numbers sent twice so far {twice_after_resume}", flush=True)
	until(resumed + kill_after, 180)
	# Mid-send: a moment after a send, while the job sleeps, claims the next one or shows "typing…".
	time.sleep(1.5)
	pid = sending_worker_pid()
	killed_at_sends = len(ours())
	if pid:
		try:
			os.killpg(os.getpgid(pid), signal.SIGKILL)  # the worker and its work horse
		except ProcessLookupError:
			pid = None
	killed = time.monotonic()
	print(
		f"S3 kill: sending ({SENDING_WORKER}) pid {pid} (its process group) SIGKILLed after {killed_at_sends} sends",
		flush=True,
	)
	time.sleep(1)
	out = subprocess.run(["bash", BENCH_CTL, "start"], capture_output=True, text=True, check=False).stdout
	if f"{SENDING_WORKER} already running" in out:
		# The killed worker is a zombie nobody reaps (kill -0 still answers): bench-ctl.sh start cannot tell it
		# is dead, so restart the bench's processes instead.
		out = subprocess.run(
			["bash", BENCH_CTL, "restart"], capture_output=True, text=True, check=False
		).stdout
	print(
		"   bench-ctl.sh start: " + " | ".join(line for line in out.splitlines() if SENDING_WORKER in line),
		flush=True,
	)
	deadline = time.monotonic() + 420
	status = None
	first_after = None
	while time.monotonic() < deadline:
		if first_after is None and len(ours()) > killed_at_sends:
			first_after = time.monotonic() - killed
		status = campaign_status(name)
		if status in (campaigns.COMPLETED, campaigns.CANCELLED):
			break
		time.sleep(1)
	time.sleep(3)  # a last receipt
	per = Counter(digits(s["to"]) for s in ours())
	stats = recipient_stats(name)
	lost = len(wanted - set(per))
	twice = sum(1 for v in per.values() if v > 1)
	print(
		f"S3 after the kill: first send again {first_after if first_after is None else round(first_after, 1)} s "
		f"after it; final status {status}; recipients {stats['by_status']}\n"
		f"   at the gateway: {sum(per.values())} sends to {len(per)} of {count} numbers; sent twice {twice}, "
		f"never sent {lost}; recipients sent {stats['sent']} "
		f"(none lost, none twice: {verdict(not lost and not twice and stats['sent'] == count)})",
		flush=True,
	)


# -- S4: 50,000 Leads -------------------------------------------------------------------------------------


def s4(fx: Number, leads: int, calls: int) -> None:
	from whatsapp_crm.chat import campaign_recipients as cr
	from whatsapp_crm.chat import campaigns

	tag = f"{PREFIX}s4"
	given: list[str] = []
	opted: list[str] = []
	for i in range(leads):
		if i % 50 == 49:  # a duplicate of the Lead before it, written another way
			prev = number("S4", i - 1)
			given.append(f"+{prev[:2]} {prev[2:5]} {prev[5:8]} {prev[8:]}")
			continue
		n = number("S4", i)
		given.append(f"+{n}")
		if i % 100 == 3:
			opted.append(n)
	distinct = len({re.sub(r"\D", "", g) for g in given})
	expected_waiting = distinct - len(opted)
	t = time.perf_counter()
	bulk_leads(tag, given)
	now, user = now_datetime(), frappe.session.user
	frappe.db.bulk_insert(
		cr.OPT_OUT,
		[
			"name",
			"creation",
			"modified",
			"owner",
			"modified_by",
			"docstatus",
			"idx",
			"session",
			"number",
			"opted_out",
			"opted_out_on",
			"word",
		],
		[
			(f"{PREFIX}oo-{j:05d}", now, now, user, user, 0, 0, fx.session, n, 1, now, "STOP")
			for j, n in enumerate(opted)
		],
	)
	commit()
	inserted = time.perf_counter() - t
	name = fx.campaign(tag)
	prepared = start(name)
	progress = campaigns.progress(name)
	times = []
	for _ in range(calls):
		frappe.db.rollback()
		t = time.perf_counter()
		campaigns.progress(name)
		times.append((time.perf_counter() - t) * 1000)
	waiting = progress["by_status"].get(cr.WAITING, 0)
	print(
		f"S4 {leads} Leads ({leads - distinct} duplicates, {len(opted)} opted out) bulk-inserted in {inserted:.1f} s\n"
		f"   prepare: {prepared:.2f} s (target <= 30 s: {verdict(prepared <= 30)}); recipients {progress['total']}, "
		f"waiting {waiting} (expected {expected_waiting}: {verdict(waiting == expected_waiting)}), "
		f"skipped {progress['skipped']}\n"
		f"   progress(): p50 {statistics.median(times):.1f} ms, p95 {pct(times, 0.95):.1f} ms, "
		f"max {max(times):.1f} ms over {calls} calls",
		flush=True,
	)
	frappe.db.set_value(campaigns.CAMPAIGN, name, "status", campaigns.CANCELLED)
	commit()


# -- the run ---------------------------------------------------------------------------------------------


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--site", required=True)
	ap.add_argument(
		"--only", default="S1,S2,S3,S4", help="parts to run, e.g. S1,S2 (S2 runs inside S1 when both)"
	)
	ap.add_argument("--s1-recipients", type=int, default=1000)
	ap.add_argument("--s2-recipients", type=int, default=40, help="S2's own campaign when S1 is not run")
	ap.add_argument("--replies", type=int, default=5)
	ap.add_argument("--s3-recipients", type=int, default=30)
	ap.add_argument("--s3-kill-after", type=int, default=6, help="sends after the resume before the kill")
	ap.add_argument("--s4-leads", type=int, default=50000)
	ap.add_argument("--s4-calls", type=int, default=50)
	args = ap.parse_args()
	parts = {p.strip().upper() for p in args.only.split(",") if p.strip()}
	frappe.init(site=args.site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	from frappe.utils.scheduler import is_scheduler_disabled

	from whatsapp_crm.testing import save_gateway

	print(
		f"bench-campaign on {args.site}, parts {','.join(sorted(parts))}: {os.cpu_count()} cores; workers: "
		f"short {workers_for('short')}, long {workers_for('long')}; scheduler "
		f"{'disabled' if is_scheduler_disabled() else 'enabled'}",
		flush=True,
	)
	with make_simulator("baileys", api_key=KEY) as sim:
		try:
			cleanup()
			save_gateway(GATEWAY, sim.url, KEY, gateway_type="Baileys REST", enabled=1, is_default=0)
			commit()
			if "S4" in parts:
				s4(Number(sim, "S4", linked=False), args.s4_leads, args.s4_calls)
			if "S3" in parts:
				s3(Number(sim, "S3"), args.s3_recipients, args.s3_kill_after)
			if "S1" in parts:
				replies = args.replies if "S2" in parts else 0
				run_campaign(Number(sim, "S1"), "S1", args.s1_recipients, replies)
			elif "S2" in parts:
				run_campaign(Number(sim, "S2"), "S2", args.s2_recipients, args.replies)
		finally:
			cleanup()
			frappe.destroy()
	return 0


if __name__ == "__main__":
	sys.exit(main())
