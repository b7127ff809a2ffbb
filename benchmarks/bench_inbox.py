"""The inbox's numbers (``make bench-inbox BENCH=... SITE=...``), against a real Frappe site with frappe_whatsapp
and Frappe CRM. Runs inside the bench's Python; talks to the site over HTTP for what a browser would do.

I1  A burst of 50 messages from 10 new numbers, 8 webhooks at a time: Leads made (must be 10), messages linked
    (50), none stored twice; the time from the first webhook to its Lead.
I2  The inbox list with 5,000 conversations (40% Open, 10% Pending, 10% Snoozed, 40% Resolved, set directly)
    and 100,000 messages: p50/p95 of a page on the web server by status (Open, the default; Resolved; all),
    for unassigned ones and a search by number, as Administrator and as a Sales Manager; the queries one call
    makes, the slowest with its plan.
I4  Message search (``search_messages``) over the same 100,000 messages, whose texts are varied words (the
    FULLTEXT index ``wa_message_text``): p50/p95 for a rare word (an order number in 5 messages), a common one
    (in about 20%) and two words, both users. The rare word must find its 5 messages (exit code).
I5  A thread whose last 20 incoming messages are photos of about 1 MB (private Files, thumbnails made by
    ``files.make_thumbnail``): the thread call p50/p95, and opening it as a browser does (the thread, then its
    20 thumbnails over 6 connections): time and bytes, beside the bytes of the 20 full photos. Every photo
    must come back with its thumbnail (exit code).
(I3, a new message reaching an open inbox, is measured in the browser: tests/e2e/inbox.py.)

Everything it makes is named with a prefix (``bi``..., ``bench-inbox``...) and removed afterwards, the Files
on disk too. Prints numbers, never asserts a timing; the counts above decide the exit code.

    cd frappe-bench/sites && ../env/bin/python /path/to/whatsapp_crm/benchmarks/bench_inbox.py --site SITE \
        [--base http://127.0.0.1:8000] [--only I1,I2,I4,I5]
"""

from __future__ import annotations

import argparse
import glob
import io
import itertools
import json
import math
import os
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import frappe  # the bench's own

from whatsapp_crm.gateway.webhook import sign
from whatsapp_crm.simulator import make_simulator

KEY, SECRET = "bench-inbox-key", "bench-inbox-secret"
GATEWAY, SESSION, ACCOUNT = "bench-inbox", "bench-inbox-1", "Bench Inbox Account"
BASE_NUMBER = "3463"  # + 7 digits
HOOK = f"/api/method/whatsapp_crm.api.webhook.receive?gateway={GATEWAY}"
API = "/api/method/whatsapp_crm.api.inbox."
MANAGER = "bench-inbox-manager@example.com"
MANAGER_PASSWORD = "bench-inbox-Pass-4821"
PHOTO_PREFIX = "bench-inbox-photo-"  # the I5 photos' file names (Frappe adds a hash before the extension)
I5_CONVERSATION, I5_NUMBER = "bi5c-1", f"+{BASE_NUMBER}3000000"
I5_BEFORE, I5_PHOTOS = 30, 20  # text messages, then the photos


def commit() -> None:
	frappe.db.commit()  # nosemgrep: a benchmark sets the site up through its own connection


def set_up(sim_url: str) -> None:
	from whatsapp_crm.chat import leads, provider
	from whatsapp_crm.testing import save_gateway

	save_gateway(
		GATEWAY, sim_url, KEY, gateway_type="Baileys REST", webhook_secret=SECRET, enabled=1, is_default=0
	)
	if not frappe.db.exists("WhatsApp Session", SESSION):
		frappe.get_doc(
			{"doctype": "WhatsApp Session", "session_id": SESSION, "label": "bench", "gateway": GATEWAY}
		).insert(ignore_permissions=True)
	frappe.db.set_value("WhatsApp Session", SESSION, {"status": "Connected", "phone_number": "34911000000"})
	if not frappe.db.exists(provider.ACCOUNT, ACCOUNT):
		frappe.get_doc(
			{"doctype": provider.ACCOUNT, "account_name": ACCOUNT, provider.SESSION_FIELD: SESSION}
		).insert(ignore_permissions=True)
	frappe.db.set_value(provider.ACCOUNT, ACCOUNT, leads.ACTION_FIELD, leads.CREATE_LEAD)
	commit()


