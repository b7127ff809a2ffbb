"""End-to-end: Frappe CRM's own WhatsApp tab on a Lead, sending and receiving through a WhatsApp Session on
the built-in gateway simulator of each type, in headless Chromium. Not collected by pytest (CI has no bench).

Needs a running site with frappe_whatsapp, Frappe CRM and whatsapp_crm installed, a worker (the send job),
and socket.io. For each gateway type it: starts ``whatsapp-crm simulate`` on a free port, points WhatsApp CRM
a WhatsApp Gateway record at it (webhooks to ``--base``), links a session, backs a WhatsApp Account with it, makes it the
default outgoing account, and creates a Lead with a mobile number. Then, on ``/crm/leads/<name>``:
  1. a message typed in the WhatsApp tab reaches the simulator (``/_sim/.../sent``) and its ticks follow the
     simulator's receipts up to read (blue double tick);
  2. a message the simulator receives (``/_sim/.../inbound``, which sends the webhook) appears on the open
     page without a reload; the time from the inbound call to the bubble is printed.
Prints one JSON line per type with the timings; exits 1 on the first failure.

Usage: PYTHONPATH=. /opt/fbench/pwenv/bin/python tests/e2e/crm_whatsapp.py --base http://wa.localhost:8000 \
	[--types baileys,evolution,waha] [--shots /tmp] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from form_qr import AUTH_HEADERS, CHROMIUM_ARGS
from form_qr import TYPE_LABELS as FORM_TYPE_LABELS

ROOT = Path(__file__).resolve().parents[2]
# The simulator's types only (no auto-detect).
TYPE_LABELS = {k: v for k, v in FORM_TYPE_LABELS.items() if k != "auto"}
KEY = "e2e-crm-key"
SECRET = "e2e-crm-webhook-secret"
CUSTOMER = "34600555777"
ACCOUNT = "E2E Gateway Account"


def free_port() -> int:
	with socket.socket() as s:
		s.bind(("127.0.0.1", 0))
		return s.getsockname()[1]


def wait_for(check, timeout: float, what: str, step: float = 0.05):
	ends = time.monotonic() + timeout
	while time.monotonic() < ends:
		value = check()
		if value:
			return value
		time.sleep(step)
	raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


class Site:
	def __init__(self, base: str, user: str, password: str) -> None:
		self.base = base
		self.http = requests.Session()
		r = self.http.post(f"{base}/api/method/login", data={"usr": user, "pwd": password}, timeout=30)
		r.raise_for_status()

	def call(self, method: str, **kwargs):
		r = self.http.post(f"{self.base}/api/method/{method}", json=kwargs, timeout=60)
		if r.status_code >= 400:
			raise RuntimeError(f"{method}: HTTP {r.status_code} {r.text[:500]}")
		return r.json().get("message")

	def get(self, doctype: str, name: str) -> dict:
		return self.call("frappe.client.get", doctype=doctype, name=name)

	def save(self, doc: dict) -> dict:
		return self.call("frappe.client.save", doc=doc)

	def insert(self, doc: dict) -> dict:
		return self.call("frappe.client.insert", doc=doc)

	def names(self, doctype: str, filters: dict) -> list[str]:
		rows = self.call(
			"frappe.client.get_list", doctype=doctype, filters=filters, fields=["name"], limit_page_length=0
		)
		return [row["name"] for row in rows or []]

	def delete(self, doctype: str, name: str) -> None:
		try:
			self.call("frappe.client.delete", doctype=doctype, name=name)
		except RuntimeError:
			pass


class Sim:
	def __init__(self, gateway_type: str) -> None:
		self.type = gateway_type
		self.port = free_port()
		self.url = f"http://127.0.0.1:{self.port}"
		self.proc = subprocess.Popen(
			[
				str(ROOT / ".venv/bin/whatsapp-crm"),
				"simulate",
				"--gateway-type",
				gateway_type,
				"--port",
				str(self.port),
				"--api-key",
				KEY,
				"--scenario",
				"qr_now",
			],
			stdout=subprocess.DEVNULL,
			stderr=subprocess.DEVNULL,
		)
		wait_for(self._up, 20, "the simulator")

	def _up(self) -> bool:
		try:
			socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
			return True
		except OSError:
			return False

	def control(self, path: str, body: dict | None = None, method: str = "POST") -> dict:
		r = requests.request(
			method, f"{self.url}/_sim/{path}", json=body, headers={AUTH_HEADERS[self.type]: KEY}, timeout=10
		)
		r.raise_for_status()
		return r.json()

	def stop(self) -> None:
		self.proc.terminate()
		self.proc.wait(10)


FAILED: list[str] = []


def check(ok: bool, what: str, detail: object = "") -> None:
	"""One PASS/FAIL line; failures are kept for the exit code."""
	print(f"{'PASS' if ok else 'FAIL'}  {what}" + (f"  ({str(detail)[:300]})" if detail != "" else ""))
	if not ok:
		FAILED.append(what)


def upsert_gateway(site: Site, name: str, **values) -> None:
	"""Create or update a WhatsApp Gateway record through the REST API."""
	if site.names("WhatsApp Gateway", {"name": name}):
		doc = site.get("WhatsApp Gateway", name)
		doc.update(values)
		site.save(doc)
	else:
		site.insert({"doctype": "WhatsApp Gateway", "label": name, **values})


def test_connection(site: Site, name: str) -> dict:
	"""The gateway form's Test connection, as the desk calls it."""
	r = site.http.post(
		f"{site.base}/api/method/run_doc_method",
		json={"dt": "WhatsApp Gateway", "dn": name, "method": "test_connection"},
		timeout=60,
	)
	r.raise_for_status()
	return r.json().get("message") or {}


