"""End-to-end: the WhatsApp inbox a sales team lives in (/app/whatsapp-inbox), in English or Spanish. Not
collected by pytest.

Set up through the API and the built-in simulator (this script's own gateway record, session and account, set
to Create a Lead; a colleague to mention, a shared quick reply ``/price-e2e``). A customer the CRM has never seen
sends a photo (a real PNG the app fetches from the gateway) and a question; another new number writes too, so
the list has neighbours. In headless Chromium, as Administrator:
  1. the conversation opens with the photo inline (its thumbnail loaded) and the new Lead beside it (name,
     status); the colleague, with the same conversation open in another browser, shows as "Also here";
  2. "/pri" in the reply box offers the quick reply, picking it fills in the Lead's first name; a PDF attached
     through the file input goes with it: a document card in the thread, the file and the text at the gateway;
  3. a private note mentioning the colleague (typed "@", picked from the menu) shows as a note, the colleague
     gets a Mention notification, and nothing reaches the gateway;
  4. "e" resolves: the conversation leaves the Open tab, the Resolved count grows by one;
  5. the customer writes again: back under Open on the open page, without a reload;
  6. "?" lists the shortcuts; j/k move between conversations; a message search for a word of the question
     opens the thread at it.
Checks print PASS/FAIL; exits 1 on a failure. Everything made is deleted at the end (prefix ``e2e-team``).
Screenshots in --shots: inbox-team-thread-{lang}.png, inbox-team-quick-reply-{lang}.png,
inbox-team-note-{lang}.png, inbox-team-resolved-{lang}.png.

Usage: PYTHONPATH=.:/tmp/e2e-deps /opt/pwenv/bin/python tests/e2e/inbox_team.py --base http://wa.localhost:8000 \
	[--lang es] [--shots docs/]
"""

from __future__ import annotations

import argparse
import base64
import re
import struct
import sys
import time
import zlib
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm_whatsapp import FAILED as FAILED_CHECKS
from crm_whatsapp import OPEN_SENDING_POLICY, Sim, Site, check, own_number, wait_for
from form_qr import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "e2e-team-baileys"
SESSION = "e2e-team"
ACCOUNT = "E2E Team Account"
QUICK_CODE = "price-e2e"
COLLEAGUE = "e2e-team-carla@example.com"
COLLEAGUE_PASSWORD = "E2e-team-Carla-2026!"
CONVERSATION = "WhatsApp Conversation"
MESSAGE = "WhatsApp Message"
CONTENT = {
	"en": {
		"customer": "Lucía",
		"other": "Tomás",
		"question": "Do you have this lamp in turquoise? It is for the shop on Gran Vía.",
		"word": "turquoise",
		"quick": "Hello {first_name}, here is our price list. The turquoise lamp is 49 EUR.",
		"quick_title": "E2E price list",
		"note": "Please call her tomorrow morning, she wants ten lamps",
		"again": "One more thing: do you deliver on Saturdays?",
		"other_text": "Good morning, is the shop open today?",
	},
	"es": {
		"customer": "Lucía",
		"other": "Tomás",
		"question": "¿Tienen esta lámpara en turquesa? Es para la tienda de la Gran Vía.",
		"word": "turquesa",
		"quick": "Hola {first_name}, le envío nuestra lista de precios. La lámpara turquesa cuesta 49 EUR.",
		"quick_title": "E2E lista de precios",
		"note": "Llámala mañana por la mañana, quiere diez lámparas",
		"again": "Una cosa más: ¿reparten los sábados?",
		"other_text": "Buenos días, ¿abre hoy la tienda?",
	},
}
# the English labels whose translation the Spanish run must show (the page's own words)
LABELS = ["Open", "Resolved", "Private note", "Keyboard shortcuts", "Add note", "Search messages"]


# ---- files the customer and the agent send -------------------------------------------------------------------


