"""End-to-end: a Lead that WhatsApp brought in is deleted from Frappe CRM's own Lead page. Not collected by pytest.

A linked session (the built-in simulator) backs a WhatsApp Account set to Create a Lead; a new number writes,
so a Lead, its messages and an inbox conversation (read by the user) exist. In headless Chromium the Lead page's
Delete button opens CRM's dialog: it must list no WhatsApp row to delete or unlink first, and its Delete must
work. Afterwards the conversation and the messages are still there, with no Lead. Prints PASS/FAIL lines; exits
1 on a failure. Screenshot in --shots: crm-delete-{lang}.png.

Usage: PYTHONPATH=.:/tmp/e2e-deps /opt/pwenv/bin/python tests/e2e/crm_delete.py --base http://wa.localhost:8000 \
	[--lang es] [--shots docs/]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm_whatsapp import FAILED as FAILED_CHECKS
from crm_whatsapp import Sim, Site, check, set_up_newcomers, wait_for
from form_qr import CHROMIUM_ARGS

WORDS = {"en": {"delete": "Delete"}, "es": {"delete": "Eliminar"}}


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--base", default="http://wa.localhost:8000")
	ap.add_argument("--lang", default="en", choices=sorted(WORDS))
	ap.add_argument("--shots", default="/tmp")
	args = ap.parse_args()
	shots = Path(args.shots)
	shots.mkdir(parents=True, exist_ok=True)
	site = Site(args.base, "Administrator", "admin")
	sim = Sim("baileys")
	session_id = "e2e-delete-baileys"
	try:
		set_up_newcomers(site, sim, session_id, "+34 600 555 777", args.lang)
		chat = f"3463{int(time.time()) % 10**7:07d}"
		sim.control(
			f"sessions/{session_id}/inbound",
			{"chat": chat, "text": "Hola, quiero info", "pushName": "Borrar"},
		)
		leads = wait_for(lambda: site.names("CRM Lead", {"mobile_no": f"+{chat}"}), 20, "the new Lead")
		lead = leads[0]
		conversation = wait_for(
			lambda: site.names("WhatsApp Conversation", {"number": f"+{chat}"}), 20, "the conversation"
		)[0]
		site.call("whatsapp_crm.api.inbox.mark_read", conversation=conversation)
		messages = site.names("WhatsApp Message", {"from": f"+{chat}"})
		check(bool(messages), "the customer's message is stored on the Lead", messages)
		with sync_playwright() as p:
			browser = p.chromium.launch(
				executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
			)
			page = browser.new_context(viewport={"width": 1400, "height": 950}).new_page()
			errors: list[str] = []
			page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"[:300]))
			page.request.post(f"{site.base}/api/method/login", form={"usr": "Administrator", "pwd": "admin"})
			page.goto(f"{site.base}/crm/leads/{lead}", wait_until="networkidle")
			header = page.get_by_text(
				"Getting started", exact=True
			)  # CRM's onboarding panel covers the sidebar
			for i in range(header.count()):
				buttons = header.nth(i).locator("xpath=..").locator("button")
				if buttons.count() >= 2:  # the panel's header: minimise, close
					buttons.last.click()
			# The Lead page's Delete: the red, subtle button with the trash icon (tooltip "Delete")
			page.locator("button.bg-surface-red-2").last.click()
			dialog = page.locator("[role=dialog]")
			dialog.wait_for(timeout=15000)
			time.sleep(1.5)  # the dialog loads the linked documents
			page.screenshot(path=str(shots / f"crm-delete-{args.lang}.png"))
			text = dialog.inner_text()
			check(
				"WhatsApp" not in text, "CRM's dialog lists no WhatsApp row to delete or unlink", text[:300]
			)
			dialog.get_by_role("button", name=WORDS[args.lang]["delete"], exact=True).click()
			wait_for(lambda: not site.names("CRM Lead", {"name": lead}), 20, "the Lead deleted")
			browser.close()
		check(not site.names("CRM Lead", {"name": lead}), "the Lead is deleted from CRM's page")
		row = site.get("WhatsApp Conversation", conversation)
		check(
			row.get("reference_name") in (None, ""),
			"the conversation stays, with no Lead (unassigned)",
			row.get("reference_name"),
		)
		check(set(site.names("WhatsApp Message", {"from": f"+{chat}"})) == set(messages), "the messages stay")
		# CRM 1.56.5 asks Frappe 15.55.1 for an onboarding route it lacks, on every page: CRM's, not ours.
		ours = [e for e in errors if "get_onboarding_status" not in e]
		check(not ours, "no page errors (but CRM's own onboarding call)", ours)
	finally:
		sim.stop()
	print("FAILED: " + ", ".join(FAILED_CHECKS) if FAILED_CHECKS else "all checks passed")
	return 1 if FAILED_CHECKS else 0


if __name__ == "__main__":
	raise SystemExit(main())