def gateway_name(sim: Sim) -> str:
	return f"e2e-{sim.type}"


def aim_gateway(site: Site, sim: Sim, name: str, *, is_default: int) -> None:
	"""A WhatsApp Gateway record aimed at the simulator, with the e2e key and webhook secret."""
	upsert_gateway(
		site,
		name,
		enabled=1,
		is_default=is_default,
		gateway_url=sim.url,
		api_key=KEY,
		gateway_type=TYPE_LABELS[sim.type],
		webhook_secret=SECRET,
	)


def point_site_at(site: Site, sim: Sim) -> str:
	"""A WhatsApp Gateway record of this run's type aimed at the simulator (the default), the settings'
	webhooks at the site. Returns the gateway's name."""
	name = gateway_name(sim)
	aim_gateway(site, sim, name, is_default=1)
	settings = site.get("WhatsApp CRM Settings", "WhatsApp CRM Settings")
	settings.update({"enabled": 1, "public_site_url": site.base, "use_monitor": 1})
	site.save(settings)
	if sim.type == "baileys":
		hook = f"{site.base}/api/method/whatsapp_crm.api.webhook.receive?gateway={name}"
		sim.control("webhook", {"url": hook, "secret": SECRET, "mode": "hmac"})
	return name


# The sending policy of whatsapp_crm.testing.OPEN_SENDING_POLICY: these scripts check what CRM and the inbox
# do, not pacing (campaign.py keeps the real policy); otherwise a run at night waits for quiet hours to end.
OPEN_SENDING_POLICY = {
	"send_per_minute": 60,
	"send_per_hour": 1200,
	"send_per_day": 10000,
	"new_chats_per_day": 10000,
	"warmup_days": 0,
	"quiet_from": "",
	"quiet_to": "",
	"show_typing": 0,
	"gap_min_s": 0,
	"gap_max_s": 0,
}


def open_policy(site: Site, session_id: str) -> None:
	site.call(
		"frappe.client.set_value", doctype="WhatsApp Session", name=session_id, fieldname=OPEN_SENDING_POLICY
	)


def link(site: Site, sim: Sim, session_id: str) -> None:
	"""Create session on the site, the simulated phone scans, wait for Connected."""
	site.call("whatsapp_crm.api.session.create_session", session=session_id)
	wait_for(lambda: _scan(sim, session_id), 20, "a session to scan", step=0.3)
	wait_for(
		lambda: site.get("WhatsApp Session", session_id)["status"] == "Connected", 30, "Connected", step=0.3
	)


