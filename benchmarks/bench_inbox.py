"""The inbox's numbers (``make bench-inbox BENCH=... SITE=...``), against a real Frappe site with frappe_whatsapp
and Frappe CRM. Runs inside the bench's Python; talks to the site over HTTP for what a browser would do.

I1  A burst of 50 messages from 10 new numbers, 8 webhooks at a time: Leads made (must be 10), messages linked
    (50), none stored twice; the time from the first webhook to its Lead.
I2  The inbox list with 5,000 conversations and 100,000 messages: p50/p95 of a page on the web server, and the
    queries one call makes.
(I3, a new message reaching an open inbox, is measured in the browser: tests/e2e/inbox.py.)

Everything it makes is named with a prefix and removed afterwards. Prints numbers; I1's counts decide the
exit code.

    cd frappe-bench/sites && ../env/bin/python /path/to/whatsapp_crm/benchmarks/bench_inbox.py --site SITE
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import frappe  # the bench's own

from whatsapp_crm.gateway.webhook import sign
from whatsapp_crm.simulator import make_simulator

KEY, SECRET = "bench-inbox-key", "bench-inbox-secret"
GATEWAY, SESSION, ACCOUNT = "bench-inbox", "bench-inbox-1", "Bench Inbox Account"
BASE_NUMBER = "3463"  # + 7 digits
HOOK = f"/api/method/whatsapp_crm.api.webhook.receive?gateway={GATEWAY}"


def commit() -> None:
	frappe.db.commit()  # nosemgrep: a benchmark sets the site up through its own connection


def set_up(sim_url: str) -> None:
	from whatsapp_crm.chat import leads, provider
	from whatsapp_crm.testing import save_gateway

	save_gateway(
		GATEWAY, sim_url, KEY, gateway_type="Baileys REST", webhook_secret=SECRET, enabled=1, is_default=0
	)
	if not frappe.db.exists("WhatsApp Session", SESSION):
		frappe.get_doc(
			{"doctype": "WhatsApp Session", "session_id": SESSION, "label": "bench", "gateway": GATEWAY}
		).insert(ignore_permissions=True)
	frappe.db.set_value("WhatsApp Session", SESSION, {"status": "Connected", "phone_number": "34911000000"})
	if not frappe.db.exists(provider.ACCOUNT, ACCOUNT):
		frappe.get_doc(
			{"doctype": provider.ACCOUNT, "account_name": ACCOUNT, provider.SESSION_FIELD: SESSION}
		).insert(ignore_permissions=True)
	frappe.db.set_value(provider.ACCOUNT, ACCOUNT, leads.ACTION_FIELD, leads.CREATE_LEAD)
	commit()


def clean() -> None:
	from whatsapp_crm.chat import provider

	frappe.db.rollback()
	frappe.db.sql(
		"delete r from `tabWhatsApp Conversation Read` r join `tabWhatsApp Conversation` c on r.conversation = c.name "
		"where c.whatsapp_account = %s",
		ACCOUNT,
	)
	frappe.db.delete("WhatsApp Conversation", {"whatsapp_account": ACCOUNT})
	frappe.db.delete(provider.MESSAGE, {"whatsapp_account": ACCOUNT})
	frappe.db.delete("CRM Lead", {"mobile_no": ("like", f"+{BASE_NUMBER}%")})
	frappe.db.delete("WhatsApp Parked Event", {"gateway": GATEWAY})
	frappe.db.delete(provider.ACCOUNT, ACCOUNT)
	frappe.db.delete("WhatsApp Account Role", {"parent": ACCOUNT})
	frappe.db.delete("WhatsApp Session", SESSION)
	frappe.db.delete("WhatsApp Session Event", {"session": SESSION})
	frappe.db.delete("WhatsApp Gateway", GATEWAY)
	if frappe.db.exists("User", MANAGER):
		frappe.delete_doc("User", MANAGER, force=True, ignore_permissions=True)
	commit()
	for key in frappe.cache.get_keys("whatsapp_crm:newcomer:*"):
		frappe.cache.delete(key)


def i1(base: str, site: str) -> dict:
	numbers = [f"{BASE_NUMBER}{1000000 + n:07d}" for n in range(10)]
	bodies = []
	for i in range(50):
		chat = numbers[i % 10]
		body = {
			"event": "message",
			"sessionId": SESSION,
			"id": f"bi-{i}-{int(time.time())}",
			"message": {
				"id": f"BI{i:03d}{int(time.time())}",
				"chat": chat,
				"text": f"hola {i}",
				"pushName": f"Nuevo {i % 10}",
			},
		}
		bodies.append(json.dumps(body).encode())
	http = requests.Session()
	http.headers["X-Frappe-Site-Name"] = site
	started = time.monotonic()

	def post(raw: bytes) -> int:
		headers = {"Content-Type": "application/json", **sign(raw, SECRET, int(time.time()))}
		return http.post(base + HOOK, data=raw, headers=headers, timeout=60).status_code

	with ThreadPoolExecutor(8) as pool:
		codes = list(pool.map(post, bodies))
	first_lead = None
	for _ in range(600):  # parked events are stored by the replay job
		commit()
		made = frappe.get_all(
			"CRM Lead", filters={"mobile_no": ("like", f"+{BASE_NUMBER}%")}, fields=["creation"]
		)
		if made and first_lead is None:
			first_lead = time.monotonic() - started
		linked = frappe.db.count(
			"WhatsApp Message",
			{"whatsapp_account": ACCOUNT, "reference_doctype": "CRM Lead", "message_id": ("like", "BI%")},
		)
		if linked >= 50:
			break
		time.sleep(0.1)
	stored = frappe.get_all(
		"WhatsApp Message",
		filters={"whatsapp_account": ACCOUNT, "message_id": ("like", "BI%")},
		pluck="message_id",
	)
	return {
		"answers": {c: codes.count(c) for c in set(codes)},
		"leads": len(made),
		"linked": linked,
		"stored": len(stored),
		"twice": len(stored) - len(set(stored)),
		"first_webhook_to_first_lead_s": round(first_lead or -1, 3),
		"all_linked_after_s": round(time.monotonic() - started, 3),
	}


def seed_i2(conversations: int, messages: int) -> None:
	"""5,000 conversations and 100,000 messages in bulk (plain INSERTs: what months of traffic leave)."""
	from whatsapp_crm.chat import provider

	now = time.time()
	batch = []
	per = messages // conversations
	for c in range(conversations):
		number = f"+{BASE_NUMBER}{2000000 + c:07d}"
		for m in range(per):
			at = time.strftime(
				"%Y-%m-%d %H:%M:%S", time.localtime(now - (conversations - c) * 60 - (per - m))
			)
			incoming = m % 2 == 0
			batch.append(
				(
					f"bi2-{c}-{m}",
					at,
					at,
					"Incoming" if incoming else "Outgoing",
					number if incoming else None,
					None if incoming else number,
					f"mensaje {m}",
					ACCOUNT,
					f"BI2{c:05d}{m:03d}",
				)
			)
		if len(batch) >= 5000 or c == conversations - 1:
			frappe.db.sql(
				f"""insert into `tab{provider.MESSAGE}` (name, creation, modified, type, `from`, `to`, message,
				whatsapp_account, message_id, content_type, owner, modified_by, docstatus, idx)
				values {", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, 'text', 'Administrator', 'Administrator', 0, 0)"] * len(batch))}""",
				[v for row in batch for v in row],
			)
			batch = []
		if c % 500 == 0 or c == conversations - 1:
			frappe.db.sql(
				"""insert into `tabWhatsApp Conversation` (name, creation, modified, owner, modified_by, docstatus, idx,
				whatsapp_account, number, title, last_message, last_message_at, last_direction, incoming_count)
				select concat('bi2c-', substring_index(substring_index(m.name, '-', 2), '-', -1)), now(), now(), 'Administrator',
					'Administrator', 0, 0, m.whatsapp_account, ifnull(m.`from`, m.`to`), ifnull(m.`from`, m.`to`),
					max(m.message), max(m.creation), 'Incoming', sum(m.type = 'Incoming')
				from `tabWhatsApp Message` m where m.whatsapp_account = %s and m.name like 'bi2-%%'
				group by ifnull(m.`from`, m.`to`), substring_index(substring_index(m.name, '-', 2), '-', -1)
				on duplicate key update incoming_count = values(incoming_count), last_message_at = values(last_message_at)""",
				ACCOUNT,
			)
	commit()


MANAGER = "bench-inbox-manager@example.com"
MANAGER_PASSWORD = "bench-inbox-Pass-4821"


def manager() -> str:
	"""A Sales Manager (sees unassigned conversations and may read Leads): permission conditions apply."""
	from frappe.utils.password import update_password

	from whatsapp_crm.testing import make_user

	make_user(MANAGER, ["Sales Manager", "Sales User"])
	update_password(MANAGER, MANAGER_PASSWORD)
	commit()
	return MANAGER


def i2(base: str, site: str, runs: int, user: str = "Administrator", password: str | None = None) -> dict:
	http = requests.Session()
	http.headers["X-Frappe-Site-Name"] = site
	http.post(
		base + "/api/method/login", json={"usr": user, "pwd": password or ARGS.password}, timeout=30
	).raise_for_status()
	url = base + "/api/method/whatsapp_crm.api.inbox.conversations_page"
	times = {"all": [], "unassigned": [], "search": []}
	for _ in range(3):  # warm the workers
		http.get(url, params={"scope": "all"}, timeout=60)
	for i in range(runs):
		for label, params in (
			("all", {"scope": "all", "start": (i % 10) * 20}),
			("unassigned", {"scope": "unassigned"}),
			("search", {"scope": "all", "search": f"{2000000 + i * 37:07d}"}),
		):
			started = time.monotonic()
			r = http.get(url, params=params, timeout=60)
			r.raise_for_status()
			times[label].append(time.monotonic() - started)
	# queries per call, counted in this process (the same code the web server runs)
	from whatsapp_crm.api import inbox

	frappe.set_user(user)
	counted = []
	real_sql = frappe.db.sql

	def counting(*a, **kw):
		counted.append(1)
		return real_sql(*a, **kw)

	inbox.conversations_page(scope="all")  # the caches a running worker has (meta, roles, permissions)
	frappe.db.sql = counting
	try:
		inbox.conversations_page(scope="all")
	finally:
		frappe.db.sql = real_sql
	out = {}
	for label, values in times.items():
		values.sort()
		out[label] = {
			"p50_ms": round(statistics.median(values) * 1000, 1),
			"p95_ms": round(values[int(len(values) * 0.95) - 1] * 1000, 1),
			"n": len(values),
		}
	out["queries_per_call"] = len(counted)
	plan = frappe.db.sql(
		"""explain select c.name from `tabWhatsApp Conversation` c where c.whatsapp_account is not null
		order by c.last_message_at desc limit 21""",
		as_dict=True,
	)
	out["plan"] = [(p.get("table"), p.get("type"), p.get("key")) for p in plan]
	return out


def main() -> int:
	frappe.init(site=ARGS.site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	failed = False
	try:
		clean()
		with make_simulator("baileys", api_key=KEY, start=True) as sim:
			set_up(sim.url)
			if "I1" in ARGS.only:
				r = i1(ARGS.base, ARGS.site)
				ok = r["leads"] == 10 and r["linked"] == 50 and r["twice"] == 0
				failed |= not ok
				print(f"I1 50 messages from 10 new numbers, 8 webhooks at a time: {'PASS' if ok else 'FAIL'}")
				print(f"   {json.dumps(r)}")
			if "I2" in ARGS.only:
				seed_i2(ARGS.conversations, ARGS.messages)
				print(
					f"I2 the inbox list over {ARGS.conversations} conversations and {ARGS.messages} messages (HTTP, {ARGS.base})"
				)
				print(f"   as Administrator: {json.dumps(i2(ARGS.base, ARGS.site, ARGS.runs))}")
				r = i2(ARGS.base, ARGS.site, ARGS.runs, manager(), MANAGER_PASSWORD)
				print(f"   as a Sales Manager (permission conditions): {json.dumps(r)}")
	finally:
		clean()
		frappe.destroy()
	return 1 if failed else 0


if __name__ == "__main__":
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--site", required=True)
	ap.add_argument("--base", default="http://127.0.0.1:8000")
	ap.add_argument("--password", default="admin")
	ap.add_argument("--conversations", type=int, default=5000)
	ap.add_argument("--messages", type=int, default=100000)
	ap.add_argument("--runs", type=int, default=60)
	ap.add_argument("--only", default="I1,I2")
	ARGS = ap.parse_args()
	ARGS.only = set(ARGS.only.upper().split(","))
	raise SystemExit(main())
