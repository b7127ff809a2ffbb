"""End-to-end: a WhatsApp Campaign to three CRM Leads, driven from its desk form, in English or Spanish.
Not collected by pytest.

A linked session (the built-in simulator) with an open sending policy backs a WhatsApp Account; three Leads
share a unique organization. In headless Chromium, on /app/whatsapp-campaign/new: Title, Message
("Hola {first_name}"), the session under Send From (typed into the Table MultiSelect and picked from its
list) and the Filters (set with ``cur_frm.set_value``: the "Set filters" dialog is Frappe's own FilterGroup,
not ours to test here); Save; Start and its confirmation; progress shows; Pause (the status reads Paused,
translated); Resume; Completed. Through the API and the simulator: each Lead's number got exactly one message,
"Hola <first name>", and its recipient is Sent (or Delivered/Seen). One Lead answers through the simulator: the
WhatsApp inbox lists the conversation with the answer, and the recipient becomes Replied. Prints PASS/FAIL
lines; exits 1 on a failure. Screenshots in --shots: campaign-progress-{lang}.png, campaign-done-{lang}.png,
campaign-reply-{lang}.png.

Usage: PYTHONPATH=.:/tmp/e2e-deps /opt/pwenv/bin/python tests/e2e/campaign.py --base http://wa.localhost:8000 \
	[--lang es] [--shots docs/]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm_whatsapp import FAILED as FAILED_CHECKS
from crm_whatsapp import Sim, Site, check, own_number, wait_for
from form_qr import CHROMIUM_ARGS

WORDS = {
	"en": {
		"start": "Start",
		"pause": "Pause",
		"resume": "Resume",
		"paused": "Paused",
		"completed": "Completed",
	},
	"es": {
		"start": "Iniciar",
		"pause": "Pausar",
		"resume": "Reanudar",
		"paused": "En pausa",
		"completed": "Completado",
	},
}
ENGLISH = {WORDS["es"][k]: v for k, v in WORDS["en"].items()}
CAMPAIGN = "WhatsApp Campaign"
RECIPIENT = "WhatsApp Campaign Recipient"
POLICY = {
	"send_per_minute": 30,
	"send_per_hour": 600,
	"send_per_day": 5000,
	"new_chats_per_day": 5000,
	"warmup_days": 0,
	"quiet_from": "",
	"quiet_to": "",
	"gap_min_s": 0,
	"gap_max_s": 1,
}
FIRST_NAMES = ["Uno", "Dos", "Tres"]
DONE = {"Sent", "Delivered", "Seen"}
GATEWAY = "e2e-campaign-baileys"
ACCOUNT = "E2E Campaign Account"


def digits(number: str) -> str:
	return re.sub(r"\D", "", number or "")


def toolbar(page, label: str):
	return page.locator(".page-actions button:visible", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))


def button(page, label: str):
	"""A visible button of the form's toolbar, by its exact (translated) label. When only the English label
	shows, that is a FAIL (an untranslated label) and the English button is used, to go on with the flow."""
	english = ENGLISH.get(label, label)
	try:
		wait_for(
			lambda: toolbar(page, label).count() or toolbar(page, english).count(), 20, f"the {label} button"
		)
	except TimeoutError:
		pass
	if label != english and not toolbar(page, label).count() and toolbar(page, english).count():
		check(False, f"the {english} button reads {label}", f"it reads {english}")
		return toolbar(page, english)
	return toolbar(page, label)


def act(page, label: str, before: str, expect: tuple, confirm: bool = False) -> str:
	"""Click a campaign button (and its confirmation); wait for the status to leave ``before``. The form's
	buttons call frm.save() first, whose promise Frappe never resolves on an unchanged form ("No changes in
	document"): when nothing happens, that is reported as a FAIL and the click is repeated on a form marked
	dirty, so the rest of the flow is still exercised. Returns the path that worked: "clean" or "dirty"."""
	for path in ("clean", "dirty"):
		if path == "dirty":
			page.evaluate("() => cur_frm.dirty()")
		button(page, label).first.click()
		if confirm:
			yes = page.locator(".modal.show .btn-modal-primary:visible").last
			yes.wait_for(timeout=10000)
			yes.click()
		try:
			wait_for(lambda: doc_status(page) in expect, 10, f"the status to become {expect}", step=0.1)
			check(True, f"{label}: the click changes the status", f"{path} form, now {doc_status(page)}")
			return path
		except TimeoutError:
			alerts = page.locator(".alert-message:visible, .desk-alert:visible").all_inner_texts()
			check(
				False,
				f"{label} on a saved, unchanged form does something",
				f"status still {doc_status(page)}; alerts {alerts}",
			)
	raise TimeoutError(f"{label} did nothing, even on a dirty form")


def enable_gateway(site: Site) -> None:
	site.call("frappe.client.set_value", doctype="WhatsApp Gateway", name=GATEWAY, fieldname={"enabled": 1})


def doc_status(page) -> str:
	return page.evaluate("() => cur_frm && cur_frm.doc.status")


def indicator(page) -> str:
	pill = page.locator(".page-head .indicator-pill:visible")
	return pill.first.inner_text().strip() if pill.count() else ""


def recipients(site: Site, campaign: str) -> list[dict]:
	return (
		site.call(
			"frappe.client.get_list",
			doctype=RECIPIENT,
			filters={"campaign": campaign},
			fields=["name", "number", "status", "reference_name", "skip_reason", "error"],
			limit_page_length=0,
		)
		or []
	)


def set_up(site: Site, sim: Sim, session_id: str, lang: str) -> str:
	"""As crm_whatsapp.set_up_newcomers, but with this script's own gateway record and account, none of them
	a default: other runs on the same site re-point the shared e2e gateway and account at their simulators."""
	return own_number(
		site, sim, lang, gateway=GATEWAY, session_id=session_id, label="E2E campaign", account=ACCOUNT
	)


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--base", default="http://wa.localhost:8000")
	ap.add_argument("--lang", default="en", choices=sorted(WORDS))
	ap.add_argument("--shots", default="/tmp")
	args = ap.parse_args()
	words = WORDS[args.lang]
	shots = Path(args.shots)
	shots.mkdir(parents=True, exist_ok=True)
	site = Site(args.base, "Administrator", "admin")
	sim = Sim("baileys")
	session_id = "e2e-campaign"
	stamp = int(time.time()) % 10**6
	tag = f"E2E Campaign {args.lang} {stamp}"
	leads: list[str] = []
	campaign = None
	pages: list = []
	try:
		set_up(site, sim, session_id, args.lang)
		site.call("frappe.client.set_value", doctype="WhatsApp Session", name=session_id, fieldname=POLICY)
		numbers = {}
		for i, first in enumerate(FIRST_NAMES):
			number = f"+346{stamp:06d}{i + 11:02d}"
			lead = site.insert(
				{
					"doctype": "CRM Lead",
					"first_name": first,
					"last_name": f"E2E {stamp}",
					"organization": tag,
					"mobile_no": number,
				}
			)
			leads.append(lead["name"])
			numbers[lead["name"]] = (digits(number), first)
		with sync_playwright() as p:
			browser = p.chromium.launch(
				executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
			)
			page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
			pages.append(page)
			calls: list[str] = []
			page.on(
				"requestfinished",
				lambda r: (
					calls.append(f"{r.method} {r.url.split('/api/')[-1][:80]}") if "/api/" in r.url else None
				),
			)
			errors: list[str] = []
			page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"[:300]))
			page.request.post(f"{site.base}/api/method/login", form={"usr": "Administrator", "pwd": "admin"})
			page.goto(f"{site.base}/app/whatsapp-campaign/new", wait_until="networkidle")
			page.locator(".frappe-control[data-fieldname=title] input").wait_for(timeout=20000)
			# 1. the form
			page.locator(".frappe-control[data-fieldname=title] input").fill(tag)
			page.locator(".frappe-control[data-fieldname=message] textarea").fill("Hola {first_name}")
			multi = page.locator(".frappe-control[data-fieldname=numbers] input:visible").first
			multi.click()
			multi.press_sequentially(session_id, delay=30)
			item = page.locator(f".awesomplete [role=option]:visible:has(p[title='{session_id}'])").first
			item.wait_for(timeout=10000)
			item.click()
			wait_for(
				lambda: page.evaluate(
					"(s) => (cur_frm.doc.numbers || []).some((r) => r.session === s)", session_id
				),
				10,
				"the session under Send From",
			)
			check(True, "Send From: the session picked in the Table MultiSelect")
			filters = f'[["CRM Lead","organization","=","{tag}"]]'
			page.evaluate("(f) => cur_frm.set_value('filters', f)", filters)
			print("INFO  Filters set with cur_frm.set_value (not through the Set filters dialog)")
			page.keyboard.press("Control+s")
			wait_for(lambda: page.evaluate("() => !cur_frm.is_new() && !cur_frm.is_dirty()"), 20, "the save")
			campaign = page.evaluate("() => cur_frm.doc.name")
			check(bool(campaign) and "/new" not in page.url, "the campaign saves", campaign)
			# 2. Start, confirm, progress
			enable_gateway(site)  # other runs on this site disable every gateway but theirs
			act(page, words["start"], "Draft", ("Preparing", "Running", "Scheduled"), confirm=True)
			wait_for(
				lambda: doc_status(page) in ("Running", "Paused", "Completed", "Scheduled"),
				60,
				"the campaign running",
				step=0.1,
			)
			check(True, "Start and its confirmation: the campaign runs", doc_status(page))
			progress = page.locator(".frappe-control[data-fieldname=progress_html]")
			bar = progress.locator(".progress-bar")
			wait_for(
				lambda: (
					bar.count()
					and float(
						page.evaluate(
							"() => parseFloat(document.querySelector("
							"'[data-fieldname=progress_html] .progress-bar').style.width) || 0"
						)
					)
					> 0
				),
				60,
				"progress on the form",
				step=0.1,
			)
			progress.scroll_into_view_if_needed()
			page.screenshot(path=str(shots / f"campaign-progress-{args.lang}.png"), full_page=True)
			check(True, "the progress area shows progress", progress.inner_text().replace("\n", " | "))
			# 3. Pause, Resume, Completed
			status_now = doc_status(page)
			if status_now == "Completed":
				check(False, "Pause: the campaign was still running when progress first showed", status_now)
			else:
				act(page, words["pause"], status_now, ("Paused",))
				wait_for(lambda: doc_status(page) == "Paused", 20, "Paused", step=0.1)
				time.sleep(0.5)
				shown = indicator(page)
				field = page.locator(".frappe-control[data-fieldname=status]").inner_text()
				check(
					words["paused"] in shown or words["paused"] in field,
					f"Pause: the status reads {words['paused']}",
					f"indicator={shown!r} field={field!r}",
				)
				sent_when_paused = len(sim.control(f"sessions/{session_id}/sent", method="GET")["messages"])
				enable_gateway(site)
				act(page, words["resume"], "Paused", ("Running", "Completed"))
				wait_for(lambda: doc_status(page) in ("Running", "Completed"), 20, "resumed", step=0.1)
				check(True, "Resume: the campaign runs again", f"sent at the pause: {sent_when_paused}")
			wait_for(lambda: doc_status(page) == "Completed", 120, "Completed", step=0.2)
			time.sleep(1.5)  # the progress reload after the status change
			page.screenshot(path=str(shots / f"campaign-done-{args.lang}.png"), full_page=True)
			shown = (
				indicator(page) + " / " + page.locator(".frappe-control[data-fieldname=status]").inner_text()
			)
			check(words["completed"] in shown, f"the campaign ends, shown as {words['completed']}", shown)
			# API: one message per number, recipients Sent
			rows = wait_for(
				lambda: (
					(r := recipients(site, campaign))
					and all(x["status"] in DONE | {"Replied"} for x in r)
					and r
				),
				30,
				"recipients sent",
			)
			check(len(rows) == 3, "three recipients", [(r["number"], r["status"]) for r in rows])
			check(
				all(r["status"] in DONE for r in rows),
				"every recipient is Sent (or Delivered/Seen)",
				[r["status"] for r in rows],
			)
			sent = sim.control(f"sessions/{session_id}/sent", method="GET")["messages"]
			for lead, (number, first) in numbers.items():
				to_it = [m for m in sent if digits(m["to"]).startswith(number)]
				check(
					len(to_it) == 1 and to_it[0]["text"] == f"Hola {first}",
					f"{lead} ({number}) got exactly one message: Hola {first}",
					[m["text"] for m in to_it],
				)
			# 4. a reply, in the inbox and on the recipient
			lead0 = leads[0]
			number0, first0 = numbers[lead0]
			sim.control(
				f"sessions/{session_id}/inbound", {"chat": number0, "text": "Me interesa", "pushName": first0}
			)
			page.goto(f"{site.base}/app/whatsapp-inbox", wait_until="networkidle")
			page.locator(".wa-inbox").wait_for(timeout=15000)
			row = page.locator(".wa-inbox-row", has_text="Me interesa").filter(has_text=first0).first
			row.wait_for(timeout=20000)
			page.screenshot(path=str(shots / f"campaign-reply-{args.lang}.png"))
			check(
				True, "the inbox lists the conversation with the reply", row.inner_text().replace("\n", " | ")
			)
			replied = wait_for(
				lambda: [
					r
					for r in recipients(site, campaign)
					if r["reference_name"] == lead0 and r["status"] == "Replied"
				],
				20,
				"Replied",
				step=0.3,
			)
			check(bool(replied), "the recipient who answered is Replied")
			ours = [e for e in errors if "get_onboarding_status" not in e]
			check(not ours, "no page errors", ours)
			browser.close()
	except Exception as e:
		check(False, "the run completes", f"{type(e).__name__}: {e}")
		if pages:
			try:
				pages[0].screenshot(path=f"/tmp/campaign-failed-{args.lang}.png", full_page=True)
				print(f"INFO  failure screenshot: /tmp/campaign-failed-{args.lang}.png")
			except Exception:
				pass
	finally:
		if campaign and FAILED_CHECKS:
			try:
				print("INFO  progress:", site.call("whatsapp_crm.api.campaigns.progress", name=campaign))
				print(
					"INFO  recipients:",
					[
						(r["number"], r["status"], r["skip_reason"], r["error"])
						for r in recipients(site, campaign)
					],
				)
			except RuntimeError as e:
				print(f"INFO  progress: {e}")
		if campaign:
			try:
				status = site.get(CAMPAIGN, campaign)["status"]
				if status not in ("Completed", "Cancelled", "Draft"):
					site.call("whatsapp_crm.api.campaigns.cancel", name=campaign)
			except RuntimeError as e:
				print(f"INFO  cancel: {e}")
			for r in recipients(site, campaign):
				site.delete(RECIPIENT, r["name"])
			site.delete(CAMPAIGN, campaign)
			if site.names(CAMPAIGN, {"name": campaign}):
				print(f"INFO  campaign {campaign} could not be deleted")
		for lead in leads:
			site.delete("CRM Lead", lead)
		sim.stop()
	print("FAILED: " + ", ".join(FAILED_CHECKS) if FAILED_CHECKS else "all checks passed")
	return 1 if FAILED_CHECKS else 0


if __name__ == "__main__":
	raise SystemExit(main())