def clean() -> None:
	"""Remove everything the benchmark made; again after a deadlock with the site's own traffic."""
	for attempt in range(5):
		try:
			return _clean()
		except frappe.QueryDeadlockError:
			if attempt == 4:
				raise
			frappe.db.rollback()
			time.sleep(1 + attempt)


def _clean() -> None:
	from whatsapp_crm.chat import provider

	frappe.db.rollback()
	# the I5 photos: their Files (which remove the photo and its thumbnail from disk), then anything left
	for name in frappe.get_all(
		"File",
		filters={"attached_to_doctype": provider.MESSAGE, "attached_to_name": ("like", "bi5-%")},
		pluck="name",
	):
		frappe.delete_doc("File", name, force=True, ignore_permissions=True)
	for path in glob.glob(frappe.get_site_path("private", "files", f"{PHOTO_PREFIX}*")):
		os.remove(path)
	frappe.db.delete("Comment", {"reference_doctype": provider.MESSAGE, "reference_name": ("like", "bi5-%")})
	frappe.db.delete("File", {"name": ("like", "bi2f-%")})
	frappe.db.sql(
		"delete r from `tabWhatsApp Conversation Read` r join `tabWhatsApp Conversation` c on r.conversation = c.name "
		"where c.whatsapp_account = %s",
		ACCOUNT,
	)
	frappe.db.delete("WhatsApp Conversation", {"whatsapp_account": ACCOUNT})
	removed = frappe.db.count(provider.MESSAGE, {"whatsapp_account": ACCOUNT})
	frappe.db.delete(provider.MESSAGE, {"whatsapp_account": ACCOUNT})
	frappe.db.delete("CRM Lead", {"mobile_no": ("like", f"+{BASE_NUMBER}%")})
	frappe.db.delete("WhatsApp Parked Event", {"gateway": GATEWAY})
	frappe.db.delete(provider.ACCOUNT, ACCOUNT)
	frappe.db.delete("WhatsApp Account Role", {"parent": ACCOUNT})
	frappe.db.delete("WhatsApp Session", SESSION)
	frappe.db.delete("WhatsApp Session Event", {"session": SESSION})
	frappe.db.delete("WhatsApp Gateway", GATEWAY)
	if frappe.db.exists("User", MANAGER):
		frappe.delete_doc("User", MANAGER, force=True, ignore_permissions=True)
	commit()
	for key in frappe.cache.get_keys("whatsapp_crm:newcomer:*"):
		frappe.cache.delete(key)
	if removed > 1000:
		# InnoDB keeps deleted rows in a FULLTEXT index until the table is rebuilt: rebuild it now that it is
		# small again, so the next run (and the site's own searches) do not wade through 100,000 dead entries.
		# Never wait long for the table's lock: a waiting rebuild would hold up every query on the table.
		frappe.db.sql("set session lock_wait_timeout = 10")
		try:
			frappe.db.sql(f"optimize table `tab{provider.MESSAGE}`")
		except Exception as e:
			print(
				f"   (not rebuilt, {e}: the FULLTEXT index keeps {removed} deleted entries until `optimize table`)"
			)


