"""End-to-end: the WhatsApp Session form's Sync messages (the by-hand catch-up), in headless Chromium against
the built-in simulator. Not collected by pytest (CI has no bench).

A session is linked on the simulator and backs a WhatsApp Account (only then are messages stored), its first
catch-up (the one a link queues) is let finish, then the simulator's receiver goes down and a customer types
3 messages (one with markup): their webhooks are dropped, so nothing reaches the CRM. On the form, in the
Message Catch-up section: a Since in the future is refused in the user's language; a Since an hour ago queues
the job (the ``long`` worker), whose realtime event shows "Catch-up done: 3 ..." and reloads the form, which
then shows Found in Last Catch-up = 3 and Recovered in the Last 7 Days = 3. The 3 messages then exist once
each, their markup stored escaped and listed as text in the form's Messages section; no page errors.

Needs the bench's workers (``long`` runs the catch-up) and socket.io; for Spanish, compiled translations
(``bench compile-po-to-mo --app whatsapp_crm``). Prints one PASS/FAIL line per check, the timings as JSON,
and exits 1 on any failure. Screenshots: session-sync-{type}-{lang}-{before,refused,done}.png in --shots.

Usage: PYTHONPATH=. /opt/pwenv/bin/python tests/e2e/session_sync.py --base http://wa.localhost:8000 \
	[--gateway-type baileys] [--lang es] [--shots /tmp]
(the helpers use ``requests``: a Playwright env without it can take it from a side folder, e.g.
``pip install --target /tmp/e2e-deps requests`` and ``PYTHONPATH=.:/tmp/e2e-deps``)
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm_whatsapp import (
	CHROMIUM_ARGS,
	CUSTOMER,
	TYPE_LABELS,
	Sim,
	Site,
	gateway_name,
	link,
	point_site_at,
	wait_for,
)

ACCOUNT = "E2E Sync Account"
MESSAGE = "WhatsApp Message"
WORDS = {
	"en": {
		"section": "Message Catch-up",
		"messages": "WhatsApp Messages",
		"button": "Sync messages",
		"refused": "Since must be a date and time in the past.",
		"done": "Catch-up done: {0} missed messages recovered.",
		"unfinished": "The catch-up could not finish: see Last Catch-up Problem.",
	},
	"es": {
		"section": "Recuperación de mensajes",
		"messages": "Mensajes de WhatsApp",
		"button": "Sincronizar mensajes",
		"refused": "Desde debe ser una fecha y hora en el pasado.",
		"done": "Recuperación terminada: {0} mensajes perdidos recuperados.",
		"unfinished": "La recuperación no pudo terminar: vea Último problema de recuperación.",
	},
}


class Checks:
	def __init__(self, tag: str) -> None:
		self.tag = tag
		self.failed = 0

	def check(self, ok: bool, what: str, detail: object = "") -> bool:
		print(f"{'PASS' if ok else 'FAIL'} [{self.tag}] {what}" + ("" if ok else f": {detail}"), flush=True)
		self.failed += 0 if ok else 1
		return ok


def fresh_session(site: Site, session_id: str) -> None:
	"""A new session under the same name, so its history (Recovered in the Last 7 Days) starts empty. The
	account keeps its earlier messages (they link to it): it only lets go of the old session."""
	if site.names("WhatsApp Account", {"name": ACCOUNT}):
		account = site.get("WhatsApp Account", ACCOUNT)
		if account.get("whatsapp_session"):
			account["whatsapp_session"] = None
			site.save(account)
	site.delete("WhatsApp Session", session_id)
	if site.names("WhatsApp Session", {"name": session_id}):
		raise RuntimeError(f"WhatsApp Session {session_id} from an earlier run could not be deleted")
	site.insert({"doctype": "WhatsApp Session", "session_id": session_id, "label": "E2E sync"})


def back_with_account(site: Site, session_id: str) -> None:
	"""A WhatsApp Account backed by the session, not a default one (other tests own those)."""
	if site.names("WhatsApp Account", {"name": ACCOUNT}):
		account = site.get("WhatsApp Account", ACCOUNT)
		account.update({"whatsapp_session": session_id, "is_default_outgoing": 0, "is_default_incoming": 0})
		site.save(account)
	else:
		site.insert(
			{
				"doctype": "WhatsApp Account",
				"account_name": ACCOUNT,
				"whatsapp_session": session_id,
				"is_default_outgoing": 0,
				"is_default_incoming": 0,
			}
		)


def stored(site: Site, text: str) -> list[str]:
	"""WhatsApp Messages of the account holding ``text`` as the app stores it (HTML-escaped)."""
	return site.names(MESSAGE, {"message": html.escape(text, quote=False), "whatsapp_account": ACCOUNT})


def field_text(page, fieldname: str) -> str:
	return (
		page.locator(f".frappe-control[data-fieldname={fieldname}] .control-value").first.inner_text().strip()
	)


def user_datetime(page, hours_from_now: float) -> str:
	"""A datetime as the user types it (their date format, their clock)."""
	return page.evaluate(
		"""(h) => frappe.datetime.str_to_user(
			moment(frappe.datetime.now_datetime()).add(h * 3600, "seconds").format(frappe.defaultDatetimeFormat))""",
		hours_from_now,
	)


def fill_since(page, dialog, value: str) -> str | None:
	box = dialog.locator("input[data-fieldname=since]")
	box.fill(value)
	box.press("Tab")  # the control takes the typed value on change (and the date picker closes)
	page.wait_for_timeout(400)
	return page.evaluate("() => cur_dialog && cur_dialog.get_value('since')")


def run(args) -> int:
	words = WORDS[args.lang]
	shots = Path(args.shots)
	tag = f"{args.gateway_type}/{args.lang}"
	checks = Checks(tag)
	site = Site(args.base, "Administrator", "admin")
	sim = Sim(args.gateway_type)
	session_id = f"e2e-sync-{args.gateway_type}"
	token = f"{args.gateway_type}-{args.lang}-{int(time.time())}"
	texts = [
		f"Hola, ¿seguís abiertos mañana? [{token}]",
		f"Quiero <b>dos</b> cajas, por favor [{token}]",
		f"Gracias, espero respuesta [{token}]",
	]
	timings: dict[str, float] = {}
	errors: list[str] = []
	try:
		point_site_at(site, sim)
		fresh_session(site, session_id)
		link(site, sim, session_id)
		back_with_account(site, session_id)
		# The catch-up a link queues must be over first, or it would be the one to find the messages.
		wait_for(
			lambda: site.get("WhatsApp Session", session_id).get("last_sync_at"),
			60,
			"the catch-up queued by the link (is the long worker running?)",
			step=0.5,
		)
		admin = site.get("User", "Administrator")
		admin["language"] = args.lang
		site.save(admin)

		# 1. the receiver is down: 3 messages typed by the customer never reach the CRM
		sim.control("receiver", {"down": True})
		for text in texts:
			sim.control(f"sessions/{session_id}/inbound", {"chat": CUSTOMER, "text": text, "pushName": "Ana"})
			time.sleep(0.3)  # three distinct moments, as a person types
		dropped = wait_for(
			lambda: (n := sim.control("receiver", {"down": True})["dropped"]) >= len(texts) and n,
			10,
			"the simulator to drop the webhooks",
		)
		time.sleep(2)
		before = {text: stored(site, text) for text in texts}
		checks.check(
			all(not names for names in before.values()),
			f"receiver down: {dropped} webhooks dropped, none of the 3 messages in the CRM",
			before,
		)

		with sync_playwright() as p:
			browser = p.chromium.launch(
				executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
			)
			page = browser.new_page(viewport={"width": 1300, "height": 1000})
			step = {"now": "open the form"}
			page.on(
				"pageerror",
				lambda e: errors.append(
					f"[{step['now']}] {e.name}: {e.message} {e.stack or ''}".strip()[:600]
				),
			)
			try:
				flow(page, site, args, words, shots, session_id, texts, checks, timings, step)
			except Exception as e:
				checks.check(False, "the form flow ran to the end", f"{type(e).__name__}: {e}"[:800])
				page.screenshot(path=str(shots / f"session-sync-{args.gateway_type}-{args.lang}-failed.png"))
			browser.close()

		# 3. in the CRM once each, the markup stored escaped
		after = {text: stored(site, text) for text in texts}
		checks.check(
			all(len(names) == 1 for names in after.values()),
			"each recovered message stored exactly once",
			{t: len(n) for t, n in after.items()},
		)
		markup = site.get(MESSAGE, after[texts[1]][0])["message"] if after[texts[1]] else None
		checks.check(
			markup == html.escape(texts[1], quote=False) and "<b>" not in markup,
			"the customer's markup stored escaped",
			markup,
		)
		checks.check(not errors, "no page errors", errors[:5])
	except Exception as e:
		checks.check(False, "set-up and checks ran", f"{type(e).__name__}: {e}"[:800])
	finally:
		try:
			# A test or benchmark run meanwhile may have re-pointed this run's gateway record.
			url = site.get("WhatsApp Gateway", gateway_name(sim)).get("gateway_url")
			checks.check(url == sim.url, "the run's WhatsApp Gateway still pointed at its simulator", url)
			admin = site.get("User", "Administrator")
			admin["language"] = "en"
			site.save(admin)
		finally:
			sim.stop()
	print(
		json.dumps(
			{
				"type": args.gateway_type,
				"lang": args.lang,
				**{k: round(v, 3) for k, v in timings.items()},
				"page_errors": errors[:5],
				"result": "FAIL" if checks.failed else "PASS",
			}
		),
		flush=True,
	)
	return 1 if checks.failed else 0


def flow(
	page, site: Site, args, words: dict, shots: Path, session_id: str, texts, checks: Checks, timings, step
):
	shot = lambda name: str(shots / f"session-sync-{args.gateway_type}-{args.lang}-{name}.png")  # noqa: E731
	# Logged in by the API (the login page lands on Frappe CRM's /crm, whose errors are not this form's).
	page.request.post(f"{site.base}/api/method/login", form={"usr": "Administrator", "pwd": "admin"})
	page.goto(f"{site.base}/app/whatsapp-session/{session_id}", wait_until="networkidle")
	page.locator(".section-head", has_text=words["section"]).click()  # collapsed at first
	page.locator(".frappe-control[data-fieldname=last_sync_found]").first.wait_for(timeout=10000)
	page.locator(".section-head", has_text=words["messages"]).click()
	messages = page.locator("[data-fieldname=messages_html]")
	messages.locator(".wa-message, p.text-muted").first.wait_for(timeout=10000)  # loads after the form
	shown = [t for t in texts if messages.locator(".wa-message", has_text=t).count()]
	checks.check(not shown, "the form's Messages section does not list the missed messages", shown)
	page.screenshot(path=shot("before"), full_page=True)

	# 2a. a Since in the future: refused, in the user's language
	step["now"] = "Sync with a Since in the future"
	page.get_by_role("button", name=words["button"], exact=True).click()
	dialog = page.locator(".modal.show", has=page.locator(".modal-title", has_text=words["button"]))
	dialog.wait_for(timeout=10000)
	value = fill_since(page, dialog, user_datetime(page, 24))
	dialog.locator(".btn-primary").click()
	refusal = page.locator(".msgprint", has_text=words["refused"])
	try:
		refusal.first.wait_for(timeout=10000)
		checks.check(True, f"a Since in the future ({value}) is refused: {words['refused']!r}")
	except Exception:
		said = page.locator(".modal.show .modal-body").all_inner_texts()
		checks.check(False, f"a Since in the future ({value}) is refused", said)
	page.wait_for_timeout(700)  # the message box's fade-in
	page.screenshot(path=shot("refused"))
	page.locator(".modal.show", has=refusal).locator(".btn-modal-close").first.click()
	refusal.first.wait_for(state="hidden", timeout=5000)

	# 2b. a Since an hour ago: queued, and the job's realtime event says what it found
	step["now"] = "Sync with a Since an hour ago"
	if not dialog.is_visible():
		page.get_by_role("button", name=words["button"], exact=True).click()
		dialog.wait_for(timeout=10000)
	value = fill_since(page, dialog, user_datetime(page, -1))
	done_prefix = words["done"].split("{0}")[0].strip()
	started = time.monotonic()
	dialog.locator(".btn-primary").click()
	# the job's own alert, whether it found them or could not finish
	alert = page.locator("#alert-container .desk-alert").filter(
		has_text=re.compile(f"{re.escape(done_prefix)}|{re.escape(words['unfinished'])}")
	)
	alert.first.wait_for(timeout=60000)
	timings["click_to_alert_s"] = time.monotonic() - started
	said = alert.first.inner_text()
	expected = words["done"].format(len(texts))
	if not checks.check(expected in said, f"realtime alert after Sync (since {value}): {expected!r}", said):
		doc = site.get("WhatsApp Session", session_id)
		print(f"INFO [{checks.tag}] Last Catch-up Problem: {doc.get('last_sync_error')!r}")

	# the form reloaded: the section shows what the catch-up found
	step["now"] = "the form after the catch-up"
	wait_for(lambda: field_text(page, "last_sync_found") == str(len(texts)), 15, "Found in Last Catch-up")
	timings["click_to_fields_s"] = time.monotonic() - started
	found, recovered = field_text(page, "last_sync_found"), field_text(page, "recovered_last_7_days")
	checks.check(found == str(len(texts)), f"Found in Last Catch-up = {found}", found)
	checks.check(recovered == str(len(texts)), f"Recovered in the Last 7 Days = {recovered}", recovered)
	problem = (
		field_text(page, "last_sync_error")
		if page.locator(".frappe-control[data-fieldname=last_sync_error] .control-value").first.is_visible()
		else ""
	)
	checks.check(not problem, "no Last Catch-up Problem", problem)
	# The reload collapsed the sections (Frappe collapses every collapsible one on refresh): open them again.
	for heading in (words["section"], words["messages"]):
		head = page.locator(".section-head", has_text=heading)
		if "collapsed" in (head.get_attribute("class") or ""):
			print(f"INFO [{checks.tag}] the reload after the catch-up collapsed the section {heading!r}")
			head.click()
	listed = messages.locator(".wa-message", has_text=texts[1])
	try:
		listed.first.wait_for(timeout=10000)
		checks.check(True, "the recovered markup is listed as text in the Messages section")
	except Exception:
		checks.check(False, "the recovered markup is listed as text in the Messages section", texts[1])
	checks.check(messages.locator("b", has_text="dos").count() == 0, "the markup did not become HTML")
	page.screenshot(path=shot("done"), full_page=True)


def main() -> int:
	ap = argparse.ArgumentParser()
	ap.add_argument("--base", default="http://wa.localhost:8000")
	ap.add_argument("--gateway-type", default="baileys", choices=sorted(TYPE_LABELS))
	ap.add_argument("--lang", default="en", choices=sorted(WORDS))
	ap.add_argument("--shots", default="/tmp")
	return run(ap.parse_args())


if __name__ == "__main__":
	sys.exit(main())