def set_up(site: Site, sim: Sim, session_id: str, lead_mobile: str) -> tuple[str, str]:
	gateway = point_site_at(site, sim)
	# Kept from earlier runs (their messages link to them): the session is linked again on this simulator.
	if not site.names("WhatsApp Session", {"name": session_id}):
		site.insert(
			{
				"doctype": "WhatsApp Session",
				"session_id": session_id,
				"label": f"E2E {sim.type}",
				"gateway": gateway,
			}
		)
	link(site, sim, session_id)
	open_policy(site, session_id)
	if site.names("WhatsApp Account", {"name": ACCOUNT}):
		account = site.get("WhatsApp Account", ACCOUNT)
		account.update({"whatsapp_session": session_id, "is_default_outgoing": 1, "is_default_incoming": 1})
		account = site.save(account)
	else:
		account = site.insert(
			{
				"doctype": "WhatsApp Account",
				"account_name": ACCOUNT,
				"whatsapp_session": session_id,
				"is_default_outgoing": 1,
				"is_default_incoming": 1,
			}
		)
	assert account["status"] == "Active", account["status"]
	wa = site.get("WhatsApp Settings", "WhatsApp Settings")
	wa["default_outgoing_account"] = account["name"]
	site.save(wa)
	for name in site.names("CRM Lead", {"mobile_no": lead_mobile}):
		site.delete("CRM Lead", name)
	lead = site.insert(
		{"doctype": "CRM Lead", "first_name": "Ana", "last_name": f"E2E {sim.type}", "mobile_no": lead_mobile}
	)
	return account["name"], lead["name"]


def own_number(
	site: Site,
	sim: Sim,
	lang: str,
	*,
	gateway: str,
	session_id: str,
	label: str,
	account: str,
	session_values: dict | None = None,
) -> str:
	"""A script's own gateway record, linked session and account, none of them a default (other runs on
	the same site point the shared e2e gateway at their simulators); the user's language set. Its account."""
	aim_gateway(site, sim, gateway, is_default=0)
	settings = site.get("WhatsApp CRM Settings", "WhatsApp CRM Settings")
	if not settings.get("enabled") or not settings.get("public_site_url"):
		settings.update({"enabled": 1, "public_site_url": site.base})
		site.save(settings)
	hook = f"{site.base}/api/method/whatsapp_crm.api.webhook.receive?gateway={gateway}"
	sim.control("webhook", {"url": hook, "secret": SECRET, "mode": "hmac"})
	if not site.names("WhatsApp Session", {"name": session_id}):  # kept from earlier runs, linked again
		site.insert(
			{"doctype": "WhatsApp Session", "session_id": session_id, "label": label, "gateway": gateway}
		)
	link(site, sim, session_id)
	if session_values:
		site.call(
			"frappe.client.set_value", doctype="WhatsApp Session", name=session_id, fieldname=session_values
		)
	values = {"whatsapp_session": session_id, "unknown_number_action": "Create a Lead"}
	if site.names("WhatsApp Account", {"name": account}):
		site.call("frappe.client.set_value", doctype="WhatsApp Account", name=account, fieldname=values)
		row = site.get("WhatsApp Account", account)
	else:
		row = site.insert({"doctype": "WhatsApp Account", "account_name": account, **values})
	check(row["status"] == "Active", "set-up: the session's account is Active", row["status"])
	admin = site.get("User", "Administrator")
	if admin.get("language") != lang:
		admin["language"] = lang
		site.save(admin)
	return row["name"]


def set_up_newcomers(site: Site, sim: Sim, session_id: str, lead_mobile: str, lang: str) -> str:
	"""set_up(), with an account that makes a Lead of every new number, and Administrator in ``lang``."""
	account, _lead = set_up(site, sim, session_id, lead_mobile)
	acc = site.get("WhatsApp Account", account)
	acc["unknown_number_action"] = "Create a Lead"
	site.save(acc)
	admin = site.get("User", "Administrator")
	admin["language"] = lang
	site.save(admin)
	return account


def _scan(sim: Sim, session_id: str) -> bool:
	try:
		sim.control(f"sessions/{session_id}/scan", {"phone": "34911222333"})
		return True
	except requests.HTTPError:
		return False