def i1(base: str, site: str) -> dict:
	numbers = [f"{BASE_NUMBER}{1000000 + n:07d}" for n in range(10)]
	bodies = []
	for i in range(50):
		chat = numbers[i % 10]
		body = {
			"event": "message",
			"sessionId": SESSION,
			"id": f"bi-{i}-{int(time.time())}",
			"message": {
				"id": f"BI{i:03d}{int(time.time())}",
				"chat": chat,
				"text": f"hola {i}",
				"pushName": f"Nuevo {i % 10}",
			},
		}
		bodies.append(json.dumps(body).encode())
	http = requests.Session()
	http.headers["X-Frappe-Site-Name"] = site
	started = time.monotonic()

	def post(raw: bytes) -> int:
		headers = {"Content-Type": "application/json", **sign(raw, SECRET, int(time.time()))}
		return http.post(base + HOOK, data=raw, headers=headers, timeout=60).status_code

	with ThreadPoolExecutor(8) as pool:
		codes = list(pool.map(post, bodies))
	first_lead = None
	for _ in range(600):  # parked events are stored by the replay job
		commit()
		made = frappe.get_all(
			"CRM Lead", filters={"mobile_no": ("like", f"+{BASE_NUMBER}%")}, fields=["creation"]
		)
		if made and first_lead is None:
			first_lead = time.monotonic() - started
		linked = frappe.db.count(
			"WhatsApp Message",
			{"whatsapp_account": ACCOUNT, "reference_doctype": "CRM Lead", "message_id": ("like", "BI%")},
		)
		if linked >= 50:
			break
		time.sleep(0.1)
	stored = frappe.get_all(
		"WhatsApp Message",
		filters={"whatsapp_account": ACCOUNT, "message_id": ("like", "BI%")},
		pluck="message_id",
	)
	return {
		"answers": {c: codes.count(c) for c in set(codes)},
		"leads": len(made),
		"linked": linked,
		"stored": len(stored),
		"twice": len(stored) - len(set(stored)),
		"first_webhook_to_first_lead_s": round(first_lead or -1, 3),
		"all_linked_after_s": round(time.monotonic() - started, 3),
	}


# -- generated traffic -------------------------------------------------------------------------------------

COMMON, PAIR, RARE = "precio", ("entrega", "mañana"), "58120447"
COMMON_SHARE, PAIR_SHARE, RARE_COUNT = 0.20, 0.10, 5  # of the messages (each word of PAIR on its own)
SEARCHES = {"rare": RARE, "common": COMMON, "two_words": " ".join(PAIR)}
CHAT_WORDS = """hola buenas buenos dias tardes noches gracias muchas quiero saber tiene tienen disponible talla
	color modelo cuanto cuesta envio pago tarjeta efectivo bizum oferta descuento tienda direccion horario abren
	cierran sabado domingo semana lunes martes miercoles jueves viernes pedido paquete llega llegado recibido
	devolucion cambio garantia factura transferencia cuenta numero nombre correo telefono ayuda problema
	funciona roto nuevo usado grande pequeño mediano negro blanco rojo azul verde gris stock agotado reserva
	cita mesa personas hora tarde pronto luego ahora vale perfecto genial claro puedo puede podemos hacer
	mandar enviar foto fotos catalogo lista zapatos camiseta pantalon vestido chaqueta bolso movil cargador
	funda pantalla bateria coche revision aceite ruedas presupuesto instalacion tecnico visita urgente
	esperando respuesta confirmar confirmado cancelar cancelado seguimiento codigo tracking repartidor casa
	trabajo oficina calle piso portal ciudad madrid barcelona valencia sevilla bilbao""".split()


def vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
	"""Real chat words first, then made-up ones (a long tail, as names, brands and typos give)."""
	syllables = "ba be bi bo ca co cu da de di do fa fe ga go la le li lo lu ma me mi mo na ne ni no pa pe pi po ra re ri ro sa se si so ta te ti to va ve vi za zo".split()
	banned = (COMMON, *PAIR, RARE)  # the searched words appear only where they are put
	words = [w for w in CHAT_WORDS if not w.startswith(banned)]
	seen = set(words)
	while len(words) < size:
		w = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
		if w not in seen and not w.startswith(banned):
			seen.add(w)
			words.append(w)
	return words


def texts(count: int, seed: int = 21) -> list[str]:
	"""``count`` message texts of 3-16 words drawn Zipf-like from the vocabulary; the common word in about
	20%, each word of the pair in about 10%, the order number in exactly 5."""
	rng = random.Random(seed)
	words = vocabulary(rng)
	weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
	rare = set(rng.sample(range(count), RARE_COUNT))
	out = []
	for i in range(count):
		said = rng.choices(words, cum_weights=weights, k=rng.randint(3, 16))
		for word, share in ((COMMON, COMMON_SHARE), (PAIR[0], PAIR_SHARE), (PAIR[1], PAIR_SHARE)):
			if rng.random() < share:
				said.insert(rng.randrange(len(said) + 1), word)
		if i in rare:
			at = rng.randrange(len(said) + 1)
			said[at:at] = ["pedido", RARE]
		text = " ".join(said)
		out.append(text[0].upper() + text[1:] + rng.choice((".", "?", "", "!", " 🙂")))
	return out


