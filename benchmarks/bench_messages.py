"""Messages through a linked session (``make bench-messages``), against a real Frappe site with frappe_whatsapp
and Frappe CRM installed, for each gateway type's simulator.

Runs inside a bench's Python (frappe sets the site up and reads the results) and talks to the site over HTTP
as Frappe CRM's WhatsApp tab does. It starts its own simulator on loopback, backs a WhatsApp Account with a
linked session, and puts everything back afterwards (settings, account, session, messages, Lead). Prints
numbers; asserts nothing.

M1  the send request (``crm.api.whatsapp.create_whatsapp_message``) while the gateway hangs on every call,
    beside the same request with a healthy gateway: wall time median and max (the send itself is a job).
M2  a burst of N inbound messages, each delivered twice by the gateway: time until all are stored, how many
    documents each gateway message id got, and whether they are stored in the order the gateway sent them.

Run it from the bench's sites folder:
    cd frappe-bench/sites && ../env/bin/python /path/to/whatsapp_crm/benchmarks/bench_messages.py --site SITE
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import frappe  # the bench's own

from whatsapp_crm.gateway.adapters import make_client
from whatsapp_crm.gateway.client import Timeouts, WebhookTarget
from whatsapp_crm.gateway.messaging import message_id
from whatsapp_crm.simulator import SessionOptions, make_simulator

KEY = "bench-messages-key"
SECRET = "bench-messages-webhook-secret"
ACCOUNT = "Bench Gateway Account"
SETTINGS = "WhatsApp CRM Settings"
LABELS = {"baileys": "Baileys REST", "evolution": "Evolution API", "waha": "WAHA"}
CUSTOMER = "34600444333"


def commit() -> None:
	frappe.db.commit()  # nosemgrep: a benchmark sets the site up through its own connection


class Site:
	def __init__(self, base: str) -> None:
		self.base = base
		self.http = requests.Session()
		self.http.post(
			f"{base}/api/method/login", data={"usr": "Administrator", "pwd": "admin"}, timeout=30
		).raise_for_status()

	def call(self, method: str, **kwargs) -> tuple[float, requests.Response]:
		started = time.perf_counter()
		r = self.http.post(f"{self.base}/api/method/{method}", json=kwargs, timeout=60)
		return time.perf_counter() - started, r


def stats(values: list[float]) -> dict:
	p95 = sorted(values)[max(0, int(len(values) * 0.95) - 1)]
	return {
		"median_s": round(statistics.median(values), 3),
		"p95_s": round(p95, 3),
		"max_s": round(max(values), 3),
		"n": len(values),
	}


def settle(seconds: float = 150) -> None:
	"""Let the send jobs of M1 finish (against the hanging gateway they end at its timeout) before cleanup."""
	from whatsapp_crm.chat import outbox, provider

	ends = time.monotonic() + seconds
	while time.monotonic() < ends:
		frappe.db.rollback()
		if not frappe.db.count(provider.MESSAGE, {"whatsapp_account": ACCOUNT, "status": outbox.QUEUED}):
			return
		time.sleep(0.5)


def set_up(gateway_type: str, sim, base: str) -> tuple[str, str]:
	from whatsapp_crm.chat import provider
	from whatsapp_crm.sessions import history
	from whatsapp_crm.testing import save_gateway

	session_id = f"bmsg-{gateway_type}"
	saved = frappe.get_single(SETTINGS).as_dict()
	settings = frappe.get_single(SETTINGS)
	settings.update({"enabled": 1, "public_site_url": base, "status_timeout": 3, "qr_timeout": 3})
	settings.save(ignore_permissions=True)
	gateway = f"bench-messages-{gateway_type}"
	save_gateway(
		gateway,
		sim.url,
		KEY,
		gateway_type=LABELS[gateway_type],
		webhook_secret=SECRET,
		is_default=1,
		enabled=1,
	)
	if gateway_type == "baileys":
		sim.set_webhook(
			f"{base}/api/method/whatsapp_crm.api.webhook.receive?gateway={gateway}", SECRET, "hmac"
		)
	sim.set_scenario(session_id, SessionOptions(qr_after_s=0, rotate_s=0))
	target = WebhookTarget(
		url=f"{base}/api/method/whatsapp_crm.api.webhook.receive?gateway={gateway}", secret=SECRET
	)
	with make_client(gateway_type, sim.url, KEY, Timeouts(2, 5), webhook=target) as client:
		client.create_session(session_id)
	sim.scan(session_id, "34911222333")
	frappe.db.delete("WhatsApp Session", session_id)
	frappe.get_doc(
		{"doctype": "WhatsApp Session", "session_id": session_id, "label": "bench", "gateway": gateway}
	).insert(ignore_permissions=True)
	frappe.db.set_value("WhatsApp Session", session_id, "status", "Connected", update_modified=False)
	history.record(session_id, "QR Ready", "Connected", history.USER)
	for name in frappe.get_all(provider.ACCOUNT, filters={"account_name": ACCOUNT}, pluck="name"):
		frappe.delete_doc(provider.ACCOUNT, name, force=True, ignore_permissions=True)
	account = frappe.get_doc(
		{
			"doctype": provider.ACCOUNT,
			"account_name": ACCOUNT,
			provider.SESSION_FIELD: session_id,
			"is_default_outgoing": 1,
		}
	).insert(ignore_permissions=True)
	wa = frappe.get_single("WhatsApp Settings")
	saved_default = wa.default_outgoing_account
	wa.default_outgoing_account = account.name
	wa.save(ignore_permissions=True)
	lead = frappe.get_doc(
		{"doctype": "CRM Lead", "first_name": "Bench", "last_name": gateway_type, "mobile_no": f"+{CUSTOMER}"}
	).insert(ignore_permissions=True)
	commit()

	def restore() -> None:
		frappe.db.rollback()
		# Plain deletes: delete_doc would queue one link-cleanup job per message on the default queue.
		frappe.db.delete(provider.MESSAGE, {"whatsapp_account": account.name})
		commit()
		frappe.delete_doc(provider.ACCOUNT, account.name, force=True, ignore_permissions=True)
		frappe.delete_doc("CRM Lead", lead.name, force=True, ignore_permissions=True)
		frappe.db.delete("WhatsApp Session", session_id)
		frappe.db.delete("WhatsApp Session Event", {"session": session_id})
		w = frappe.get_single("WhatsApp Settings")
		w.default_outgoing_account = saved_default
		w.save(ignore_permissions=True)
		s = frappe.get_single(SETTINGS)
		s.update(
			{
				k: saved.get(k)
				for k in (
					"public_site_url",
					"status_timeout",
					"qr_timeout",
					"enabled",
				)
			}
		)
		s.save(ignore_permissions=True)
		commit()

	set_up.restore = restore  # type: ignore[attr-defined]
	return session_id, lead.name


def m1_send_request(site: Site, sim, session_id: str, lead: str, rounds: int) -> dict:
	def sends(label: str) -> list[float]:
		times = []
		for i in range(rounds):
			took, r = site.call(
				"crm.api.whatsapp.create_whatsapp_message",
				reference_doctype="CRM Lead",
				reference_name=lead,
				message=f"{label} {i}",
				to=f"+{CUSTOMER}",
				attach="",
				reply_to="",
				content_type="text",
			)
			r.raise_for_status()
			times.append(took)
		return times

	healthy = sends("healthy")
	sim.set_scenario(session_id, "hang")
	hanging = sends("hanging")
	sim.set_scenario(session_id, SessionOptions(qr_after_s=0, rotate_s=0))
	return {"healthy_gateway": stats(healthy), "hanging_gateway": stats(hanging)}


def m2_burst(sim, session_id: str, count: int) -> dict:
	from whatsapp_crm.chat import provider

	frappe.db.delete(provider.MESSAGE, {"whatsapp_account": ACCOUNT, "type": "Incoming"})
	commit()
	started = time.monotonic()
	ids = [sim.inbound(session_id, CUSTOMER, f"burst {i:03d}", repeat=2) for i in range(count)]
	deadline = started + 180
	stored = 0
	while time.monotonic() < deadline:
		frappe.db.rollback()  # a fresh snapshot
		stored = frappe.db.count(provider.MESSAGE, {"whatsapp_account": ACCOUNT, "type": "Incoming"})
		if stored >= count and not sim._wh_queue:
			break
		time.sleep(0.2)
	took = time.monotonic() - started
	time.sleep(1)  # let the repeats land too
	frappe.db.rollback()
	rows = frappe.get_all(
		provider.MESSAGE,
		filters={"whatsapp_account": ACCOUNT, "type": "Incoming"},
		fields=["message_id", "message"],
		order_by="creation asc, name asc",
	)
	per_id: dict[str, int] = {}
	for row in rows:
		per_id[row.message_id] = per_id.get(row.message_id, 0) + 1
	texts = [row.message for row in rows]
	return {
		"sent": count,
		"deliveries": len(
			[e for e in sim.webhook_log if e["event"] in ("message", "messages.upsert", "message.any")]
		),
		"stored": len(rows),
		"ids_stored_more_than_once": sum(1 for n in per_id.values() if n > 1),
		"ids_missing": len({message_id(i) for i in ids} - set(per_id)),
		"in_order": texts == [f"burst {i:03d}" for i in range(count)],
		"all_stored_s": round(took, 2),
		"per_s": round(count / took, 1) if took else None,
	}


def main() -> int:
	ap = argparse.ArgumentParser()
	ap.add_argument("--site", required=True)
	ap.add_argument("--base", default="http://127.0.0.1:8000")
	ap.add_argument("--types", default="baileys,evolution,waha")
	ap.add_argument("--rounds", type=int, default=20)
	ap.add_argument("--burst", type=int, default=200)
	args = ap.parse_args()
	frappe.init(site=args.site)
	frappe.connect()
	frappe.set_user("Administrator")
	site = Site(args.base)
	for gateway_type in args.types.split(","):
		extra = {"qr_route_wait_s": 0.2} if gateway_type == "waha" else {}
		with make_simulator(gateway_type, api_key=KEY, hang_max_s=20, **extra) as sim:
			session_id, lead = set_up(gateway_type, sim, args.base)
			try:
				result = {"type": gateway_type}
				result["M1_send_request"] = m1_send_request(site, sim, session_id, lead, args.rounds)
				result["M2_burst"] = m2_burst(sim, session_id, args.burst)
				print(json.dumps(result), flush=True)
			finally:
				settle()
				set_up.restore()  # type: ignore[attr-defined]
	frappe.destroy()
	return 0


if __name__ == "__main__":
	sys.exit(main())
