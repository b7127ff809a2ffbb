"""End-to-end: the gateways in the desk, in headless Chromium (English or Spanish). Not collected by pytest.

Three WhatsApp Gateway records: one on the built-in simulator (Test connection -> Healthy), one on a closed
port (Test connection -> Down), and that one's last error rewritten with markup, as a hostile server's answer
would be. The WhatsApp CRM workspace must show one health card per gateway, in the user's language, with the
markup as text (no script runs, no image loads); the gateway form's Test connection must show its checks.
Prints one PASS/FAIL line per check and exits 1 on any failure. Screenshots in --shots:
gateways-workspace-{lang}.png and gateway-test-{lang}.png.

Usage: PYTHONPATH=.:/tmp/e2e-deps /opt/pwenv/bin/python tests/e2e/gateways_desk.py --base http://wa.localhost:8000 \
	[--lang es] [--shots docs/]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm_whatsapp import FAILED, KEY, Sim, Site, check, test_connection, upsert_gateway
from form_qr import CHROMIUM_ARGS

MARKUP = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>bad gateway'
WORDS = {
	"en": {"healthy": "Healthy", "down": "Down", "test": "Test connection", "passed": "Passed"},
	"es": {"healthy": "Operativa", "down": "Caída", "test": "Probar conexión", "passed": "Correcto"},
}


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--base", default="http://wa.localhost:8000")
	ap.add_argument("--lang", default="en", choices=sorted(WORDS))
	ap.add_argument("--shots", default="/tmp")
	args = ap.parse_args()
	words, shots = WORDS[args.lang], Path(args.shots)
	shots.mkdir(parents=True, exist_ok=True)
	site = Site(args.base, "Administrator", "admin")
	sim = Sim("baileys")
	names = ("e2e-cards-sim", "e2e-cards-closed")
	try:
		upsert_gateway(
			site,
			names[0],
			enabled=1,
			is_default=0,
			gateway_type="Baileys REST",
			gateway_url=sim.url,
			api_key=KEY,
		)
		upsert_gateway(
			site,
			names[1],
			enabled=1,
			is_default=0,
			gateway_type="Evolution API",
			gateway_url="http://127.0.0.1:9",
		)
		check(test_connection(site, names[0]).get("ok") is True, "Test connection passes on the simulator")
		check(test_connection(site, names[1]).get("ok") is False, "Test connection fails on a closed port")
		site.call(
			"frappe.client.set_value",
			doctype="WhatsApp Gateway",
			name=names[1],
			fieldname="last_error",
			value=MARKUP,
		)
		admin = site.get("User", "Administrator")
		admin["language"] = args.lang
		site.save(admin)
		with sync_playwright() as p:
			browser = p.chromium.launch(
				executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
			)
			page = browser.new_page(viewport={"width": 1300, "height": 1000})
			errors: list[str] = []
			page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"[:300]))
			dialogs: list[str] = []
			page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
			page.request.post(f"{site.base}/api/method/login", form={"usr": "Administrator", "pwd": "admin"})
			page.goto(f"{site.base}/app/whatsapp-crm", wait_until="networkidle")
			cards = page.locator(".wa-card")  # inside the block's shadow root: Playwright's CSS pierces it
			cards.first.wait_for(timeout=15000)
			text = {n: page.locator(".wa-card", has_text=n).first.inner_text() for n in names}
			check(words["healthy"] in text[names[0]], "the simulator's card says healthy", text[names[0]])
			check(words["down"] in text[names[1]], "the closed port's card says down", text[names[1]])
			# (Frappe's own sanitiser already rewrote the stored markup; what is left must still be text)
			check(
				"<img" in text[names[1]] and page.locator(".wa-card img").count() == 0,
				"the server's markup shown as text",
				text[names[1]],
			)
			check("frappe-timestamp" not in text[names[0]], "the last check shown as words")
			pwned = page.evaluate("() => window.__pwned || 0")
			check(pwned == 0 and not dialogs, "no script from the server ran", (pwned, dialogs))
			page.locator(".wa-card", has_text=names[1]).first.scroll_into_view_if_needed()
			page.screenshot(path=str(shots / f"gateways-workspace-{args.lang}.png"), full_page=False)
			page.goto(f"{site.base}/app/whatsapp-gateway/{names[0]}", wait_until="networkidle")
			page.locator("button", has_text=words["test"]).first.click()
			modal = page.locator(".modal.show .modal-body")
			modal.wait_for(timeout=15000)
			check(words["passed"] in modal.inner_text(), "the form's Test connection lists its checks")
			page.screenshot(path=str(shots / f"gateway-test-{args.lang}.png"))
			check(not errors, "no page errors", errors[:3])
			browser.close()
	finally:
		admin = site.get("User", "Administrator")
		admin["language"] = "en"
		site.save(admin)
		for name in names:
			site.delete("WhatsApp Gateway", name)
		sim.stop()
	print("FAILED: " + ", ".join(FAILED) if FAILED else "all checks passed")
	return 1 if FAILED else 0


if __name__ == "__main__":
	sys.exit(main())
