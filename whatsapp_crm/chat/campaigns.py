"""Campaigns: one text to a list of recipients, resolved once, sent through the outbox at each number's pace.

- **Resolved once** (``prepare``, a long job): the records chosen with filters (read as the user who started
  it, so only records they may read) or a pasted list; each number once; numbers that opted out or are
  blocked skipped with the reason; one bulk insert of recipient rows.
- **Each recipient exactly once.** A recipient becomes a WhatsApp Message only when a number's outbox has a
  free slot for it (``claim_next``): the row moves Waiting -> Sending and the message is inserted in one
  commit, under a row lock no other job can take. After a crash either both exist or neither; from there the
  outbox's send claim sends the message once.
- **Checked first.** Before a recipient is claimed, its number is checked on WhatsApp through the gateway, in
  batches; numbers not on WhatsApp are skipped.
- **Paused** campaigns claim nothing, and the outbox leaves their one claimed message queued until resumed.
"""

from __future__ import annotations

import json

import frappe
from frappe import _
from frappe.utils import get_datetime, now_datetime

from whatsapp_crm.chat import campaign_recipients as recipients_queue
from whatsapp_crm.chat import numbers, outbox, provider
from whatsapp_crm.chat import sending as pacing
from whatsapp_crm.chat.campaign_recipients import (
	BLOCKED_NUMBER,
	CAMPAIGN,
	CANCELLED,
	CANCELLED_REASON,
	COMPLETED,
	DRAFT,
	NUMBER,
	OPT_OUT,
	PAUSED,
	PREPARING,
	RECIPIENT,
	RUNNING,
	SCHEDULED,
	SENDING,
	SKIPPED,
	WAITING,
	changed,
	sessions_of,
)
from whatsapp_crm.sending import recipients as lists

SOURCES = ("CRM Lead", "CRM Deal", "Contact")
PASTED = "Pasted list"
PHONE_FIELDS = ("mobile_no", "phone")
INSERT_CHUNK = 5000


# -- starting: the recipients, resolved once ---------------------------------------------------------------


def start(campaign: str) -> None:
	"""Start (a Draft): resolve the recipients in a long job; the job makes it Running or Scheduled."""
	doc = frappe.get_doc(CAMPAIGN, campaign)
	if doc.status != DRAFT:
		frappe.throw(_("Only a draft campaign can be started; this one is {0}.").format(_(doc.status)))
	doc.check_ready()
	for session in sessions_of(campaign):  # its messages go out as this user's would: the accounts' roles
		account = provider.account_for_session(session)
		if not account:
			frappe.throw(
				_("{0} backs no WhatsApp Account: link one to it before sending a campaign from it.").format(
					frappe.bold(session)
				)
			)
		provider.check_can_send(account)
	doc.db_set("status", PREPARING)
	frappe.enqueue(
		"whatsapp_crm.chat.campaigns.prepare",
		queue="long",
		timeout=1800,
		enqueue_after_commit=True,
		job_id=f"whatsapp_crm:campaign:prepare:{campaign}",
		deduplicate=True,
		campaign=campaign,
	)