def png(width: int = 480, height: int = 360) -> bytes:
	"""A real PNG: a warm backdrop, a table and a turquoise lamp (a product photo, roughly)."""
	rows = []
	for y in range(height):
		row = bytearray([0])
		for x in range(width):
			r, g, b = 245 - y // 6, 232 - y // 8, 210 - y // 5  # the wall
			if y > height * 0.78:  # the table
				r, g, b = 150 - (x % 40), 100, 60
			cx, cy = width // 2, int(height * 0.38)
			if (x - cx) ** 2 / 90**2 + (y - cy) ** 2 / 60**2 <= 1 and y <= cy:  # the shade
				r, g, b = 40, 190, 180
			elif abs(x - cx) <= 6 and cy < y <= height * 0.74:  # the stem
				r, g, b = 60, 60, 70
			elif abs(x - cx) <= 50 and height * 0.74 < y <= height * 0.78:  # the foot
				r, g, b = 60, 60, 70
			row += bytes((max(0, min(255, r)), max(0, min(255, g)), max(0, min(255, b))))
		rows.append(bytes(row))

	def chunk(kind: bytes, data: bytes) -> bytes:
		return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

	header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
	return (
		b"\x89PNG\r\n\x1a\n"
		+ chunk(b"IHDR", header)
		+ chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
		+ chunk(b"IEND", b"")
	)


def pdf(title: str) -> bytes:
	"""A small valid PDF of one page saying ``title``."""
	text = title.encode("latin-1", "replace").replace(b"(", b"[").replace(b")", b"]")
	stream = b"BT /F1 18 Tf 72 720 Td (" + text + b") Tj ET"
	objects = [
		b"<< /Type /Catalog /Pages 2 0 R >>",
		b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
		b"/Resources << /Font << /F1 5 0 R >> >> >>",
		b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
		b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	]
	out = bytearray(b"%PDF-1.4\n")
	offsets = []
	for i, body in enumerate(objects, 1):
		offsets.append(len(out))
		out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
	xref = len(out)
	out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
	for o in offsets:
		out += f"{o:010d} 00000 n \n".encode()
	out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
	return bytes(out)


# ---- the site ---------------------------------------------------------------------------------------------


def digits(number: str) -> str:
	return re.sub(r"\D", "", number or "")


def es_translations() -> dict[str, str]:
	"""msgid (or "msgid:msgctxt", as Frappe keys a translation in a context) -> msgstr of the app's es.po
	(single-line entries; enough for short labels)."""
	po = ROOT / "whatsapp_crm/locale/es.po"
	found: dict[str, str] = {}
	if not po.exists():
		return found
	msgid = ctxt = None
	for line in po.read_text(encoding="utf-8").splitlines():
		if line.startswith("msgctxt "):
			ctxt = line[9:-1]
		elif line.startswith("msgid "):
			msgid = line[7:-1]
		elif line.startswith("msgstr ") and msgid:
			if line[8:-1]:
				found[f"{msgid}:{ctxt}" if ctxt else msgid] = line[8:-1]
			msgid = ctxt = None
	return found


def status_word(labels: dict[str, str], status: str) -> str:
	"""A status as the page says it in Spanish: in the "Conversation status" context, else the word's own."""
	return labels.get(f"{status}:Conversation status") or labels.get(status) or ""


def set_up(site: Site, sim: Sim, lang: str) -> str:
	"""This script's own gateway, session and account (crm_whatsapp.own_number), with an open sending
	policy: the reply goes at once."""
	return own_number(
		site,
		sim,
		lang,
		gateway=GATEWAY,
		session_id=SESSION,
		label="E2E team",
		account=ACCOUNT,
		session_values=OPEN_SENDING_POLICY,
	)


def enable_gateway(site: Site) -> None:
	"""Unit tests running on the same site switch every gateway but theirs off for a while: ours on again
	before each step that goes through it."""
	site.call("frappe.client.set_value", doctype="WhatsApp Gateway", name=GATEWAY, fieldname={"enabled": 1})


def inbound(site: Site, sim: Sim, body: dict) -> None:
	enable_gateway(site)
	sim.control(f"sessions/{SESSION}/inbound", body)


def set_up_colleague(site: Site, lang: str) -> None:
	if not site.names("User", {"name": COLLEAGUE}):
		site.insert(
			{
				"doctype": "User",
				"email": COLLEAGUE,
				"first_name": "Carla",
				"last_name": "E2E Team",
				"send_welcome_email": 0,
				"new_password": COLLEAGUE_PASSWORD,
				"language": lang,
				"roles": [{"role": "Sales User"}, {"role": "Sales Manager"}],
			}
		)
	user = site.get("User", COLLEAGUE)
	user.update(
		{"enabled": 1, "language": lang, "allowed_in_mentions": 1, "new_password": COLLEAGUE_PASSWORD}
	)
	site.save(user)
	user = site.get("User", COLLEAGUE)
	check(user["user_type"] == "System User", "set-up: the colleague is a system user", user["user_type"])