def write(query: str, values=()) -> None:
	"""One seeding statement in its own transaction, again after a deadlock with the site's own traffic (a
	test run inserting messages at the same time)."""
	for attempt in range(5):
		try:
			frappe.db.sql(query, values)
			commit()
			return
		except frappe.QueryDeadlockError:
			frappe.db.rollback()
			if attempt == 4:
				raise
			time.sleep(0.5 + attempt)


def stamp(t: float) -> str:
	return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def insert_messages(rows: list[tuple]) -> None:
	"""Plain INSERTs: (name, creation, type, from, to, message, message_id, content_type)."""
	from whatsapp_crm.chat import provider

	write(
		f"""insert into `tab{provider.MESSAGE}` (name, creation, modified, type, `from`, `to`, message,
		whatsapp_account, message_id, content_type, owner, modified_by, docstatus, idx)
		values {", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'Administrator', 'Administrator', 0, 0)"] * len(rows))}""",
		[
			v
			for n, at, kind, f, t, text, mid, ct in rows
			for v in (n, at, at, kind, f, t, text, ACCOUNT, mid, ct)
		],
	)


def seed_i2(conversations: int, messages: int, media_files: int) -> dict:
	"""5,000 conversations and 100,000 messages in bulk (plain INSERTs: what months of traffic leave), committed
	batch by batch (InnoDB adds a row to its FULLTEXT index at commit); the conversations' statuses set
	directly; ``media_files`` File rows for their photos (rows only, nothing on disk: the size of the File
	table a site with this traffic has)."""
	from whatsapp_crm.chat import provider

	started = time.monotonic()
	now = time.time()
	said = texts(messages)
	batch = []
	per = messages // conversations
	for c in range(conversations):
		number = f"+{BASE_NUMBER}{2000000 + c:07d}"
		for m in range(per):
			incoming = m % 2 == 0
			batch.append(
				(
					f"bi2-{c}-{m}",
					stamp(now - (conversations - c) * 60 - (per - m)),
					"Incoming" if incoming else "Outgoing",
					number if incoming else None,
					None if incoming else number,
					said[c * per + m],
					f"BI2{c:05d}{m:03d}",
					"text",
				)
			)
		if len(batch) >= 5000 or c == conversations - 1:
			insert_messages(batch)
			batch = []
		if c % 500 == 0 or c == conversations - 1:
			write(
				"""insert into `tabWhatsApp Conversation` (name, creation, modified, owner, modified_by, docstatus, idx,
				whatsapp_account, number, title, last_message, last_message_at, last_direction, incoming_count)
				select concat('bi2c-', substring_index(substring_index(m.name, '-', 2), '-', -1)), now(), now(), 'Administrator',
					'Administrator', 0, 0, m.whatsapp_account, ifnull(m.`from`, m.`to`), ifnull(m.`from`, m.`to`),
					max(m.message), max(m.creation), 'Incoming', sum(m.type = 'Incoming')
				from `tabWhatsApp Message` m where m.whatsapp_account = %s and m.name like 'bi2-%%'
				group by ifnull(m.`from`, m.`to`), substring_index(substring_index(m.name, '-', 2), '-', -1)
				on duplicate key update incoming_count = values(incoming_count), last_message_at = values(last_message_at)""",
				ACCOUNT,
			)
	# 40% Open, 10% Pending, 10% Snoozed (until tomorrow), 40% Resolved, spread over the list
	write(
		"""update `tabWhatsApp Conversation` set
			status = elt(mod(cast(substring(name, 6) as unsigned), 10) + 1,
				'Open', 'Open', 'Open', 'Open', 'Pending', 'Snoozed', 'Resolved', 'Resolved', 'Resolved', 'Resolved'),
			snoozed_until = if(mod(cast(substring(name, 6) as unsigned), 10) = 5, now() + interval 1 day, null),
			status_changed_at = now()
		where whatsapp_account = %s and name like 'bi2c-%%'""",
		ACCOUNT,
	)
	for start in range(0, media_files, 5000):
		rows = range(start, min(start + 5000, media_files))
		write(
			f"""insert into `tabFile` (name, creation, modified, owner, modified_by, docstatus, idx, file_name,
			file_url, is_private, is_folder, folder, attached_to_doctype, attached_to_name, file_size)
			values {", ".join(["(%s, now(), now(), 'Administrator', 'Administrator', 0, 0, %s, %s, 1, 0, 'Home/Attachments', %s, %s, 1500000)"] * len(rows))}""",
			[
				v
				for n in rows
				for v in (
					f"bi2f-{n}",
					f"bench-inbox-f-{n}.jpg",
					f"/private/files/bench-inbox-f-{n}.jpg",
					provider.MESSAGE,
					f"bi2-{n % conversations}-{(n // conversations) % per}",
				)
			],
		)
	commit()
	mix = dict(
		frappe.db.sql(
			"select status, count(*) from `tabWhatsApp Conversation` where whatsapp_account = %s group by status",
			ACCOUNT,
		)
	)
	return {"seconds": round(time.monotonic() - started, 1), "statuses": mix}


