"""End-to-end check of the WhatsApp Session form in a real desk, driven in headless Chromium.

Needs a running site with whatsapp_crm installed and a gateway simulator (the script adds a WhatsApp Gateway for it)
that has the same key (``whatsapp-crm simulate --port 3100 --scenario qr_now --api-key ...``). It creates a
session, clicks Create session, waits for the QR in the dialog (screenshot), makes the simulated phone scan
through the simulator's control route, and waits for Connected. Not collected by pytest (CI has no bench).

Usage: python tests/e2e/form_qr.py --base http://127.0.0.1:8000 --gateway http://127.0.0.1:3100 \
	--api-key KEY [--gateway-type waha] [--user Administrator --password admin] [--shots docs/] [--lang es]
(the simulator started with the same --gateway-type: ``whatsapp-crm simulate --gateway-type waha ...``)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
	"--no-sandbox",
	"--disable-gpu",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--no-first-run",
]


AUTH_HEADERS = {"baileys": "X-API-Key", "evolution": "apikey", "waha": "X-Api-Key"}
TYPE_LABELS = {"baileys": "Baileys REST", "evolution": "Evolution API", "waha": "WAHA", "auto": "Auto-detect"}


def scan(gateway: str, api_key: str, session_id: str, gateway_type: str = "baileys") -> None:
	req = urllib.request.Request(
		f"{gateway}/_sim/sessions/{session_id}/scan",
		data=json.dumps({"phone": "34600111222"}).encode(),
		headers={AUTH_HEADERS.get(gateway_type, "X-API-Key"): api_key, "Content-Type": "application/json"},
		method="POST",
	)
	urllib.request.urlopen(req, timeout=5).read()


def main() -> int:
	ap = argparse.ArgumentParser()
	ap.add_argument("--base", default="http://127.0.0.1:8000")
	ap.add_argument("--gateway", default="http://127.0.0.1:3100")
	ap.add_argument("--api-key", required=True)
	ap.add_argument("--user", default="Administrator")
	ap.add_argument("--password", default="admin")
	ap.add_argument("--shots", default="/tmp")
	ap.add_argument("--lang", default="en")
	ap.add_argument("--session", default=f"e2e-{int(time.time())}")
	ap.add_argument("--live", action="store_true", help="use the background watcher; the QR must be pushed")
	ap.add_argument("--gateway-type", default="baileys", choices=sorted(TYPE_LABELS))
	args = ap.parse_args()
	shots = Path(args.shots)
	shots.mkdir(parents=True, exist_ok=True)
	errors: list[str] = []

	with sync_playwright() as p:
		browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
		page = browser.new_page(viewport={"width": 1280, "height": 900})
		page.on("pageerror", lambda e: errors.append(str(e)))
		page.goto(f"{args.base}/login")
		page.fill("#login_email", args.user)
		page.fill("#login_password", args.password)
		page.click(".btn-login")
		# with Frappe CRM installed, a login lands on /crm: go to the desk from there
		page.wait_for_url(lambda url: "/login" not in url, timeout=30000)
		page.goto(f"{args.base}/app")
		if args.lang != "en":
			page.evaluate(
				"(lang) => frappe.xcall('frappe.client.set_value', "
				"{doctype: 'User', name: frappe.session.user, fieldname: 'language', value: lang})",
				args.lang,
			)
			page.reload()

		# a gateway record for the simulator, the default (as an admin would add one), and the policy
		page.evaluate(
			"""async (v) => {
				const name = "e2e-form-" + v.type;
				const values = {enabled: 1, is_default: 1, gateway_url: v.url, api_key: v.key, gateway_type: v.label};
				if (await frappe.db.exists("WhatsApp Gateway", name)) {
					await frappe.xcall("frappe.client.set_value", {doctype: "WhatsApp Gateway", name, fieldname: values});
				} else {
					await frappe.xcall("frappe.client.insert", {doc: {doctype: "WhatsApp Gateway", label: name, ...values}});
				}
				await frappe.xcall("frappe.client.set_value", {doctype: "WhatsApp CRM Settings",
					name: "WhatsApp CRM Settings", fieldname: {enabled: 1, use_monitor: v.live}});
			}""",
			{
				"type": args.gateway_type,
				"url": args.gateway,
				"key": args.api_key,
				"label": TYPE_LABELS[args.gateway_type],
				"live": 1 if args.live else 0,
			},
		)
		polls: list[str] = []
		created: list[dict] = []
		page.on("request", lambda r: polls.append(r.url) if "api.session.get_status" in r.url else None)
		page.on(
			"response",
			lambda r: (
				created.append(r.json().get("message") or {})
				if "api.session.create_session" in r.url
				else None
			),
		)

		# a new session, saved through the form like a user would
		page.goto(f"{args.base}/app/whatsapp-session/new")
		page.wait_for_selector('input[data-fieldname="session_id"]', timeout=30000)
		page.fill('input[data-fieldname="session_id"]', args.session)
		page.fill('input[data-fieldname="label"]', "Sales Madrid")
		page.keyboard.press("Control+s")
		page.wait_for_url(f"**/app/whatsapp-session/{args.session}", timeout=30000)
		create = "Crear sesión" if args.lang == "es" else "Create session"
		page.get_by_role("button", name=create).click()

		page.wait_for_selector(".modal.show img.wa-qr", timeout=40000)
		polls_before_qr = len(polls)
		socket_up = page.evaluate("() => !!(frappe.realtime.socket && frappe.realtime.socket.connected)")
		page.wait_for_timeout(500)
		page.screenshot(path=str(shots / f"qr-dialog-{args.lang}.png"))
		src = page.get_attribute(".modal.show img.wa-qr", "src")
		assert src and src.startswith("data:image/"), src

		scan(
			args.gateway,
			args.api_key,
			args.session,
			args.gateway_type if args.gateway_type != "auto" else "baileys",
		)
		page.wait_for_selector(".modal.show", state="hidden", timeout=30000)
		page.wait_for_function("() => cur_frm && cur_frm.doc.status === 'Connected'", timeout=30000)
		page.wait_for_timeout(800)
		page.screenshot(path=str(shots / f"connected-{args.lang}.png"))
		status = page.evaluate("() => cur_frm.doc.status")
		phone = page.evaluate("() => cur_frm.doc.phone_number")
		browser.close()

	print(
		f"session {args.session}: status={status} phone={phone} socket={socket_up} "
		f"polls before the QR showed={polls_before_qr} page errors={errors}"
	)
	answer = created[0] if created else {}
	monitor = answer.get("debug", {}).get("monitor")
	print(
		f"create answered: status={answer.get('status')} qr_available={answer.get('qr_available')} monitor={monitor}"
	)
	ok = status == "Connected" and not errors
	if args.live:  # the create call answered without a QR, and the QR was pushed, not polled for
		ok = (
			ok
			and socket_up
			and polls_before_qr == 0
			and monitor == "started"
			and not answer.get("qr_available")
		)
	return 0 if ok else 1


if __name__ == "__main__":
	sys.exit(main())
