"""Two real gateway servers at once, as two WhatsApp Gateway records on one site (issue: many gateways).

Needs a running site and the real servers of ``../shared/real-gateways`` (Evolution API on :8080, WAHA on :8081;
offline they never produce a QR). Over the site's REST API, as an admin would: adds the gateways ``real-evolution``
and ``real-waha`` (each its own webhook secret), runs Test connection on each, creates a session on each, reads
their status for a while, and checks what each server was told: the webhook URL it got names its gateway. Then
it deletes the sessions (and so their instances on the servers). Prints what it saw; exits 1 when a check fails.

Usage: python tests/e2e/real_gateways.py --base http://127.0.0.1:8000 [--evolution http://127.0.0.1:8080
	--evolution-key peer-test-key-123 --waha http://127.0.0.1:8081 --seconds 20]
"""

from __future__ import annotations

import argparse
import sys
import time

import requests
from crm_whatsapp import FAILED, Site, check, test_connection, upsert_gateway


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--base", default="http://127.0.0.1:8000")
	ap.add_argument("--user", default="Administrator")
	ap.add_argument("--password", default="admin")
	ap.add_argument("--evolution", default="http://127.0.0.1:8080")
	ap.add_argument("--evolution-key", default="peer-test-key-123")
	ap.add_argument("--waha", default="http://127.0.0.1:8081")
	ap.add_argument("--seconds", type=float, default=20.0, help="how long each session's status is read")
	args = ap.parse_args()
	site = Site(args.base, args.user, args.password)
	settings = site.get("WhatsApp CRM Settings", "WhatsApp CRM Settings")
	settings.update({"enabled": 1, "use_monitor": 1, "public_site_url": args.base})
	site.save(settings)
	gateways = {
		"real-evolution": {
			"gateway_type": "Auto-detect",
			"gateway_url": args.evolution,
			"api_key": args.evolution_key,
			"webhook_secret": "real-evolution-secret",
		},
		# WAHA Core 2024 checks no key and runs only "default"
		"real-waha": {
			"gateway_type": "Auto-detect",
			"gateway_url": args.waha,
			"api_key": "",
			"webhook_secret": "real-waha-secret",
			"max_sessions": 1,
		},
	}
	sessions = {"real-evolution": "real-evo-1", "real-waha": "default"}
	names = {}
	try:
		for name, values in gateways.items():
			upsert_gateway(site, name, enabled=1, is_default=0, **values)
			result = test_connection(site, name)
			check(result.get("ok") is True, f"{name}: Test connection", result.get("message"))
			record = site.get("WhatsApp Gateway", name)
			check(
				record.get("health_status") == "Healthy",
				f"{name}: health Healthy",
				record.get("detected_gateway"),
			)
		for gateway, session_id in sessions.items():
			found = site.names("WhatsApp Session", {"gateway": gateway, "session_id": session_id})
			for old in found:
				site.delete("WhatsApp Session", old)
			doc = site.insert(
				{
					"doctype": "WhatsApp Session",
					"session_id": session_id,
					"label": f"Real {gateway}",
					"gateway": gateway,
				}
			)
			names[gateway] = doc["name"]
			check(doc["gateway"] == gateway, f"{gateway}: the session lives on it", doc["name"])
		started = time.monotonic()
		for gateway, name in names.items():
			payload = site.call("whatsapp_crm.api.session.create_session", session=name)
			print(f"      {gateway}: create -> {payload.get('status')}: {payload.get('message')}")
		last = {}
		while time.monotonic() - started < args.seconds:
			for gateway, name in names.items():
				last[gateway] = site.call("whatsapp_crm.api.session.get_status", session=name)
			time.sleep(2)
		for gateway, payload in last.items():
			print(
				f"      {gateway}: after {args.seconds:.0f} s -> {payload.get('status')}: {payload.get('message')}"
			)
			check(payload.get("status") in ("Connecting", "QR Ready"), f"{gateway}: waiting, not failed")
		# what each server was told: the webhook URL names its own gateway
		hook = requests.get(
			f"{args.evolution}/webhook/find/{sessions['real-evolution']}",
			headers={"apikey": args.evolution_key},
			timeout=10,
		).json()
		check(
			(hook or {}).get("url", "").endswith("whatsapp_crm.api.webhook.receive?gateway=real-evolution"),
			"Evolution was given its own webhook URL",
			(hook or {}).get("url"),
		)
		waha = requests.get(f"{args.waha}/api/sessions/default", timeout=10).json()
		urls = [h.get("url", "") for h in ((waha.get("config") or {}).get("webhooks") or [])]
		check(
			any(u.endswith("?gateway=real-waha") or "gateway=real-waha" in u for u in urls),
			"WAHA was given its own webhook URL",
			urls,
		)
		for gateway in gateways:
			record = site.get("WhatsApp Gateway", gateway)
			print(
				f"      {gateway}: health {record.get('health_status')}, last error {record.get('last_error')!r}"
			)
		r = site.http.get(f"{site.base}/api/method/whatsapp_crm.api.gateway.health", timeout=30)
		r.raise_for_status()
		health = r.json()["message"]
		shown = {g["name"]: (g["health"], g["sessions"]) for g in health if g["name"] in gateways}
		check(len(shown) == 2, "the workspace's cards show both gateways", shown)
	finally:
		for name in names.values():
			site.delete("WhatsApp Session", name)  # and its instance on the server (after the commit)
	print("FAILED: " + ", ".join(FAILED) if FAILED else "all checks passed")
	return 1 if FAILED else 0


if __name__ == "__main__":
	sys.exit(main())