def photo(rng: random.Random, size: tuple[int, int] = (1600, 1200)) -> bytes:
	"""A JPEG of about 1 MB: random noise, so it compresses as little as a phone's photo does."""
	from PIL import Image

	out = io.BytesIO()
	Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3)).save(out, "JPEG", quality=90)
	return out.getvalue()


def seed_i5(photos: int = I5_PHOTOS, before: int = I5_BEFORE) -> dict:
	"""One conversation: ``before`` text messages, then ``photos`` incoming photos, each a private File on its
	message (as ``inbound.fetch_media`` stores them; no caption, so the text is the file's address) with the
	thumbnail ``files.make_thumbnail`` makes."""
	from whatsapp_crm.chat import files, provider

	rng = random.Random(5)
	now = time.time()
	said = texts(before, seed=5)
	total = before + photos
	rows = []
	for m in range(total):
		incoming = m >= before or m % 2 == 0
		rows.append(
			(
				f"bi5-{m}",
				stamp(now - (total - m) * 20),
				"Incoming" if incoming else "Outgoing",
				I5_NUMBER if incoming else None,
				None if incoming else I5_NUMBER,
				said[m] if m < before else "photo.jpg",
				f"BI5{m:03d}",
				"image" if m >= before else "text",
			)
		)
	insert_messages(rows)
	write(
		"""insert into `tabWhatsApp Conversation` (name, creation, modified, owner, modified_by, docstatus, idx,
		whatsapp_account, number, title, last_message, last_message_at, last_direction, incoming_count, status)
		values (%s, now(), now(), 'Administrator', 'Administrator', 0, 0, %s, %s, 'Bench photos', %s, %s,
			'Incoming', %s, 'Open')""",
		(
			I5_CONVERSATION,
			ACCOUNT,
			I5_NUMBER,
			"photo.jpg",
			rows[-1][1],
			sum(r[2] == "Incoming" for r in rows),
		),
	)
	commit()
	sizes, thumbs = [], []
	for i in range(photos):
		name = f"bi5-{before + i}"
		file = frappe.get_doc(
			{
				"doctype": "File",
				"file_name": f"{PHOTO_PREFIX}{i}.jpg",
				"content": photo(rng),
				"is_private": 1,
				"attached_to_doctype": provider.MESSAGE,
				"attached_to_name": name,
			}
		).insert(ignore_permissions=True)
		thumb = files.make_thumbnail(file)
		frappe.db.set_value(
			provider.MESSAGE, name, {"attach": file.file_url, "message": file.file_url}, update_modified=False
		)
		sizes.append(os.path.getsize(file.get_full_path()))
		if thumb:
			thumbs.append(os.path.getsize(frappe.get_site_path(thumb.lstrip("/"))))
		commit()
	return {
		"photos": photos,
		"photo_bytes": sum(sizes),
		"thumbnails": len(thumbs),
		"thumbnail_bytes": sum(thumbs),
	}


# -- measuring ---------------------------------------------------------------------------------------------


def manager() -> str:
	"""A Sales Manager (sees unassigned conversations and may read Leads): permission conditions apply."""
	from frappe.utils.password import update_password

	from whatsapp_crm.testing import make_user

	make_user(MANAGER, ["Sales Manager", "Sales User"])
	update_password(MANAGER, MANAGER_PASSWORD)
	commit()
	return MANAGER