def prepare(campaign: str) -> dict:
	"""The job: every recipient resolved and stored (one bulk insert), then the campaign goes."""
	doc = frappe.get_doc(CAMPAIGN, campaign)
	if doc.status != PREPARING:
		return {"skipped": doc.status}
	if frappe.db.exists(RECIPIENT, {"campaign": campaign}):
		frappe.db.delete(RECIPIENT, {"campaign": campaign})  # a job that died half way: start again
	sessions = sessions_of(campaign)
	resolved = lists.resolve(
		entries(doc),
		numbers.default_region(),
		opted_out=frozenset(opted_out_numbers(sessions)),
		blocked=frozenset(n.lstrip("+") for n in frappe.get_all(BLOCKED_NUMBER, pluck="name")),
	)
	now, owner = now_datetime(), frappe.session.user
	fields = [
		"name", "creation", "modified", "owner", "modified_by", "docstatus", "idx", "campaign", "status",
		"skip_reason", "number", "given", "recipient_name", "reference_doctype", "reference_name", "seq",
		"checked",
	]  # fmt: skip
	rows = []
	for seq, r in enumerate(resolved, 1):
		e = r.entry
		rows.append(
			(
				frappe.generate_hash(length=12), now, now, owner, owner, 0, 0, campaign,
				SKIPPED if r.skip else WAITING, r.skip, r.digits, (e.number or "")[:140] or None,
				(e.label or "")[:140] or None, e.reference_doctype, e.reference_name, seq, 0,
			)
		)  # fmt: skip
	for i in range(0, len(rows), INSERT_CHUNK):
		frappe.db.bulk_insert(RECIPIENT, fields, rows[i : i + INSERT_CHUNK], chunk_size=INSERT_CHUNK)
		frappe.publish_progress(
			min(100, (i + INSERT_CHUNK) * 100 / max(len(rows), 1)),
			title=_("Preparing the campaign"),
			doctype=CAMPAIGN,
			docname=campaign,
		)
	go = SCHEDULED if doc.start_at and get_datetime(doc.start_at) > now else RUNNING
	frappe.db.set_value(
		CAMPAIGN,
		campaign,
		{"status": go, "total_recipients": len(rows), "prepared_at": now, "started_at": now},
	)
	frappe.db.commit()  # nosemgrep: the outboxes below read the recipients
	if go == RUNNING:
		wake(campaign)
	changed(campaign)
	return {"recipients": len(rows), "status": go}


def entries(doc) -> list[lists.Entry]:
	if doc.source == PASTED:
		return lists.pasted(doc.pasted_numbers or "")
	if doc.source not in SOURCES:
		return []
	meta = frappe.get_meta(doc.source)
	phone = [f for f in PHONE_FIELDS if meta.has_field(f)]
	title = meta.title_field or "name"
	# Read as the user who started it: only the records they may read.
	rows = frappe.get_list(
		doc.source,
		filters=parse_filters(doc.filters),
		fields=["name", title, *phone],
		order_by="creation asc",
	)
	return [
		lists.Entry(
			next((r.get(f) for f in phone if r.get(f)), None), doc.source, r.name, r.get(title) or r.name
		)
		for r in rows
	]


def parse_filters(raw: str | None) -> list | dict:
	"""The campaign's Filters field: Frappe's own filter list (as the list view writes it) or a dict."""
	if not raw or not raw.strip():
		return []
	try:
		value = json.loads(raw)
	except ValueError:
		frappe.throw(_("The filters are not valid JSON. Set them again with the Set filters button."))
	if not isinstance(value, list | dict):
		frappe.throw(
			_("The filters must be a list of conditions. Set them again with the Set filters button.")
		)
	return value


def opted_out_numbers(sessions: list[str]) -> set[str]:
	if not sessions:
		return set()
	return set(frappe.get_all(OPT_OUT, filters={"session": ("in", sessions), "opted_out": 1}, pluck="number"))


# -- pause, resume, cancel ---------------------------------------------------------------------------------


def pause(campaign: str, reason: str | None = None) -> bool:
	"""Running or Scheduled -> Paused: no recipient is claimed from the next look of any outbox on."""
	frappe.db.sql(
		f"update `tab{CAMPAIGN}` set status=%s, paused_reason=%s, modified=%s where name=%s and status in %s",
		(PAUSED, reason, now_datetime(), campaign, (RUNNING, SCHEDULED)),
	)
	moved = frappe.db._cursor.rowcount == 1
	frappe.db.commit()  # nosemgrep: every outbox must see it at once
	changed(campaign)
	return moved