def run_type(site: Site, page, gateway_type: str, shots: Path, rounds: int) -> dict:
	sim = Sim(gateway_type)
	session_id = f"e2e-crm-{gateway_type}"
	try:
		_account, lead = set_up(site, sim, session_id, "+34 600 555 777")
		page.goto(f"{site.base}/crm/leads/{lead}#whatsapp", wait_until="networkidle")
		page.get_by_role("button", name="New Message").click()
		box = page.get_by_placeholder("Type your message here...")
		# 1. send from the tab
		text = f"Hola Ana ({gateway_type}) {int(time.time())}"
		box.fill(text)
		started = time.monotonic()
		box.press("Enter")
		sent = wait_for(
			lambda: [
				m
				for m in sim.control(f"sessions/{session_id}/sent", method="GET")["messages"]
				if m["text"] == text
			],
			15,
			"the message at the simulator",
		)
		reached_s = time.monotonic() - started
		bubble = page.locator(".activity", has_text=text)
		bubble.wait_for(timeout=10000)
		bubble.locator(".text-ink-blue-2").wait_for(timeout=15000)  # read: the blue double tick
		read_s = time.monotonic() - started
		page.screenshot(path=str(shots / f"crm-whatsapp-{gateway_type}-sent.png"))
		# 2. receive on the open page, several times for a distribution
		latencies = []
		for i in range(rounds):
			incoming = (
				f"Respuesta {i} de Ana <img src=x onerror=document.body.dataset.xss=1> ({gateway_type})"
			)
			started = time.monotonic()
			sim.control(
				f"sessions/{session_id}/inbound", {"chat": CUSTOMER, "text": incoming, "pushName": "Ana"}
			)
			page.locator(".activity", has_text=f"Respuesta {i} de Ana").wait_for(timeout=10000)
			latencies.append(time.monotonic() - started)
		# A customer's markup stays text: shown as typed, and nothing it carries runs on the agent's page.
		assert page.evaluate("document.body.dataset.xss") is None, "markup in an inbound message ran"
		shown = page.locator(".activity", has_text="Respuesta 0 de Ana").inner_text()
		assert "<img src=x onerror=document.body.dataset.xss=1>" in shown, shown
		# 3. reactions: the agent's to the customer's first answer (as CRM's emoji picker calls it) reaches the
		# gateway; the customer's to the agent's message shows on it (CRM shows one reaction per message).
		theirs = site.names(
			"WhatsApp Message", {"message": ["like", "Respuesta 0 de Ana%"], "reference_name": lead}
		)
		site.call("crm.api.whatsapp.react_on_whatsapp_message", emoji="👍", reply_to_name=theirs[0])
		wait_for(
			lambda: [
				m
				for m in sim.control(f"sessions/{session_id}/sent", method="GET")["messages"]
				if (m.get("reaction") or {}).get("emoji") == "👍"
			],
			15,
			"the reaction at the simulator",
		)
		sim.control(
			f"sessions/{session_id}/inbound", {"chat": CUSTOMER, "reaction": "🎉", "replyTo": sent[0]["id"]}
		)
		bubble.locator("text=🎉").wait_for(timeout=10000)
		page.screenshot(path=str(shots / f"crm-whatsapp-{gateway_type}-received.png"))
		return {
			"type": gateway_type,
			"sent_id": sent[0]["id"],
			"send_reached_gateway_s": round(reached_s, 3),
			"send_read_tick_s": round(read_s, 3),
			"inbound_on_page_s": {
				"median": round(statistics.median(latencies), 3),
				"max": round(max(latencies), 3),
				"n": len(latencies),
			},
		}
	finally:
		sim.stop()


def main() -> int:
	ap = argparse.ArgumentParser()
	ap.add_argument("--base", default="http://wa.localhost:8000")
	ap.add_argument("--user", default="Administrator")
	ap.add_argument("--password", default="admin")
	ap.add_argument("--types", default="baileys,evolution,waha")
	ap.add_argument("--shots", default="/tmp")
	ap.add_argument("--rounds", type=int, default=5)
	args = ap.parse_args()
	site = Site(args.base, args.user, args.password)
	shots = Path(args.shots)
	failures = 0
	with sync_playwright() as p:
		browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
		context = browser.new_context(viewport={"width": 1400, "height": 900})
		page = context.new_page()
		errors: list[str] = []
		page.on("pageerror", lambda e: errors.append(str(e)))
		page.goto(f"{args.base}/login", wait_until="networkidle")
		page.fill("#login_email", args.user)
		page.fill("#login_password", args.password)
		page.click(".btn-login")
		# a login lands on /app, or on /crm where Frappe CRM sends its users: any page but the login is in
		page.wait_for_url(lambda url: "/login" not in url, timeout=30000)
		for gateway_type in args.types.split(","):
			try:
				print(json.dumps(run_type(site, page, gateway_type, shots, args.rounds)), flush=True)
			except Exception as e:
				failures += 1
				page.screenshot(path=str(shots / f"crm-whatsapp-{gateway_type}-failed.png"))
				print(
					json.dumps({"type": gateway_type, "error": f"{type(e).__name__}: {e}"[:800]}), flush=True
				)
		if errors:
			print(json.dumps({"page_errors": errors[:10]}))
		browser.close()
	return 1 if failures else 0


if __name__ == "__main__":
	sys.exit(main())
