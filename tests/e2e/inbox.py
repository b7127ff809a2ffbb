"""End-to-end: the WhatsApp inbox in headless Chromium, in English or Spanish. Not collected by pytest.

A linked session (the built-in simulator) backs a WhatsApp Account set to Create a Lead. With the inbox open, a
number the CRM has never seen writes in (its name and text carry markup): the conversation appears without a
reload (the time is measured, I3), the user opens it (read), assigns it to themselves, replies (the reply
reaches the gateway and its ticks show), and opens the new Lead in Frappe CRM, whose WhatsApp tab shows the
whole conversation. Markup stays text everywhere. Prints PASS/FAIL lines and the timings; exits 1 on a failure.
Screenshots in --shots: inbox-{lang}.png, inbox-thread-{lang}.png, inbox-lead-{lang}.png.

Usage: PYTHONPATH=.:/tmp/e2e-deps /opt/pwenv/bin/python tests/e2e/inbox.py --base http://wa.localhost:8000 \
	[--lang es] [--shots docs/] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm_whatsapp import Sim, Site, set_up_newcomers, wait_for
from form_qr import CHROMIUM_ARGS

WORDS = {
	"en": {"title": "WhatsApp Inbox", "unassigned": "Unassigned", "show": "Show"},
	"es": {"title": "Bandeja de WhatsApp", "unassigned": "Sin asignar", "show": "Mostrar"},
}
FAILED: list[str] = []


def check(ok: bool, what: str, detail: object = "") -> None:
	print(f"{'PASS' if ok else 'FAIL'}  {what}" + (f"  ({str(detail)[:300]})" if detail != "" else ""))
	if not ok:
		FAILED.append(what)


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--base", default="http://wa.localhost:8000")
	ap.add_argument("--lang", default="en", choices=sorted(WORDS))
	ap.add_argument("--shots", default="/tmp")
	ap.add_argument("--rounds", type=int, default=5)
	args = ap.parse_args()
	words, shots = WORDS[args.lang], Path(args.shots)
	shots.mkdir(parents=True, exist_ok=True)
	site = Site(args.base, "Administrator", "admin")
	sim = Sim("baileys")
	session_id = "e2e-inbox-baileys"
	timings: dict = {}
	try:
		set_up_newcomers(site, sim, session_id, "+34 600 555 888", args.lang)
		stamp = int(time.time()) % 10**6
		with sync_playwright() as p:
			browser = p.chromium.launch(
				executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
			)
			context = browser.new_context(viewport={"width": 1400, "height": 950})
			page = context.new_page()
			errors: list[str] = []
			page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"[:300]))
			page.request.post(f"{site.base}/api/method/login", form={"usr": "Administrator", "pwd": "admin"})
			page.goto(f"{site.base}/app/whatsapp-inbox", wait_until="networkidle")
			page.locator(".wa-inbox").wait_for(timeout=15000)
			check(
				words["title"] in page.title() or page.locator(f"text={words['title']}").count() > 0,
				"the page is translated",
			)
			# I3: new numbers write in; each conversation appears on the open page without a reload
			latencies, first = [], None
			for i in range(args.rounds):
				chat = f"3462{stamp:06d}{i}"
				name = f"<b>Cliente {stamp}-{i}</b>"
				started = time.monotonic()
				sim.control(
					f"sessions/{session_id}/inbound",
					{
						"chat": chat,
						"text": f"Hola <img src=x onerror=document.body.dataset.xss=1> {i}",
						"pushName": name,
					},
				)
				page.locator(".wa-inbox-row", has_text=f"Cliente {stamp}-{i}").first.wait_for(timeout=15000)
				latencies.append(time.monotonic() - started)
				first = first or (chat, name)
			timings["new_number_on_open_inbox_s"] = {
				"median": round(statistics.median(latencies), 3),
				"max": round(max(latencies), 3),
				"n": len(latencies),
			}
			row = page.locator(".wa-inbox-row", has_text=f"Cliente {stamp}-0").first
			title = row.locator(".wa-title").inner_text()
			check(
				title.startswith(f"Cliente {stamp}-0") and row.locator(".wa-title b").count() == 0,
				"the sender's name made safe (the new Lead's name, no markup)",
				title,
			)
			check(
				"<img src=x" in row.locator(".wa-last").inner_text(),
				"the last message shown as text in the list",
			)
			check("frappe-timestamp" not in row.inner_text(), "the time shown as words", row.inner_text())
			page.screenshot(path=str(shots / f"inbox-{args.lang}.png"))
			row.click()
			page.locator(".wa-msg.in", has_text="Hola").first.wait_for(timeout=10000)
			shown = page.locator(".wa-msg.in").first.inner_text()
			check("<img src=x" in shown, "the customer's markup shown as text in the thread", shown)
			check(page.evaluate("document.body.dataset.xss") is None, "nothing from the customer ran")
			check(row.locator(".wa-unread").count() == 0, "opened: no unread count left")
			# assign to me (the Assign dialog's second button)
			page.locator(".wa-assign").click()
			page.locator(".modal.show .btn-modal-secondary, .modal.show .btn-secondary").first.click()
			page.locator(".wa-inbox-row", has_text=f"Cliente {stamp}-0").first.locator(
				"text=Administrator"
			).wait_for(timeout=10000)
			check(True, "assigned to the user (shown on the row)")
			# reply: reaches the gateway, ticks come back
			reply = f"Le atendemos enseguida {stamp}"
			page.locator(".wa-reply-box").fill(reply)
			started = time.monotonic()
			page.locator(".wa-reply-box").press("Enter")
			wait_for(
				lambda: [
					m
					for m in sim.control(f"sessions/{session_id}/sent", method="GET")["messages"]
					if m["text"] == reply
				],
				20,
				"the reply at the simulator",
			)
			timings["reply_reached_gateway_s"] = round(time.monotonic() - started, 3)
			bubble = page.locator(".wa-msg.out", has_text=reply)
			bubble.wait_for(timeout=10000)
			wait_for(lambda: "✓" in bubble.inner_text(), 20, "a tick on the reply", step=0.2)
			timings["reply_tick_s"] = round(time.monotonic() - started, 3)
			check(True, "the reply shows its tick", bubble.inner_text().split("\n")[-1])
			page.screenshot(path=str(shots / f"inbox-thread-{args.lang}.png"))
			# open the new Lead in CRM: the whole conversation is there
			with context.expect_page() as crm:
				page.locator(".wa-inbox-panel a[href*='/crm/leads/']").first.click()
			lead_page = crm.value
			lead_page.wait_for_load_state("networkidle")
			lead_page.locator(".activity", has_text=reply).wait_for(timeout=20000)
			check(
				lead_page.locator(".activity", has_text="Hola").count() >= 1,
				"CRM's tab shows the customer's first message",
			)
			check(lead_page.locator(".activity", has_text=reply).count() >= 1, "CRM's tab shows the reply")
			lead_page.screenshot(path=str(shots / f"inbox-lead-{args.lang}.png"))
			check(not errors, "no page errors", errors[:3])
			browser.close()
	except Exception as e:
		check(False, "the flow ran to the end", f"{type(e).__name__}: {e}"[:600])
	finally:
		admin = site.get("User", "Administrator")
		admin["language"] = "en"
		site.save(admin)
		sim.stop()
	print(json.dumps(timings))
	print("FAILED: " + ", ".join(FAILED) if FAILED else "all checks passed")
	return 1 if FAILED else 0


if __name__ == "__main__":
	sys.exit(main())
