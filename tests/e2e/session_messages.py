"""End-to-end: the WhatsApp Session form's Send test message and recent messages (no Frappe CRM needed), in
headless Chromium against the built-in simulator. Not collected by pytest (CI has no bench).

A bad number is refused in the dialog and nothing is queued; a good one is queued, reaches the simulator,
and its ticks in the Messages section follow the receipts up to read; an inbound message appears in the
section without a reload, its markup shown as text.

Usage: PYTHONPATH=. /opt/fbench/pwenv/bin/python tests/e2e/session_messages.py --base http://wa.localhost:8000 \
	[--gateway-type baileys] [--lang es] [--shots /tmp]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm_whatsapp import CHROMIUM_ARGS, CUSTOMER, TYPE_LABELS, Sim, Site, link, point_site_at


def main() -> int:
	ap = argparse.ArgumentParser()
	ap.add_argument("--base", default="http://wa.localhost:8000")
	ap.add_argument("--gateway-type", default="baileys", choices=sorted(TYPE_LABELS))
	ap.add_argument("--lang", default="en")
	ap.add_argument("--shots", default="/tmp")
	args = ap.parse_args()
	site = Site(args.base, "Administrator", "admin")
	sim = Sim(args.gateway_type)
	session_id = f"e2e-form-{args.gateway_type}"
	try:
		point_site_at(site, sim)
		site.delete(
			"WhatsApp Session", session_id
		)  # a fresh session: a status from an earlier run never counts
		site.insert({"doctype": "WhatsApp Session", "session_id": session_id, "label": "E2E form"})
		link(site, sim, session_id)
		admin = site.get("User", "Administrator")
		admin["language"] = args.lang
		site.save(admin)
		with sync_playwright() as p:
			browser = p.chromium.launch(
				executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
			)
			page = browser.new_page(viewport={"width": 1300, "height": 1000})
			errors: list[str] = []
			page.on("pageerror", lambda e: errors.append(str(e)))
			page.goto(f"{site.base}/login", wait_until="networkidle")
			page.fill("#login_email", "Administrator")
			page.fill("#login_password", "admin")
			page.click(".btn-login")
			page.wait_for_url("**/app**", timeout=30000)
			page.goto(f"{site.base}/app/whatsapp-session/{session_id}", wait_until="networkidle")
			send_label = "Enviar mensaje de prueba" if args.lang == "es" else "Send test message"
			# 1. a bad number: refused in plain words, nothing queued
			page.get_by_role("button", name=send_label).click()
			dialog = page.locator(".modal.show")
			dialog.locator("input[data-fieldname=to]").fill("12")
			dialog.locator(".btn-primary").click()
			page.locator(".msgprint, .modal-body", has_text="+34 600 111 222").first.wait_for(timeout=10000)
			refused = sim.control(f"sessions/{session_id}/sent", method="GET")["messages"]
			assert refused == [], refused
			page.screenshot(path=str(Path(args.shots) / f"session-messages-bad-number-{args.lang}.png"))
			page.keyboard.press("Escape")
			page.keyboard.press("Escape")
			# 2. a good number: queued, sent, ticks up to read
			page.goto(f"{site.base}/app/whatsapp-session/{session_id}", wait_until="networkidle")
			page.get_by_role("button", name=send_label).click()
			dialog = page.locator(".modal.show")
			dialog.locator("input[data-fieldname=to]").fill("+34 600 555 777")
			dialog.locator("textarea[data-fieldname=text]").fill("Prueba <b>desde</b> el formulario")
			started = time.monotonic()
			dialog.locator(".btn-primary").click()
			section = page.locator("[data-fieldname=messages_html]")
			heading = "Mensajes de WhatsApp" if args.lang == "es" else "WhatsApp Messages"
			page.locator(".section-head", has_text=heading).click()  # the section starts collapsed
			section.locator(".wa-message", has_text="Prueba <b>desde</b> el formulario").locator(
				"span.wa-tick[data-status=read]"
			).wait_for(timeout=15000)
			read_s = time.monotonic() - started
			sent = sim.control(f"sessions/{session_id}/sent", method="GET")["messages"]
			assert sent and sent[-1]["text"] == "Prueba <b>desde</b> el formulario", sent
			# 3. inbound shows without a reload
			started = time.monotonic()
			sim.control(f"sessions/{session_id}/inbound", {"chat": CUSTOMER, "text": "Respuesta <i>ok</i>"})
			section.locator(".wa-message", has_text="Respuesta <i>ok</i>").wait_for(timeout=10000)
			inbound_s = time.monotonic() - started
			page.screenshot(path=str(Path(args.shots) / f"session-messages-{args.lang}.png"), full_page=True)
			browser.close()
		print(
			json.dumps(
				{
					"type": sim.type,
					"lang": args.lang,
					"read_tick_s": round(read_s, 3),
					"inbound_s": round(inbound_s, 3),
					"page_errors": errors[:5],
				}
			)
		)
		return 0
	finally:
		admin = site.get("User", "Administrator")
		admin["language"] = "en"
		site.save(admin)
		sim.stop()


if __name__ == "__main__":
	sys.exit(main())
