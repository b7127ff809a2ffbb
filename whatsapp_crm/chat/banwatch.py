"""Ban watch: when a number looks restricted or about to be banned (logged out right after a burst of sends,
delivery falling sharply, many "not on WhatsApp" answers), its campaigns pause, its owner and the WhatsApp
Managers are told in plain words what likely happened and what to do, and the session's history records it.
The signs are judged by ``whatsapp_crm.sending.banwatch``; each is acted on once per incident."""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import add_to_date, now_datetime

from whatsapp_crm.chat import campaign_recipients as queue
from whatsapp_crm.chat import provider
from whatsapp_crm.chat import sending as pacing
from whatsapp_crm.integration import MANAGER_ROLE, SESSION, logger
from whatsapp_crm.sending import banwatch as signs
from whatsapp_crm.sending import recipients as lists
from whatsapp_crm.sessions import history

ONCE_S = 6 * 3600  # one warning per number and finding in this long
# Connected -> one of these: the phone must be linked again (WhatsApp logged it out), not a network blip.
LOGGED_OUT = ("QR Ready", "Not Created", "Failed")


def on_session_event(event, method: str | None = None) -> None:
	"""WhatsApp Session Event after_insert: logged out right after a burst of sends."""
	if event.from_status != "Connected" or event.to_status not in LOGGED_OUT:
		return
	account = provider.account_for_session(event.session)
	sent = _sent_since(account, add_to_date(now_datetime(), hours=-1)) if account else 0
	finding = signs.assess(signs.Signals(sent_last_hour=sent, logged_out=True))
	if finding:
		act(event.session, finding, event.to_status)


def watch() -> dict:
	"""Scheduler, every five minutes: delivery and "not on WhatsApp" rates of the numbers sending campaigns."""
	found = {}
	for session in _campaign_sessions():
		account = provider.account_for_session(session)
		if not account:
			continue
		finding = signs.assess(signals(session, account))
		if finding:
			act(session, finding, frappe.db.get_value(SESSION, session, "status"))
			found[session] = finding
	return found


def signals(session: str, account: str) -> signs.Signals:
	"""Campaign messages sent 15 to 75 minutes ago (time enough to be delivered) against the hour before,
	and the numbers checked in the last hour."""
	now = now_datetime()
	recent = _delivery(account, add_to_date(now, minutes=-75), add_to_date(now, minutes=-15))
	before = _delivery(account, add_to_date(now, minutes=-135), add_to_date(now, minutes=-75))
	checked = frappe.db.sql(
		f"""select count(*), sum(skip_reason = %s) from `tab{queue.RECIPIENT}`
		where session = %s and checked = 1 and modified > %s""",
		(lists.NOT_ON_WHATSAPP, session, add_to_date(now, hours=-1)),
	)[0]
	return signs.Signals(
		recent_sent=recent[0],
		recent_delivered=recent[1],
		before_sent=before[0],
		before_delivered=before[1],
		checked=int(checked[0] or 0),
		not_on_whatsapp=int(checked[1] or 0),
	)


def _delivery(account: str, start, end) -> tuple[int, int]:
	row = frappe.db.sql(
		f"""select count(*), sum(status in ('delivered', 'read')) from `tab{provider.MESSAGE}`
		where whatsapp_account = %s and `{queue.CAMPAIGN_FIELD}` is not null
		and `{pacing.SENT_AT}` between %s and %s""",
		(account, start, end),
	)[0]
	return int(row[0] or 0), int(row[1] or 0)


def _sent_since(account: str, since) -> int:
	return frappe.db.count(provider.MESSAGE, {"whatsapp_account": account, pacing.SENT_AT: (">", since)})


def _campaign_sessions() -> list[str]:
	return frappe.db.sql_list(
		f"""select distinct n.session from `tab{queue.NUMBER}` n join `tab{queue.CAMPAIGN}` c
		on c.name = n.parent and n.parenttype = %s where c.status = %s""",
		(queue.CAMPAIGN, queue.RUNNING),
	)


def explain(finding: str) -> tuple[str, str]:
	"""(what likely happened, what to do), in plain words."""
	if finding == signs.LOGGED_OUT_AFTER_BURST:
		return (
			_(
				"WhatsApp logged this number out right after it sent many messages: it may be restricted or banned."
			),
			_(
				"Open WhatsApp on the phone and read what it says. If it can still be used, link it again and send only replies for a few days; lower the number's sending limits before any campaign."
			),
		)
	if finding == signs.DELIVERY_DROP:
		return (
			_(
				"Far fewer of this number's campaign messages are being delivered than before: WhatsApp may be limiting it, or recipients are blocking it."
			),
			_(
				"Check the phone for a warning from WhatsApp. Resume only after lowering the limits, and send to customers who know you."
			),
		)
	return (
		_(
			"Many of the campaign's numbers are not on WhatsApp: sending to unknown numbers is what gets numbers reported and banned."
		),
		_("Clean the list (remove old or invented numbers) before resuming."),
	)


def act(session: str, finding: str, status: str | None) -> None:
	"""Pause the number's campaigns, tell its owner and the WhatsApp Managers, record it; once per incident."""
	if not frappe.cache.set(
		frappe.cache.make_key(f"whatsapp_crm:banwatch:{session}:{finding}"), 1, nx=True, ex=ONCE_S
	):
		return
	happened, todo = explain(finding)
	label = frappe.db.get_value(SESSION, session, "label") or session
	paused = []
	for campaign in frappe.db.sql_list(
		f"""select distinct c.name from `tab{queue.CAMPAIGN}` c join `tab{queue.NUMBER}` n
		on n.parent = c.name and n.parenttype = %s where n.session = %s and c.status in (%s, %s)""",
		(queue.CAMPAIGN, session, queue.RUNNING, queue.SCHEDULED),
	):
		reason = _("Paused by ban watch ({0}): {1}").format(label, happened)
		frappe.db.sql(
			f"update `tab{queue.CAMPAIGN}` set status=%s, paused_reason=%s where name=%s and status in (%s, %s)",
			(queue.PAUSED, reason[:1000], campaign, queue.RUNNING, queue.SCHEDULED),
		)
		queue.changed(campaign)
		paused.append(campaign)
	history.record(session, status, status or "Connected", history.WATCHER, "ban_watch", f"{happened} {todo}")
	for user in _told(session):
		frappe.get_doc(
			{
				"doctype": "Notification Log",
				"for_user": user,
				"type": "Alert",
				"document_type": SESSION,
				"document_name": session,
				"subject": _("WhatsApp number {0} may be at risk of a ban").format(frappe.bold(label)),
				"email_content": f"<p>{happened}</p><p>{todo}</p>"
				+ (f"<p>{_('Paused campaigns: {0}').format(', '.join(paused))}</p>" if paused else ""),
			}
		).insert(ignore_permissions=True)
	frappe.db.commit()  # nosemgrep: the pause and the warning stand whatever the caller does next
	logger().warning("op=banwatch session=%s finding=%s paused=%s", session, finding, len(paused))


def _told(session: str) -> set[str]:
	users = set(
		frappe.get_all(
			"Has Role", filters={"role": MANAGER_ROLE, "parenttype": "User"}, pluck="parent", distinct=True
		)
	)
	owner = frappe.db.get_value(SESSION, session, "owner_user")
	if owner:
		users.add(owner)
	enabled = set(frappe.get_all("User", filters={"name": ("in", list(users)), "enabled": 1}, pluck="name"))
	return enabled - {"Guest"}