def login(base: str, site: str, user: str, password: str) -> requests.Session:
	# End this process's transaction before the web server is asked anything: an open one holds the metadata
	# locks of the tables it read, a DDL from another process (a migrate, a test's setup) queues behind them,
	# and every query of the web server on those tables then waits behind the DDL.
	frappe.db.rollback()
	http = requests.Session()
	http.headers["X-Frappe-Site-Name"] = site
	http.post(base + "/api/method/login", json={"usr": user, "pwd": password}, timeout=30).raise_for_status()
	return http


def stats(values: list[float]) -> dict | None:
	if not values:
		return None
	values = sorted(values)
	return {
		"p50_ms": round(statistics.median(values) * 1000, 1),
		"p95_ms": round(values[max(0, math.ceil(len(values) * 0.95) - 1)] * 1000, 1),
		"n": len(values),
	}


def profile(user: str, call, top: int = 2) -> dict:
	"""The queries one call makes, run in this process as ``user`` after a first call (the caches a running
	worker has: meta, roles, permissions): how many, their time, and the slowest with their plans."""
	frappe.set_user(user)
	real = frappe.db.sql
	seen = []

	def timed(*a, **kw):
		started = time.perf_counter()
		try:
			return real(*a, **kw)
		finally:
			seen.append((time.perf_counter() - started, a, kw))

	try:
		call()
		frappe.db.rollback()  # nothing it wrote (a read mark) may hold a lock the web server waits on
		frappe.db.sql = timed
		call()
	finally:
		frappe.db.sql = real
		frappe.db.rollback()
		frappe.set_user("Administrator")
	out = {"queries": len(seen), "sql_ms": round(sum(s[0] for s in seen) * 1000, 1), "slowest": []}
	for ms, a, kw in sorted(seen, key=lambda s: s[0], reverse=True)[:top]:
		query = str(a[0] if a else kw.get("query"))
		values = a[1] if len(a) > 1 else kw.get("values", ())
		plan = []
		if query.lstrip().lower().startswith("select"):
			plan = [
				f"{p.get('table')}:{p.get('type')}:{p.get('key')}:{p.get('rows')}:{p.get('Extra') or ''}"
				for p in real("explain " + query, values, as_dict=True)
			]
		out["slowest"].append(
			{"ms": round(ms * 1000, 2), "query": " ".join(query.split())[:600], "plan": plan}
		)
	return out


def i2(base: str, site: str, runs: int, user: str, password: str) -> dict:
	http = login(base, site, user, password)
	url = base + API + "conversations_page"
	cases = {
		"open": lambda i: {"scope": "all", "start": (i % 10) * 20},  # status Open, the page's default
		"resolved": lambda i: {"scope": "all", "status": "Resolved", "start": (i % 10) * 20},
		"all_statuses": lambda i: {"scope": "all", "status": "all", "start": (i % 10) * 20},
		"unassigned": lambda i: {"scope": "unassigned"},
		"search": lambda i: {"scope": "all", "search": f"{2000000 + i * 37:07d}"},
	}
	times = {label: [] for label in cases}
	for _ in range(3):  # warm the workers
		http.get(url, params={"scope": "all"}, timeout=60).raise_for_status()
	for i in range(runs):
		for label, params in cases.items():
			started = time.monotonic()
			r = http.get(url, params=params(i), timeout=60)
			r.raise_for_status()
			times[label].append(time.monotonic() - started)
	out = {label: stats(values) for label, values in times.items()}
	out["counts"] = http.get(url, params={"scope": "all"}, timeout=60).json()["message"]["counts"]
	from whatsapp_crm.api import inbox

	for status in ("Open", "all"):
		out[f"sql_{status}"] = profile(
			user, lambda status=status: inbox.conversations_page(scope="all", status=status)
		)
	return out


def matching() -> dict:
	"""How many of the benchmark's messages each search matches (the index's own answer)."""
	from whatsapp_crm.chat import provider, search

	return {
		label: frappe.db.sql(
			f"""select count(*) from `tab{provider.MESSAGE}` where whatsapp_account = %s
			and match(message) against (%s in boolean mode)""",
			(ACCOUNT, search.terms(text)),
		)[0][0]
		for label, text in SEARCHES.items()
	}