def set_up_quick_reply(site: Site, words: dict) -> str:
	for name in site.names("WhatsApp Quick Reply", {"code": QUICK_CODE}):
		site.delete("WhatsApp Quick Reply", name)
	doc = site.insert(
		{
			"doctype": "WhatsApp Quick Reply",
			"code": QUICK_CODE,
			"title": words["quick_title"],
			"shared": 1,
			"message": words["quick"],
		}
	)
	return doc["name"]


def conversation_of(site: Site, number: str) -> dict | None:
	rows = site.call(
		"frappe.client.get_list",
		doctype=CONVERSATION,
		filters={"whatsapp_account": ACCOUNT, "number": "+" + digits(number)},
		fields=["name", "status", "reference_doctype", "reference_name", "title"],
	)
	return rows[0] if rows else None


def messages_of(site: Site, number: str) -> list[dict]:
	d = digits(number)
	rows = []
	for field in ("from", "to"):
		rows += (
			site.call(
				"frappe.client.get_list",
				doctype=MESSAGE,
				filters={"whatsapp_account": ACCOUNT, field: ["like", f"%{d}"]},
				fields=["name", "type", "message", "attach", "status", "content_type", "creation"],
				order_by="creation asc",
				limit_page_length=0,
			)
			or []
		)
	return sorted({r["name"]: r for r in rows}.values(), key=lambda r: r["creation"])


def sent_to(sim: Sim, number: str) -> list[dict]:
	d = digits(number)
	return [
		m
		for m in sim.control(f"sessions/{SESSION}/sent", method="GET")["messages"]
		if digits(m["to"]).startswith(d)
	]


def clean_up(site: Site, numbers: list[str], quick: str | None, user: bool = True) -> None:
	"""Everything this run made on the site: messages and their files, conversations and their cycles, the
	Leads with their notes, tasks and assignments, the colleague's notifications, the quick reply."""
	leftovers = []

	def delete(doctype: str, name: str) -> None:
		try:
			site.call("frappe.client.delete", doctype=doctype, name=name)
		except RuntimeError as e:
			if "DoesNotExistError" not in str(e):  # gone with its document (a message's File)
				leftovers.append(f"{doctype} {name}: {str(e)[:160]}")

	for number in numbers:
		conv = conversation_of(site, number)
		files = []
		for m in messages_of(site, number):
			if m.get("attach"):
				files += site.names("File", {"file_url": m["attach"]})
			delete(MESSAGE, m["name"])
		for f in files:
			delete("File", f)
		if not conv:
			continue
		for f in site.names("File", {"attached_to_doctype": CONVERSATION, "attached_to_name": conv["name"]}):
			delete("File", f)
		for cycle in site.names("WhatsApp Conversation Cycle", {"conversation": conv["name"]}):
			delete("WhatsApp Conversation Cycle", cycle)
		ref = conv.get("reference_name")
		delete(CONVERSATION, conv["name"])
		if ref:
			for c in site.names("Comment", {"reference_name": ref}):
				delete("Comment", c)
			for t in site.names("ToDo", {"reference_name": ref}):
				delete("ToDo", t)
			for n in site.names("Notification Log", {"document_name": ref}):
				delete("Notification Log", n)
			for n in site.names("CRM Notification", {"reference_name": ref}):
				delete("CRM Notification", n)
			delete(conv["reference_doctype"], ref)
	if quick:
		delete("WhatsApp Quick Reply", quick)
	if user:
		for n in site.names("Notification Log", {"for_user": COLLEAGUE}):
			delete("Notification Log", n)
		try:  # a user with a trail (notifications, versions) may refuse deletion: disabled then
			site.call("frappe.client.delete", doctype="User", name=COLLEAGUE)
		except RuntimeError:
			site.call("frappe.client.set_value", doctype="User", name=COLLEAGUE, fieldname={"enabled": 0})
			print(f"INFO  {COLLEAGUE} could not be deleted: disabled")
	for left in leftovers:
		print(f"INFO  not deleted: {left}")


# ---- the page ---------------------------------------------------------------------------------------------


def row(page, conversation: str):
	return page.locator(f".wa-inbox-rows .wa-conversation[data-name='{conversation}']")


def tab(page, status: str):
	return page.locator(f".wa-inbox-tabs .wa-tab[data-status='{status}']")