def resume(campaign: str) -> None:
	doc = frappe.get_doc(CAMPAIGN, campaign)
	if doc.status != PAUSED:
		frappe.throw(_("Only a paused campaign can be resumed; this one is {0}.").format(_(doc.status)))
	later = doc.start_at and get_datetime(doc.start_at) > now_datetime()
	doc.db_set({"status": SCHEDULED if later else RUNNING, "paused_reason": None})
	frappe.db.commit()  # nosemgrep
	wake(campaign)
	changed(campaign)


def cancel(campaign: str) -> None:
	"""No more messages: the waiting recipients are skipped, and a claimed message not sent yet is withdrawn."""
	doc = frappe.get_doc(CAMPAIGN, campaign)
	if doc.status in (COMPLETED, CANCELLED):
		frappe.throw(_("This campaign is already {0}.").format(_(doc.status)))
	doc.db_set({"status": CANCELLED, "finished_at": now_datetime()})
	frappe.db.commit()  # nosemgrep: no outbox claims from here on
	for m in frappe.get_all(
		provider.MESSAGE,
		filters={"gateway_campaign": campaign, "status": "queued", "gateway_send_claim": ("is", "not set")},
		fields=["name", "gateway_campaign_recipient"],
	):
		frappe.delete_doc(provider.MESSAGE, m.name, ignore_permissions=True, force=True)
		frappe.db.set_value(
			RECIPIENT,
			m.gateway_campaign_recipient,
			{"status": SKIPPED, "skip_reason": CANCELLED_REASON, "message": None},
		)
	frappe.db.sql(
		f"update `tab{RECIPIENT}` set status=%s, skip_reason=%s where campaign=%s and status=%s",
		(SKIPPED, CANCELLED_REASON, campaign, WAITING),
	)
	frappe.db.commit()  # nosemgrep
	changed(campaign)


def wake(campaign: str) -> None:
	"""Each of the campaign's numbers looks for work (their outboxes claim the recipients)."""
	for session in sessions_of(campaign):
		outbox.enqueue_flush(session)


def progress(campaign: str) -> dict:
	"""The campaign form's progress: one grouped query over the recipients' (campaign, status) index."""
	rows = frappe.db.sql(
		f"""select status, ifnull(skip_reason, '') as reason, count(*) as n from `tab{RECIPIENT}`
		where campaign = %s group by status, skip_reason""",
		campaign,
		as_dict=True,
	)
	by_status: dict[str, int] = {}
	skipped: dict[str, int] = {}
	for r in rows:
		by_status[r.status] = by_status.get(r.status, 0) + r.n
		if r.status == SKIPPED:
			skipped[r.reason or lists.INVALID_NUMBER] = r.n
	total = sum(by_status.values())
	done = total - by_status.get(WAITING, 0) - by_status.get(SENDING, 0)
	doc = frappe.db.get_value(CAMPAIGN, campaign, ["status", "paused_reason"], as_dict=True) or {}
	return {
		"total": total,
		"done": done,
		"percent": round(done * 100 / total, 1) if total else 0,
		"by_status": by_status,
		"skipped": skipped,
		"status": doc.get("status"),
		"paused_reason": doc.get("paused_reason"),
		"waits": waits_of(campaign),
	}


def waits_of(campaign: str) -> list[dict]:
	"""Why each sending number is not sending this campaign right now (what the outbox last noted)."""
	out = []
	for session in sessions_of(campaign):
		note = recipients_queue.noted_wait(session)
		if note:
			out.append({"session": session, "text": pacing.describe(note["reason"], note["at"])})
	return out


def start_scheduled() -> None:
	"""Scheduler, every minute: Scheduled campaigns whose start time came go (the outbox sweep keeps Running
	ones moving)."""
	now = now_datetime()
	for name in frappe.get_all(
		CAMPAIGN, filters={"status": SCHEDULED, "start_at": ("<=", now)}, pluck="name"
	):
		frappe.db.set_value(CAMPAIGN, name, {"status": RUNNING, "started_at": now})
		frappe.db.commit()  # nosemgrep
		wake(name)
		changed(name)