def i4(base: str, site: str, runs: int, user: str, password: str) -> dict:
	http = login(base, site, user, password)
	url = base + API + "search_messages"
	times = {label: [] for label in SEARCHES}
	found = {}
	for text in SEARCHES.values():  # warm the workers
		http.get(url, params={"text": text}, timeout=60).raise_for_status()
	for _ in range(runs):
		for label, text in SEARCHES.items():
			started = time.monotonic()
			r = http.get(url, params={"text": text, "limit": 20}, timeout=60)
			r.raise_for_status()
			times[label].append(time.monotonic() - started)
			page = r.json()["message"]
			found[label] = f"{len(page['rows'])}{'+' if page['more'] else ''}"
	out = {label: stats(values) for label, values in times.items()}
	out["first_page"] = found
	from whatsapp_crm.api import inbox

	for label, text in SEARCHES.items():
		out[f"sql_{label}"] = profile(user, lambda text=text: inbox.search_messages(text), top=1)
	return out


class Browser:
	"""A logged-in browser: its cookies on 6 keep-alive connections, as a browser opens to one host."""

	def __init__(self, base: str, site: str, user: str, password: str, connections: int = 6) -> None:
		self.base = base
		self.first = login(base, site, user, password)
		self.local = threading.local()
		self.pool = ThreadPoolExecutor(connections)

	def _session(self) -> requests.Session:
		if not hasattr(self.local, "http"):
			self.local.http = requests.Session()
			self.local.http.headers.update(self.first.headers)
			self.local.http.cookies.update(self.first.cookies)
		return self.local.http

	def get(self, path: str) -> tuple[int, requests.Response]:
		r = self._session().get(self.base + path, timeout=60)
		r.raise_for_status()
		return int(r.headers.get("Content-Length") or len(r.content)), r

	def get_all(self, paths: list[str]) -> list[tuple[int, requests.Response]]:
		return list(self.pool.map(self.get, paths))

	def close(self) -> None:
		self.pool.shutdown()