def tab_count(page, status: str) -> int:
	text = tab(page, status).locator(".wa-count").inner_text().strip()
	return int(text or 0)


def selected(page) -> str | None:
	return page.evaluate(
		"() => { const w = document.querySelector('.wa-inbox-row.wa-conversation.active');"
		" return w ? w.getAttribute('data-name') : null; }"
	)


def login(context, base: str, user: str, password: str):
	page = context.new_page()
	r = page.request.post(f"{base}/api/method/login", form={"usr": user, "pwd": password})
	if not r.ok:
		raise RuntimeError(f"login as {user}: HTTP {r.status}")
	return page


def open_inbox(page, base: str) -> None:
	page.goto(f"{base}/app/whatsapp-inbox", wait_until="networkidle")
	page.locator(".wa-inbox").wait_for(timeout=20000)
	page.locator(".wa-inbox-tabs .wa-tab").first.wait_for(timeout=20000)


def main() -> int:
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--base", default="http://wa.localhost:8000")
	ap.add_argument("--lang", default="en", choices=sorted(CONTENT))
	ap.add_argument("--shots", default="/tmp")
	ap.add_argument("--keep", action="store_true", help="leave what the run made (to look at it)")
	args = ap.parse_args()
	lang = args.lang
	words = CONTENT[lang]
	shots = Path(args.shots)
	shots.mkdir(parents=True, exist_ok=True)
	site = Site(args.base, "Administrator", "admin")
	sim = Sim("baileys")
	stamp = int(time.time()) % 10**6
	customer = f"3461{stamp:06d}1"
	other = f"3461{stamp:06d}2"
	quick = None
	pages: list = []
	try:
		last = site.call(
			"frappe.client.get_list",
			doctype="Error Log",
			fields=["creation"],
			order_by="creation desc",
			limit_page_length=1,
		)
		since = last[0]["creation"] if last else "2000-01-01"
		set_up(site, sim, lang)
		# what an earlier run left (stopped half-way, or --keep): every conversation of this script's account
		left = site.call(
			"frappe.client.get_list",
			doctype=CONVERSATION,
			filters={"whatsapp_account": ACCOUNT},
			fields=["number"],
			limit_page_length=0,
		)
		if left:
			clean_up(site, [r["number"] for r in left], None, user=False)
		set_up_colleague(site, lang)
		quick = set_up_quick_reply(site, words)
		# the customers write: another number first (a neighbour in the list), then a photo and a question
		inbound(site, sim, {"chat": other, "text": words["other_text"], "pushName": words["other"]})
		photo = {
			"chat": customer,
			"pushName": words["customer"],
			"media": {
				"data": base64.b64encode(png()).decode(),
				"mimetype": "image/png",
				"filename": "lamp.png",
			},
		}
		inbound(site, sim, photo)
		inbound(site, sim, {"chat": customer, "text": words["question"], "pushName": words["customer"]})
		conv = wait_for(
			lambda: (c := conversation_of(site, customer)) and c.get("reference_name") and c,
			30,
			"the conversation",
		)
		name, lead_name = conv["name"], conv["reference_name"]
		lead = site.get("CRM Lead", lead_name)
		check(
			conv["reference_doctype"] == "CRM Lead" and lead["first_name"] == words["customer"],
			"set-up: the new number made a Lead",
			f"{lead_name} {lead['first_name']!r} {lead['status']}",
		)

		def photos() -> list[dict]:
			return [m for m in messages_of(site, customer) if m["type"] == "Incoming" and m.get("attach")]

		try:
			image_msg = wait_for(photos, 30, "the photo fetched from the gateway (fetch_media)", step=0.5)[0]
			check(
				True,
				"set-up: the photo, followed at once by a question, was fetched and stored",
				image_msg["attach"],
			)
		except TimeoutError:
			logged = site.call(
				"frappe.client.get_list",
				doctype="Error Log",
				filters={"creation": [">", since]},
				fields=["method", "error"],
				limit_page_length=5,
			)
			check(
				False,
				"set-up: the photo, followed at once by a question, was fetched and stored",
				[(e["method"], (e["error"] or "").strip().splitlines()[-1][:160]) for e in logged or []],
			)
			inbound(site, sim, photo)  # once more, alone, to go on with the flow
			image_msg = wait_for(photos, 30, "the photo sent again fetched", step=0.5)[0]
		question_msg = wait_for(
			lambda: [m for m in messages_of(site, customer) if words["word"] in (m.get("message") or "")],
			20,
			"the question stored",
		)[0]
		wait_for(lambda: conversation_of(site, other), 20, "the other conversation")

		with sync_playwright() as p:
			browser = p.chromium.launch(
				executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
			)
			agent_ctx = browser.new_context(viewport={"width": 1500, "height": 950}, locale=lang)
			page = login(agent_ctx, site.base, "Administrator", "admin")
			pages.append(page)
			errors: list[str] = []
			page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"[:300]))
			open_inbox(page, site.base)
			page.evaluate("() => { window.__e2e_no_reload = 1; }")
			# ---- 3. the conversation: photo inline, the Lead beside it
			row(page, name).first.wait_for(timeout=20000)
			row(page, name).first.click()
			img = page.locator(f".wa-msg.in[data-name='{image_msg['name']}'] img")
			img.wait_for(timeout=20000)
			src = img.get_attribute("src") or ""
			check(
				"whatsapp_crm.api.inbox.media" in src and "thumb=1" in src and image_msg["name"] in src,
				"the photo shows inline from its thumbnail URL",
				src,
			)
			try:
				wait_for(
					lambda: img.evaluate("(i) => i.complete && i.naturalWidth") > 0, 15, "the photo loaded"
				)
				loaded = img.evaluate("(i) => [i.naturalWidth, i.naturalHeight]")
				check(True, "the photo is loaded (naturalWidth > 0)", loaded)
			except TimeoutError:
				check(False, "the photo is loaded (naturalWidth > 0)", img.evaluate("(i) => i.naturalWidth"))
			thumb = page.request.get(site.base + src)
			check(
				thumb.ok and thumb.headers.get("content-type", "").startswith("image/"),
				"the thumbnail URL answers an image",
				f"{thumb.status} {thumb.headers.get('content-type')}",
			)
			page.locator(".wa-msg.in", has_text=words["question"][:20]).first.wait_for(timeout=10000)
			panel = page.locator(".wa-inbox-panel")
			panel.locator(".wa-ref-status").wait_for(timeout=15000)
			panel_text = panel.inner_text()
			status_value = panel.locator(".wa-ref-status").input_value()
			check(
				words["customer"] in panel_text and status_value == lead["status"],
				"the CRM panel shows the Lead's name and status",
				f"status {status_value!r} (Lead: {lead['status']!r}); {panel_text[:120]!r}",
			)
			# a colleague opens the same conversation: "also here" on the agent's page
			col_ctx = browser.new_context(viewport={"width": 1300, "height": 900}, locale=lang)
			colleague = login(col_ctx, site.base, COLLEAGUE, COLLEAGUE_PASSWORD)
			pages.append(colleague)
			try:
				open_inbox(colleague, site.base)
				row(colleague, name).first.wait_for(timeout=20000)
				row(colleague, name).first.click()
				page.locator(".wa-viewers", has_text="Carla E2E Team").wait_for(timeout=15000)
				check(
					True,
					"a colleague on the same conversation shows as also here",
					page.locator(".wa-viewers").inner_text(),
				)
			except Exception as e:
				check(
					False,
					"a colleague on the same conversation shows as also here",
					f"{type(e).__name__}: {e}"[:300],
				)
			page.screenshot(path=str(shots / f"inbox-team-thread-{lang}.png"))
			col_ctx.close()
			pages.remove(colleague)

			# ---- 4. quick reply, a PDF, send
			sent_before = len(sent_to(sim, customer))
			box = page.locator(".wa-reply-box")
			box.click()
			box.press_sequentially("/pri", delay=60)
			item = page.locator(".wa-menu .wa-menu-item", has_text=f"/{QUICK_CODE}")
			item.first.wait_for(timeout=10000)
			filled = words["quick"].replace("{first_name}", lead["first_name"])
			check(
				filled in page.locator(".wa-menu").inner_text(),
				"/pri offers the quick reply, filled for the Lead",
				page.locator(".wa-menu").inner_text()[:200],
			)
			page.screenshot(path=str(shots / f"inbox-team-quick-reply-{lang}.png"))
			item.first.click()
			check(
				box.input_value() == filled,
				"picking it fills the text with the Lead's first name",
				box.input_value(),
			)
			# a file whose name lies (a PDF called .png) is refused in words, and nothing is attached
			files_before = len(site.names("File", {"file_name": ["like", "e2e-team-%"]}))
			page.locator(".wa-file").set_input_files(
				{"name": "e2e-team-photo.png", "mimeType": "image/png", "buffer": pdf("not a photo")}
			)
			refusal = page.locator(".modal.show .msgprint")
			refusal.first.wait_for(timeout=10000)
			check(
				"e2e-team-photo.png" in refusal.first.inner_text()
				and page.locator(".wa-chips .wa-chip").count() == 0
				and len(site.names("File", {"file_name": ["like", "e2e-team-%"]})) == files_before,
				"a file that lies about its type is refused in words, nothing stored",
				refusal.first.inner_text()[:200],
			)
			page.locator(".modal.show .btn-modal-close").first.click()
			page.locator(".modal.show").first.wait_for(state="hidden", timeout=10000)
			page.locator(".wa-file").set_input_files(
				{
					"name": "e2e-team-price-list.pdf",
					"mimeType": "application/pdf",
					"buffer": pdf("Price list"),
				}
			)
			chip = page.locator(".wa-chips .wa-chip")
			chip.wait_for(timeout=10000)
			wait_for(
				lambda: chip.count() and "uploading" not in (chip.get_attribute("class") or ""),
				20,
				"the upload",
			)
			check(
				"e2e-team-price-list.pdf" in chip.inner_text(),
				"the PDF is attached (chip)",
				chip.inner_text(),
			)
			enable_gateway(site)
			page.locator(".wa-send").click()
			bubble = page.locator(".wa-msg.out", has_text=filled[:25])
			bubble.first.wait_for(timeout=15000)
			card = bubble.first.locator(".wa-file-card")
			card.wait_for(timeout=15000)
			check(
				"e2e-team-price-list.pdf" in card.inner_text(),
				"the reply shows in the thread with a document card",
				card.inner_text().replace("\n", " "),
			)
			got = wait_for(
				lambda: [m for m in sent_to(sim, customer)[sent_before:] if m.get("media")],
				30,
				"the PDF at the gateway",
			)
			media = got[0]["media"]
			check(
				media.get("mimetype") == "application/pdf" and got[0].get("caption") == filled,
				"the gateway received the PDF with the text as its caption",
				{**media, "caption": got[0].get("caption")},
			)
			out = wait_for(
				lambda: [
					m
					for m in messages_of(site, customer)
					if m["type"] == "Outgoing"
					and m.get("attach")
					and m["status"] in ("Success", "sent", "delivered", "read")
				],
				30,
				"the WhatsApp Message sent",
				step=0.3,
			)
			check(
				True,
				"the WhatsApp Message has the file and is sent",
				f"{out[0]['status']} {out[0]['attach']}",
			)
			wait_for(lambda: "✓" in bubble.first.inner_text(), 20, "a tick on the reply", step=0.2)
			check(True, "the reply shows its tick", bubble.first.locator(".wa-time").inner_text())

			# ---- 5. a private note mentioning the colleague
			sent_before_note = len(sim.control(f"sessions/{SESSION}/sent", method="GET")["messages"])
			page.locator(".wa-composer .wa-mode[data-mode='note']").click()
			note_box = page.locator(".wa-note-box")
			note_box.wait_for(state="visible", timeout=5000)
			note_box.press_sequentially(words["note"] + " @Car", delay=20)
			mention = page.locator(".wa-menu .wa-menu-item", has_text=COLLEAGUE)
			mention.first.wait_for(timeout=10000)
			mention.first.click()
			check(
				"@Carla E2E Team" in note_box.input_value(),
				"@ offers the colleague; picked",
				note_box.input_value(),
			)
			note_box.press_sequentially(".", delay=20)
			add = page.locator(".wa-send")
			labels = es_translations()
			check(
				add.inner_text().strip()
				== (labels.get("Add note", "Add note") if lang == "es" else "Add note"),
				"the button reads Add note (translated)",
				add.inner_text(),
			)
			add.click()
			note = page.locator(".wa-note", has_text=words["note"])
			note.first.wait_for(timeout=15000)
			note_text = note.first.inner_text()
			private = labels.get("Private note", "Private note") if lang == "es" else "Private note"
			check(
				"@Carla E2E Team" in note_text and private in note_text,
				"the note shows as a private note, with the mention",
				note_text.replace("\n", " | "),
			)
			logs = wait_for(
				lambda: site.call(
					"frappe.client.get_list",
					doctype="Notification Log",
					filters={"for_user": COLLEAGUE, "type": "Mention", "document_name": lead_name},
					fields=["name", "subject"],
				),
				30,
				"the colleague's mention notification",
				step=0.5,
			)
			check(
				bool(logs),
				"the colleague has a Mention notification",
				re.sub(r"<[^>]+>", "", logs[0]["subject"]),
			)
			time.sleep(2)
			after_note = sim.control(f"sessions/{SESSION}/sent", method="GET")["messages"]
			leaked = [m for m in after_note[sent_before_note:] if words["note"][:15] in (m.get("text") or "")]
			check(
				len(after_note) == sent_before_note and not leaked,
				"nothing was sent to the gateway for the note",
				f"{len(after_note) - sent_before_note} new",
			)
			check(
				not [
					m for m in messages_of(site, customer) if words["note"][:15] in (m.get("message") or "")
				],
				"the note is no WhatsApp Message",
			)
			page.screenshot(path=str(shots / f"inbox-team-note-{lang}.png"))

			# ---- 6. resolve with "e"
			note_box.press("Escape")
			resolved_before = tab_count(page, "Resolved")
			open_before = tab_count(page, "Open")
			page.keyboard.press("e")
			try:
				wait_for(lambda: row(page, name).count() == 0, 10, "the conversation to leave the Open tab")
				check(True, "e resolves: the conversation leaves the Open tab")
			except TimeoutError:
				check(
					False,
					"e resolves: the conversation leaves the Open tab",
					page.locator(".wa-inbox-rows").inner_text()[:200],
				)
			try:
				wait_for(lambda: tab_count(page, "Resolved") == resolved_before + 1, 10, "Resolved +1")
				check(
					True,
					"the Resolved count grows by one (Open by one less)",
					f"Resolved {resolved_before}->{tab_count(page, 'Resolved')}, Open {open_before}->{tab_count(page, 'Open')}",
				)
			except TimeoutError:
				check(
					False,
					"the Resolved count grows by one",
					f"{resolved_before} -> {tab_count(page, 'Resolved')}",
				)
			check(
				conversation_of(site, customer)["status"] == "Resolved",
				"the conversation is Resolved on the site",
			)
			time.sleep(0.8)  # the alert
			page.screenshot(path=str(shots / f"inbox-team-resolved-{lang}.png"))

			# ---- 7. the customer writes again: back under Open, no reload
			started = time.monotonic()
			inbound(site, sim, {"chat": customer, "text": words["again"], "pushName": words["customer"]})
			try:
				row(page, name).first.wait_for(timeout=10000)
				took = round(time.monotonic() - started, 2)
				check(
					page.evaluate("() => window.__e2e_no_reload") == 1,
					"the customer writes again: back under Open without a reload",
					f"{took} s",
				)
			except Exception:
				check(False, "the customer writes again: back under Open without a reload", "not within 10 s")
			page.locator(".wa-msg.in", has_text=words["again"][:20]).first.wait_for(timeout=10000)
			check(True, "the new message shows in the open thread")
			check(conversation_of(site, customer)["status"] == "Open", "the conversation is Open on the site")

			# ---- 8. "?", j/k, message search
			page.locator(".wa-inbox-head").click()  # out of any text box
			page.keyboard.press("?")
			dialog = page.locator(".modal.show")
			dialog.locator(".wa-keys").wait_for(timeout=5000)
			# shown (its fade-in over): Frappe closes on Escape only the dialogs it has seen open
			wait_for(lambda: page.evaluate("() => frappe.ui.open_dialogs.length") > 0, 5, "the dialog shown")
			title = dialog.locator(".modal-title").inner_text().strip()
			want = (
				labels.get("Keyboard shortcuts", "Keyboard shortcuts")
				if lang == "es"
				else "Keyboard shortcuts"
			)
			check(
				title == want
				and dialog.locator(".wa-keys tr").count() >= 10
				and page.locator(".modal.show").count() == 1,
				"? opens the shortcuts dialog (only ours)",
				f"{title!r}, {dialog.locator('.wa-keys tr').count()} rows, {page.locator('.modal.show').count()} dialog(s)",
			)
			page.keyboard.press("Escape")
			wait_for(lambda: page.locator(".modal.show").count() == 0, 5, "the dialog closed")
			names = page.evaluate(
				"() => Array.from(document.querySelectorAll('.wa-inbox-rows .wa-conversation')).map((r) => r.dataset.name)"
			)
			at = names.index(name) if name in names else -1
			if at == -1 or len(names) < 2:
				check(False, "j/k move (two conversations in the list)", names)
			else:
				first_key, back_key = ("j", "k") if at < len(names) - 1 else ("k", "j")
				neighbour = names[at + 1] if first_key == "j" else names[at - 1]
				page.keyboard.press(first_key)
				try:
					wait_for(lambda: selected(page) == neighbour, 5, first_key)
					page.locator(".wa-inbox-head b").first.wait_for(timeout=5000)
					page.keyboard.press(back_key)
					wait_for(lambda: selected(page) == name, 5, back_key)
					page.locator(".wa-msg.in", has_text=words["again"][:20]).first.wait_for(timeout=10000)
					check(
						True,
						f"{first_key}/{back_key} move to the neighbour and back",
						f"{name} -> {neighbour} -> {name}",
					)
				except TimeoutError as e:
					check(False, "j/k move to the neighbour and back", f"{e}; selected {selected(page)}")
			search = page.locator(".wa-search-messages")
			search.fill(words["word"])
			results = page.locator(".wa-inbox-rows .wa-result")
			results.first.wait_for(timeout=10000)
			ours = results.filter(has_text="Gran V")
			ours.first.wait_for(timeout=10000)
			check(
				ours.first.locator("mark").count() >= 1,
				"message search finds the question, the word marked",
				ours.first.inner_text().replace("\n", " | "),
			)
			ours.first.click()
			hit = page.locator(f".wa-msg.wa-hit[data-name='{question_msg['name']}']")
			try:
				hit.wait_for(timeout=10000)
				visible = hit.evaluate(
					"(el) => { const b = el.closest('.wa-inbox-messages').getBoundingClientRect();"
					" const r = el.getBoundingClientRect(); return r.top >= b.top - 1 && r.bottom <= b.bottom + 1; }"
				)
				check(visible, "the result opens the thread at the question (marked, in view)")
			except Exception:
				check(
					False,
					"the result opens the thread at the question",
					page.locator(".wa-inbox-messages").inner_text()[:200],
				)
			check(
				selected(page) in (None, name)
				and page.locator(".wa-inbox-head", has_text=words["customer"]).count() == 1,
				"the opened thread is the customer's",
				page.locator(".wa-inbox-head").inner_text()[:100],
			)

			# ---- the page's words in the language
			if lang == "es":
				shown = page.locator(".wa-inbox-tabs").inner_text()
				for label in ("Open", "Resolved"):
					spanish = status_word(labels, label)
					word = tab(page, label).inner_text().replace("\n", " ").strip()
					check(
						bool(spanish) and word.startswith(spanish) and "/" not in spanish,
						f"the status tab {label} reads one Spanish word for a conversation's status",
						f"{word!r} (es.po: {spanish or 'no translation'!r}; all tabs: {shown!r})",
					)
				ph = page.locator(".wa-search-messages").get_attribute("placeholder")
				check(
					ph == labels.get("Search messages"),
					f"the search box reads {labels.get('Search messages')}",
					ph,
				)
				mode = page.locator(".wa-mode[data-mode='note']").inner_text().strip()
				check(
					mode == labels.get("Private note"),
					f"the note tab reads {labels.get('Private note')}",
					mode,
				)
			ours_errors = [e for e in errors if "get_onboarding_status" not in e]
			check(not ours_errors, "no page errors", ours_errors)
			browser.close()
	except Exception as e:
		check(False, "the run completes", f"{type(e).__name__}: {e}"[:800])
		if pages:
			try:
				pages[0].screenshot(path=f"/tmp/inbox-team-failed-{lang}.png", full_page=True)
				print(f"INFO  failure screenshot: /tmp/inbox-team-failed-{lang}.png")
			except Exception:
				pass
	finally:
		try:
			if not args.keep:
				clean_up(site, [customer, other], quick)
		except Exception as e:
			print(f"INFO  clean-up: {type(e).__name__}: {e}"[:300])
		admin = site.get("User", "Administrator")
		admin["language"] = "en"
		site.save(admin)
		sim.stop()
	print("FAILED: " + ", ".join(FAILED_CHECKS) if FAILED_CHECKS else "all checks passed")
	return 1 if FAILED_CHECKS else 0


if __name__ == "__main__":
	raise SystemExit(main())