def i5(base: str, site: str, runs: int, user: str, password: str) -> dict:
	browser = Browser(base, site, user, password)
	path = API + f"thread?conversation={I5_CONVERSATION}"
	try:
		for _ in range(3):  # warm the workers
			browser.get(path)
		calls = []
		for _ in range(runs):
			started = time.monotonic()
			browser.get(path)
			calls.append(time.monotonic() - started)
		opens, sizes = [], {}
		for _ in range(max(5, runs // 3)):
			started = time.monotonic()
			size, r = browser.get(path)
			thread = r.json()["message"]
			shown = [m["file"] for m in thread["messages"] if m.get("file")]
			thumbs = browser.get_all([f["thumb"] for f in shown if f.get("thumb")])
			opens.append(time.monotonic() - started)
			sizes = {
				"thread_bytes": size,
				"images": len(shown),
				"thumbnails": len(thumbs),
				"thumbnail_bytes": sum(s for s, _ in thumbs),
				"thumbnail_type": thumbs[0][1].headers.get("Content-Type") if thumbs else None,
				"thumbnail_cache_control": thumbs[0][1].headers.get("Cache-Control") if thumbs else None,
			}
		one = []  # one thumbnail alone: what each of the 20 costs the web server
		for thumb in itertools.islice(itertools.cycle([f["thumb"] for f in shown if f.get("thumb")]), runs):
			started = time.monotonic()
			browser.get(thumb)
			one.append(time.monotonic() - started)
		started = time.monotonic()
		full = browser.get_all([f["url"] for f in shown])
		full_s = time.monotonic() - started
	finally:
		browser.close()
	out = {
		"thread_call": stats(calls),
		"one_thumbnail_call": stats(one),
		"open_thread_and_thumbnails": stats(opens),
		**sizes,
	}
	out["open_bytes"] = sizes["thread_bytes"] + sizes["thumbnail_bytes"]
	out["full_photos"] = {"count": len(full), "bytes": sum(s for s, _ in full), "ms": round(full_s * 1000)}
	from whatsapp_crm.api import inbox

	out["sql_thread"] = profile(user, lambda: inbox.thread(I5_CONVERSATION))
	newest = f"bi5-{I5_BEFORE + I5_PHOTOS - 1}"
	out["sql_thumbnail"] = profile(user, lambda: inbox.media(newest, thumb=1))
	return out


def main() -> int:
	frappe.init(site=ARGS.site, sites_path=".")
	frappe.connect()
	frappe.set_user("Administrator")
	failed = False
	users = None
	try:
		clean()
		with make_simulator("baileys", api_key=KEY, start=True) as sim:
			set_up(sim.url)
			if "I1" in ARGS.only:
				r = i1(ARGS.base, ARGS.site)
				ok = r["leads"] == 10 and r["linked"] == 50 and r["twice"] == 0
				failed |= not ok
				print(f"I1 50 messages from 10 new numbers, 8 webhooks at a time: {'PASS' if ok else 'FAIL'}")
				print(f"   {json.dumps(r)}")
			if ARGS.only & {"I2", "I4", "I5"}:
				users = (("Administrator", ARGS.password), (manager(), MANAGER_PASSWORD))
			if ARGS.only & {"I2", "I4"}:
				seeded = seed_i2(ARGS.conversations, ARGS.messages, ARGS.files)
				print(
					f"   seeded {ARGS.conversations} conversations, {ARGS.messages} messages and {ARGS.files} File rows: "
					f"{json.dumps(seeded)}"
				)
			if "I2" in ARGS.only:
				print(
					f"I2 the inbox list over {ARGS.conversations} conversations and {ARGS.messages} messages (HTTP, {ARGS.base})"
				)
				for user, password in users:
					r = i2(ARGS.base, ARGS.site, ARGS.runs, user, password)
					print(f"   as {user}: {json.dumps(r, ensure_ascii=False)}")
			if "I4" in ARGS.only:
				if ARGS.fts_optimize:
					started = time.monotonic()
					frappe.db.sql("optimize table `tabWhatsApp Message`")
					print(f"   optimize table (FULLTEXT merged): {time.monotonic() - started:.1f} s")
				counts = matching()
				ok = counts["rare"] == RARE_COUNT
				print(
					f"I4 message search over {ARGS.messages} messages (FULLTEXT `wa_message_text`): {'PASS' if ok else 'FAIL'} "
					f"(messages matching: {json.dumps(counts)}; searches: {json.dumps(SEARCHES, ensure_ascii=False)})"
				)
				for user, password in users:
					r = i4(ARGS.base, ARGS.site, ARGS.runs, user, password)
					ok &= r["first_page"]["rare"] == str(RARE_COUNT)
					print(f"   as {user}: {json.dumps(r, ensure_ascii=False)}")
				if not ok:
					print(f"   FAIL: the order number must find its {RARE_COUNT} messages")
				failed |= not ok
			if "I5" in ARGS.only:
				seeded = seed_i5()
				print(f"I5 a thread with 20 photos (HTTP, {ARGS.base}): made {json.dumps(seeded)}")
				for user, password in users:
					r = i5(ARGS.base, ARGS.site, ARGS.runs, user, password)
					ok = r["images"] == r["thumbnails"] == r["full_photos"]["count"] == I5_PHOTOS
					failed |= not ok
					print(f"   as {user}: {'PASS' if ok else 'FAIL'} {json.dumps(r, ensure_ascii=False)}")
	finally:
		clean()
		frappe.destroy()
	return 1 if failed else 0


if __name__ == "__main__":
	ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	ap.add_argument("--site", required=True)
	ap.add_argument("--base", default="http://127.0.0.1:8000")
	ap.add_argument("--password", default="admin")
	ap.add_argument("--conversations", type=int, default=5000)
	ap.add_argument("--messages", type=int, default=100000)
	ap.add_argument(
		"--files", type=int, default=10000, help="File rows for the seeded messages' photos (I2, I4)"
	)
	ap.add_argument("--runs", type=int, default=60)
	ap.add_argument("--only", default="I1,I2,I4,I5")
	ap.add_argument(
		"--fts-optimize", action="store_true", help="merge the FULLTEXT index (optimize table) before I4"
	)
	ARGS = ap.parse_args()
	ARGS.only = set(ARGS.only.upper().split(","))
	raise SystemExit(main())
