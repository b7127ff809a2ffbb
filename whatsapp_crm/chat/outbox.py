"""Sending: an outbox per session, flushed by short jobs after the request that queued a message commits.

- **Once only.** Before a message goes to the gateway, its job takes a *send claim* stored on the message
  (one conditional UPDATE, committed). A second job never sends a claimed message. A claim whose job died
  (a worker killed mid-send, Redis flushed) or whose send timed out is *uncertain*: the gateway's own store
  is read back first, and a message found there is adopted, not sent again.
- **Offline numbers.** While the session is not Connected, messages wait as ``queued`` (CRM's clock) for
  Hold Messages While Offline hours, and go out in order when the phone is linked again; past that, failed.
- **Hanging gateways.** After a send times out, the session is *suspect*: its messages wait as queued and a
  probe (one short status read, re-queued behind other jobs) sends them once the gateway answers again. A
  worker is never held for a full read timeout per message, and one session's hang never delays another's.
- **Paced.** Every message waits for its number's sending policy (chat/sending.py): replies first, then the
  campaign messages this outbox claims one at a time (chat/campaign_recipients.py). A message over a limit
  waits queued with its reason written on it; it is never dropped.
- A send is retried at once only when the gateway cannot have sent it (nothing listened, or a proxy said the
  gateway is not there). Failures go to the Error Log by message name and code, never with the text.
"""

from __future__ import annotations

import html
import mimetypes
import secrets
import time
from typing import NamedTuple

import frappe
from frappe.utils import add_to_date, get_datetime, now_datetime

from whatsapp_crm.chat import acks, inbound, provider, recent
from whatsapp_crm.chat import campaign_recipients as campaigns
from whatsapp_crm.chat import sending as pacing
from whatsapp_crm.chat.catchup import from_unix, to_unix
from whatsapp_crm.gateway.acquire import CONNECTED
from whatsapp_crm.gateway.client import GatewayClient
from whatsapp_crm.gateway.errors import (
	GatewayError,
	GatewayTimeout,
	HistoryUnavailable,
	InvalidMessage,
	MediaTooLarge,
	NotConnected,
	ServerError,
	Unreachable,
)
from whatsapp_crm.gateway.messaging import (
	FAILED,
	MAX_MEDIA_BYTES,
	SENT,
	OutgoingMessage,
	SendResult,
	checked_media,
	checked_outgoing,
	checked_reaction,
)
from whatsapp_crm.gateway.policies import OUTBOX, SEND_RETRY, retrying
from whatsapp_crm.gateway_records.config import client_for
from whatsapp_crm.integration import (
	SESSION,
	get_settings,
	log_gateway_error,
	logger,
)
from whatsapp_crm.sending.policy import TYPING_MAX_S

QUEUED = "queued"
TITLE_SEND = "WhatsApp Send Failed"
RETRY_WAITS_S = SEND_RETRY.waits_s
NOT_THERE = SEND_RETRY.proxy_statuses
CLAIM_FIELD, CLAIMED_AT = "gateway_send_claim", "gateway_claimed_at"
UNCERTAIN = "uncertain:"  # a claim whose send may or may not have reached the gateway
CLAIM_STALE_S = OUTBOX.claim_stale_s
LOCK_TTL_S = OUTBOX.lock_ttl_s
STALE_QUEUED_S = OUTBOX.stale_queued_s
SUSPECT_S = OUTBOX.suspect_s
PROBE_TIMEOUT_S = OUTBOX.probe_timeout_s
PROBE_ROUNDS = OUTBOX.probe_rounds
READ_BACK_S = OUTBOX.read_back_s
FLUSH_BATCH = OUTBOX.batch
NAP_S, RELAY_S, TURN_S = OUTBOX.pace_nap_s, OUTBOX.pace_relay_s, OUTBOX.pace_turn_s
HELD, SENT_NOW, FAILED_NOW, SUSPECT, BUSY, DONE = "held", "sent", "failed", "suspect", "busy", "done"
PACED = "paced"  # the next message waits for the sending policy
SHORT_TYPING_S = 2.5  # the most a short-queue job spends typing a reply (the watcher shares the queue)
PREEMPTED = "preempted"  # a campaign message's typing gave way to a reply queued meanwhile
PACE_QUEUE = "long"  # where a paced outbox waits: never the short queue, which the session watcher needs


class Paced(NamedTuple):
	"""A message its number's policy lets go: typing starts now and the send waits for ``not_before``, so
	the typing falls inside the wait instead of adding to it."""

	row: object
	account: str
	message: pacing.Message
	typing: float
	not_before: float


def _key(kind: str, session: str) -> str:
	return frappe.cache.make_key(f"whatsapp_crm:outbox:{kind}:{session}")


def enqueue(name: str, session: str | None = None) -> None:
	"""A message was queued: flush its session's outbox once the request commits."""
	session = session or provider.session_for_account(
		frappe.db.get_value(provider.MESSAGE, name, "whatsapp_account")
	)
	if session:
		enqueue_flush(session)


def enqueue_flush(session: str, queue: str = "short") -> None:
	frappe.cache.set(_key("dirty", session), 1, ex=3600)
	frappe.enqueue(
		"whatsapp_crm.chat.outbox.flush",
		queue=queue,
		enqueue_after_commit=True,
		session=session,
		lane=queue,
	)


def flush(session: str, lane: str = "short") -> dict:
	"""The job: send the session's queued messages, replies first, each when its sending policy allows, one
	job per session at a time. A job that finds another one running leaves it a note (the dirty flag) and
	ends; the runner looks again. ``lane``: the queue it runs on. A job on the short queue never waits for the
	policy (the session watcher shares that queue): it hands a paced outbox to the long queue, whose job
	sleeps short waits and re-queues itself behind other work for longer ones (module docstring, "Paced")."""
	stats = {"sent": 0, "failed": 0, "held": 0, "stopped": None, "wait": None}
	if not frappe.db.exists(SESSION, session):
		return {**stats, "stopped": HELD}  # deleted after the job was queued
	lock = _key("lock", session)
	frappe.cache.set(_key("dirty", session), 1, ex=3600)
	if not frappe.cache.set(lock, 1, nx=True, ex=LOCK_TTL_S):
		return {**stats, "stopped": BUSY}
	started = time.monotonic()
	try:
		while frappe.cache.delete(_key("dirty", session)):
			try:
				stopped = _flush_once(session, stats, lane)
			except (frappe.QueryDeadlockError, frappe.QueryTimeoutError):
				# another job held the rows (a receipt, a claim): this look is undone, the next one goes on
				frappe.db.rollback()
				stopped, stats["wait"] = PACED, 1.0
			napping = lane == PACE_QUEUE and time.monotonic() - started < TURN_S
			if stopped == PACED and napping and stats["wait"] <= NAP_S:
				_nap(session, stats["wait"])
				frappe.cache.set(_key("dirty", session), 1, ex=3600)
				continue
			if stopped is None and time.monotonic() - started >= TURN_S:
				stopped, stats["wait"] = PACED, 0.0  # a long turn: hand the worker over, then go on
			if stopped:
				stats["stopped"] = stopped
				break
	finally:
		frappe.cache.delete(lock)
	if stats["stopped"] == SUSPECT:
		enqueue_probe(session)
	elif stats["stopped"] == PACED:
		_come_back(session, stats["wait"], lane)
	elif frappe.cache.get(_key("dirty", session)) and stats["stopped"] is None:
		enqueue_flush(session)  # a message came while the lock was being released
	return stats


def _come_back(session: str, wait: float, lane: str) -> None:
	"""After a paced stop: on the long queue soon (the job queued again, behind other work), or at the sweep
	after ``wait``."""
	if wait <= RELAY_S:
		if lane == PACE_QUEUE:
			_nap(session, min(wait, NAP_S))
		enqueue_flush(session, PACE_QUEUE)
	else:
		frappe.cache.set(_key("wake", session), time.time() + wait, ex=int(wait) + 3600)


def _short_enough(paced: Paced) -> bool:
	"""Whether the short queue may send it: a reply (not a campaign's) whose typing and wait are over within
	SHORT_TYPING_S. Anything longer goes to the long queue; a reply is not sent one job later for a second
	of "typing…"."""
	if paced.message.campaign:
		return not paced.typing and paced.not_before <= time.time()
	return max(paced.typing, paced.not_before - time.time()) <= SHORT_TYPING_S


def _nap(session: str, seconds: float) -> None:
	"""Sleep up to ``seconds``, cut short when a new message is queued for the number (a reply goes first)."""
	ends = time.monotonic() + seconds
	while (left := ends - time.monotonic()) > 0:
		time.sleep(min(left, 0.2))
		if frappe.cache.get(_key("dirty", session)):
			return


def _flush_once(session: str, stats: dict, lane: str = PACE_QUEUE) -> str | None:
	row = pacing.session_row(session)
	account = provider.account_for_session(session) if row else None
	if not account:
		return HELD
	for _turn in range(FLUSH_BATCH):
		frappe.cache.expire(_key("lock", session), LOCK_TTL_S)
		# this look sees everything queued so far (a fresh snapshot: the job's transaction would not show a
		# reply committed meanwhile); a message queued after it sets the flag again
		frappe.cache.delete(_key("dirty", session))
		frappe.db.commit()  # nosemgrep: nothing of this job is pending here; it only ends the old snapshot
		if row.status != CONNECTED:
			name = _next_queued(account)
			if name is None:
				return None
			outcome = send(name)  # held for the phone, or failed when it waited too long
		else:
			pick = _pick(session, row, account, stats)
			if pick in (None, PACED):
				return pick
			name, paced = pick
			if lane != PACE_QUEUE and not _short_enough(paced):
				stats["wait"] = 0.0  # seconds of typing or waiting: not on the short queue
				return PACED
			outcome = send(name, paced=paced)
		if outcome == SENT_NOW:
			stats["sent"] += 1
		elif outcome == FAILED_NOW:
			stats["failed"] += 1
		elif outcome in (HELD, SUSPECT, BUSY):
			stats["held"] += 1
			return outcome  # the rest wait behind it, in order (BUSY: a dead job's fresh claim)
	frappe.cache.set(_key("dirty", session), 1, ex=3600)  # more than one batch: go round again
	return None


def _queued(account: str) -> list:
	"""Queued messages, oldest first: not a campaign's (replies, agents, automations), then the claimed
	messages of Running campaigns."""
	base = {"whatsapp_account": account, "type": "Outgoing", "status": QUEUED}
	out = []
	for extra in ({campaigns.CAMPAIGN_FIELD: ("is", "not set")}, {campaigns.CAMPAIGN_FIELD: ("is", "set")}):
		rows = frappe.get_all(
			provider.MESSAGE,
			filters={**base, **extra},
			fields=["name", "to", "message", campaigns.CAMPAIGN_FIELD],
			order_by="creation asc",
			limit=FLUSH_BATCH,
		)
		out += [
			r
			for r in rows
			if not r.get(campaigns.CAMPAIGN_FIELD) or campaigns.is_running(r.get(campaigns.CAMPAIGN_FIELD))
		]
	return out


def _next_queued(account: str) -> str | None:
	found = _queued(account)
	return found[0].name if found else None


def _pick(session: str, row, account: str, stats: dict, claim: bool = True):
	"""The first queued message its number's policy lets go now, with the policy's view of it; messages to
	one chat keep their order, and a message held for its own reason (quiet hours for a cold message, the
	new conversations cap) does not hold back the others. None: nothing to send; PACED: all wait (the
	soonest wait in ``stats``, each message's reason written on it)."""
	judge = pacing.Judge(row, account)
	held, soonest = set(), None
	for r in _queued(account):
		if not r.to or r.to in held:
			continue
		message = pacing.message_for(account, r.to, campaign=bool(r.get(campaigns.CAMPAIGN_FIELD)))
		wait = judge.wait(message)
		typing = pacing.typing_for(judge.policy, html.unescape(r.message or ""), r.name)
		if wait.at <= judge.now + typing:  # typing starts now and ends when the slot comes
			return r.name, Paced(row, account, message, typing, wait.at)
		pacing.hold(r.name, wait)
		held.add(r.to)
		ready = wait.at - typing  # when its typing must start
		soonest = ready if soonest is None else min(soonest, ready)
	claimed = _next_campaign_message(session, row, account, judge) if claim else None
	if claimed is not None and claimed != PACED:
		return _pick(session, row, account, stats, claim=False)  # the message just claimed
	if claimed == PACED:
		ready = judge.campaign_at - lead_of(judge)
		soonest = ready if soonest is None else min(soonest, ready)
	if soonest is None:
		return None
	stats["wait"] = max(0.0, soonest - time.time())
	return PACED


def lead_of(judge) -> float:
	"""How long before a campaign slot its recipient is claimed: in time to type before the slot."""
	return TYPING_MAX_S if judge.policy.typing else 0.0


def _next_campaign_message(session: str, row, account: str, judge) -> str | None:
	"""A campaign recipient claimed as a message, when the policy has a slot for one now; PACED when it has
	not (the wait noted for the campaign form); None when no campaign has work for this number."""
	if not campaigns.running_for(session):
		campaigns.clear_wait(session)
		return None
	wait = judge.wait(pacing.Message(to="", first_contact=True, campaign=True))
	if wait.at > judge.now + lead_of(judge):
		campaigns.note_wait(session, wait.reason, from_unix(wait.at))
		judge.campaign_at = wait.at
		return PACED
	campaigns.clear_wait(session)
	return campaigns.claim_next(session, row, account)


def send(name: str, paced: Paced | None = None) -> str:
	"""Send one queued message (or adopt it, when an uncertain claim's send did reach the gateway). ``paced``
	(session row, account, the policy's view of the message): the chat is read and "typing…" shown first,
	and the send is counted in the number's ledger."""
	doc = frappe.get_doc(provider.MESSAGE, name)
	if doc.message_id or doc.status != QUEUED:
		return DONE  # already sent: a repeated job
	session = provider.session_for_account(doc.whatsapp_account)
	row = frappe.db.get_value(SESSION, session, ["session_id", "status"], as_dict=True) if session else None
	if not row:
		_failed(doc, session, InvalidMessage("the account is not backed by a session"))
		return FAILED_NOW
	claim = doc.get(CLAIM_FIELD) or ""
	waiting = HELD if row.status != CONNECTED else SUSPECT if _suspect(session) else None
	if waiting:
		if _expired(doc):
			_failed(doc, session, NotConnected("the phone was not linked again in time"))
			return FAILED_NOW
		return waiting  # waits, queued, for the phone to be linked again or the gateway to answer
	if claim and not claim.startswith(UNCERTAIN) and not _stale(doc):
		return BUSY  # another job is sending it right now
	if claim:
		outcome = _recover(doc, session, row.session_id)
		if outcome is not None:
			return outcome
	if paced:
		if not _show_reading_and_typing(session, paced, doc):
			return PREEMPTED  # no claim taken: it stays queued, and the reply goes first
		time.sleep(max(0.0, paced.not_before - time.time()))  # the policy's slot, if typing ended first
	token = secrets.token_hex(8)
	if not _take_claim(doc.name, token, claim):
		return BUSY
	sent_at = time.time()
	try:
		message = _outgoing(doc)
		result = _deliver(session, row.session_id, message)
	except GatewayTimeout:
		# It may have been sent: never again blindly. The read-back decides once the gateway answers.
		_set_claim(doc.name, UNCERTAIN + token)
		_mark_suspect(session)
		logger().info("op=send message=%s session=%s timeout: uncertain, held", doc.name, session)
		return SUSPECT
	except NotConnected:
		_set_claim(doc.name, None)  # the gateway says the phone is not linked: wait for it, queued
		return HELD
	except GatewayError as e:
		_failed(doc, session, e)
		return FAILED_NOW
	_store_sent(doc, session, result.message_id, message.text or doc.attach, paced=paced, at=sent_at)
	return SENT_NOW


def _show_reading_and_typing(session: str, paced: Paced, doc) -> bool:
	"""False when a campaign message's typing gave way to a message queued meanwhile (the dirty flag)."""
	if paced.typing <= 0:
		return True
	stop = (lambda: bool(frappe.cache.get(_key("dirty", session)))) if paced.message.campaign else None
	finished = True
	try:
		with client_for(session) as client:
			finished = pacing.show_reading_and_typing(
				client, paced.row, paced.account, paced.message.to, paced.typing, stop
			)
	except GatewayError as e:
		logger().info("op=pace session=%s skipped code=%s", session, e.code)
	frappe.cache.expire(_key("lock", session), LOCK_TTL_S)
	return finished


def _store_sent(
	doc, session: str, message_id: str, shown: str | None, paced: Paced | None = None, at: float | None = None
) -> None:
	holder = acks.claim(session, message_id, doc.name)
	# The gateway's echo of this very message was stored first (its claim may be gone with Redis): this
	# document is the one to keep.
	for echo in {holder, inbound.gateway_name(session, message_id)} - {None, "", doc.name}:
		if frappe.db.exists(provider.MESSAGE, echo):
			frappe.delete_doc(provider.MESSAGE, echo, ignore_permissions=True, force=True)
	if holder and holder != doc.name:
		acks.take_over(session, message_id, doc.name)
	doc.reload()
	doc.message_id = message_id
	doc.status = acks.pending_status(session, message_id, SENT)
	doc.set(CLAIM_FIELD, None)
	at = at or to_unix(get_datetime(doc.get(CLAIMED_AT) or doc.creation))
	doc.set(pacing.SENT_AT, from_unix(at))
	doc.set(pacing.WAIT_REASON, None)
	doc.set(pacing.SEND_AFTER, None)
	if paced:
		doc.set(pacing.FIRST_CONTACT, int(paced.message.first_contact))
	doc.save(ignore_permissions=True)
	provider.refresh_crm(doc)
	frappe.db.commit()  # nosemgrep: receipts look the id up from now on
	# Receipts that came while this job was saving were remembered, not applied: apply them now.
	late = acks.pending_status(session, message_id, doc.status)
	if late != doc.status:
		inbound.set_status(doc.name, late)
	recent.add(session, message_id, "out", doc.to, shown, late)
	if paced:
		pacing.note_sent(paced.row, paced.message, at, paced.not_before)
	logger().info("op=send message=%s session=%s status=%s", doc.name, session, late)


def _take_claim(name: str, token: str, previous: str) -> bool:
	"""One conditional UPDATE, committed: the first job to take the message sends it."""
	frappe.db.sql(
		f"""update `tab{provider.MESSAGE}` set `{CLAIM_FIELD}` = %(token)s, `{CLAIMED_AT}` = %(now)s
		where name = %(name)s and status = %(queued)s and ifnull(message_id, '') = ''
		and ifnull(`{CLAIM_FIELD}`, '') = %(previous)s""",
		{"token": token, "now": now_datetime(), "name": name, "queued": QUEUED, "previous": previous},
	)
	taken = frappe.db._cursor.rowcount == 1
	frappe.db.commit()  # nosemgrep: the claim must be visible to every other job before the send
	return taken


def _set_claim(name: str, value: str | None) -> None:
	frappe.db.set_value(provider.MESSAGE, name, CLAIM_FIELD, value, update_modified=False)
	frappe.db.commit()  # nosemgrep: an uncertain claim must survive this job


def _stale(doc) -> bool:
	at = doc.get(CLAIMED_AT)
	return not at or (now_datetime() - get_datetime(at)).total_seconds() > CLAIM_STALE_S


def _expired(doc) -> bool:
	"""Waited longer than Hold Messages While Offline (0: not at all)."""
	hours = get_settings().offline_hold_hours
	hours = 24 if hours is None else int(hours)
	return (now_datetime() - get_datetime(doc.creation)).total_seconds() > hours * 3600


def _recover(doc, session: str, session_id: str) -> str | None:
	"""An uncertain or abandoned claim: look for the message in the gateway's store. Adopted -> SENT_NOW;
	not there -> None (send it); the gateway cannot tell -> failed, since a resend could send it twice."""
	text = _plain_text(doc)
	at = to_unix(get_datetime(doc.get(CLAIMED_AT) or doc.creation))
	taken = set()
	try:
		with client_for(session) as client:
			cursor = None
			for _page in range(5):
				page = client.read_messages(
					session_id, since=at - READ_BACK_S, until=at + READ_BACK_S, cursor=cursor
				)
				for m in page.messages:
					if m.from_me and m.chat == doc.to.lstrip("+") and _same(m, text, doc):
						if m.id in taken or _adopted_elsewhere(doc, session, m.id):
							taken.add(m.id)
							continue
						_store_sent(doc, session, m.id, text or doc.attach)
						logger().info("op=send message=%s session=%s adopted %s", doc.name, session, m.id)
						return SENT_NOW
				cursor = page.next_cursor
				if cursor is None:
					break
	except HistoryUnavailable as e:
		_failed(doc, session, e, reason="it may or may not have been sent; the gateway keeps no history")
		return FAILED_NOW
	except (GatewayTimeout, Unreachable):
		_mark_suspect(session)
		return SUSPECT
	except GatewayError as e:
		_failed(doc, session, e)
		return FAILED_NOW
	return None


def _same(m, text: str | None, doc) -> bool:
	if doc.content_type == "reaction":
		return m.reaction == text
	if text:
		return (m.text or "") == text
	return m.media is not None


def _adopted_elsewhere(doc, session: str, message_id: str) -> bool:
	"""Another message of ours already holds this gateway id. The gateway's echo of the send (Evolution and
	WAHA tell their own sends back; the webhook stored it while no job held the id) does not count: this
	message takes its place."""
	echo = inbound.gateway_name(session, message_id)
	return bool(
		frappe.db.exists(
			provider.MESSAGE,
			{
				"message_id": message_id,
				"whatsapp_account": doc.whatsapp_account,
				"name": ("not in", [doc.name, echo]),
			},
		)
	)


def _plain_text(doc) -> str | None:
	"""The text as it was typed: Frappe stores the field as sanitized HTML ("a &lt; b")."""
	if doc.message and doc.message != doc.attach:
		return html.unescape(doc.message)
	return None


def _suspect(session: str) -> bool:
	return bool(frappe.cache.get(_key("suspect", session)))


def _mark_suspect(session: str) -> None:
	frappe.cache.set(_key("suspect", session), 1, ex=SUSPECT_S)


def enqueue_probe(session: str, attempt: int = 0) -> None:
	first = attempt == 0  # only the chain's first probe is deduplicated: later ones are queued by it
	frappe.enqueue(
		"whatsapp_crm.chat.outbox.probe",
		queue="short",
		job_id=f"whatsapp_crm:outbox:probe:{session}" if first else None,
		deduplicate=first,
		enqueue_after_commit=True,
		session=session,
		attempt=attempt,
	)


def probe(session: str, attempt: int = 0) -> bool:
	"""The job: one short status read of a suspect session. It answers: flush. It does not: queue the probe
	again, behind whatever else waits on the queue (other sessions' sends go first)."""
	row = frappe.db.get_value(SESSION, session, ["session_id", "status", "gateway"], as_dict=True)
	account = provider.account_for_session(session) if row else None
	waiting = account and frappe.db.exists(
		provider.MESSAGE, {"whatsapp_account": account, "type": "Outgoing", "status": QUEUED}
	)
	if not row or row.status != CONNECTED or not waiting:
		# Nothing left to probe for (gone, unlinked: the relink flushes; or nothing waits any more).
		frappe.cache.delete(_key("suspect", session))
		return False
	session_id = row.session_id
	started = time.monotonic()
	try:
		with client_for(row) as client:
			client.get_status(session_id, timeout=PROBE_TIMEOUT_S)
	except GatewayError:
		if attempt + 1 < PROBE_ROUNDS:
			if time.monotonic() - started < 1.0:
				time.sleep(1.0)  # refused at once: do not spin
			enqueue_probe(session, attempt + 1)
		return False
	frappe.cache.delete(_key("suspect", session))
	enqueue_flush(session)
	return True


def sweep() -> dict:
	"""Scheduler, every minute: outboxes with a message whose job is gone (queued with no claim for a
	while, or a claim older than any send) are flushed again; the flush fails what waited too long. So are
	outboxes a paced wait left to the sweep, once their time is within the minute, and the numbers of
	Running campaigns (a restart loses no campaign)."""
	if not provider.installed() or not frappe.get_meta(provider.MESSAGE).has_field(CLAIM_FIELD):
		return {}
	now = now_datetime()
	rows = frappe.get_all(
		provider.MESSAGE,
		filters={
			"type": "Outgoing",
			"status": QUEUED,
			"creation": ("<", add_to_date(now, seconds=-STALE_QUEUED_S)),
		},
		fields=["whatsapp_account"],
		group_by="whatsapp_account",
	)
	sessions = {provider.session_for_account(r.whatsapp_account) for r in rows} - {None}
	sessions |= set(
		frappe.db.sql_list(
			f"""select distinct n.session from `tab{campaigns.NUMBER}` n join `tab{campaigns.CAMPAIGN}` c
			on c.name = n.parent and n.parenttype = %s where c.status = %s""",
			(campaigns.CAMPAIGN, campaigns.RUNNING),
		)
	)
	woken = 0
	for session in sessions:
		wake = frappe.cache.get(_key("wake", session))
		if wake and float(wake) > time.time() + 60:
			continue  # a paced wait that ends later: a later sweep
		if not frappe.cache.get(_key("lock", session)):
			frappe.cache.delete(_key("wake", session))
			enqueue_flush(session)
			woken += 1
	return {"sessions": len(sessions), "woken": woken}


def flush_on_link(event, method: str | None = None) -> None:
	"""WhatsApp Session Event after_insert: a session that is Connected again sends what waited."""
	if event.to_status == CONNECTED and event.from_status != CONNECTED:
		frappe.cache.delete(_key("suspect", event.session))
		enqueue_flush(event.session)


def never_arrived(error: BaseException) -> bool:
	"""A send that surely never reached WhatsApp: no connection, or a proxy's answer for the gateway."""
	return isinstance(error, Unreachable) or (
		isinstance(error, ServerError) and error.http_status in NOT_THERE
	)


def send_with_retries(client: GatewayClient, session_id: str, message: OutgoingMessage) -> SendResult:
	for attempt in retrying(RETRY_WAITS_S, never_arrived):
		with attempt:
			return client.send_message(session_id, message)
	raise AssertionError  # tenacity returns or raises


def _deliver(session: str, session_id: str, message: OutgoingMessage) -> SendResult:
	with client_for(session) as client:
		return send_with_retries(client, session_id, message)


def _failed(doc, session: str | None, error: GatewayError, reason: str = "") -> None:
	doc.reload()
	doc.status = FAILED
	doc.set(CLAIM_FIELD, None)
	doc.save(ignore_permissions=True)
	provider.refresh_crm(doc)
	frappe.db.commit()  # nosemgrep: the failed status must be stored before the log entry is
	# One entry per session and reason in the settings' window, counted, naming every failed message.
	log_gateway_error(
		TITLE_SEND,
		error,
		session or "",
		attempt=1,
		elapsed_ms=0,
		operation=f"send{': ' + reason if reason else ''}",
		message_name=doc.name,
	)
	logger().info("op=send message=%s session=%s failed code=%s", doc.name, session, error.code)


def _outgoing(doc) -> OutgoingMessage:
	if doc.content_type == "reaction":
		# Frappe CRM names the message reacted to by its gateway id.
		return checked_reaction(
			doc.to.lstrip("+"),
			html.unescape(doc.message or ""),
			doc.reply_to_message_id,
			_is_ours(doc.reply_to_message_id),
		)
	media = _attachment(doc.attach) if doc.content_type != "text" and doc.attach else None
	text = _plain_text(doc)
	return checked_outgoing(
		doc.to.lstrip("+"),
		text,
		media,
		reply_to=doc.reply_to_message_id if doc.is_reply else None,
		reply_from_me=bool(doc.is_reply) and _is_ours(doc.reply_to_message_id),
	)


def _is_ours(message_id: str | None) -> bool:
	"""Whether the quoted (or reacted-to) message was sent from this side: gateways name it with that."""
	found = frappe.db.get_value(provider.MESSAGE, {"message_id": message_id}, "type") if message_id else None
	return found == "Outgoing"


def _attachment(file_url: str):
	"""The attached File's bytes; a URL that is not a File of this site is refused (never fetched)."""
	name = frappe.db.get_value("File", {"file_url": file_url}, "name")
	if not name:
		raise InvalidMessage("the attachment is not a file of this site")
	file = frappe.get_doc("File", name)
	if (file.file_size or 0) > MAX_MEDIA_BYTES:
		raise MediaTooLarge(f"the file is over the {MAX_MEDIA_BYTES} byte limit")
	mimetype = mimetypes.guess_type(file.file_name or "")[0]
	content = file.get_content()  # Frappe decodes a file that reads as UTF-8 (a .txt, a plain PDF) to str
	return checked_media(content.encode() if isinstance(content, str) else content, mimetype, file.file_name)


def send_test(session: str, number: str, text: str, local_id: str) -> None:
	"""The job behind the session form's Send test message: the result goes to its recent messages."""
	session_id = frappe.db.get_value(SESSION, session, "session_id")
	try:
		result = _deliver(session, session_id, checked_outgoing(number, text))
	except GatewayError as e:
		recent.update(session, local_id, FAILED, error=e.code)
		log_gateway_error(TITLE_SEND, e, session, attempt=1, elapsed_ms=0, operation="send_test")
		return
	acks.claim(session, result.message_id, local_id)
	recent.update(
		session, local_id, acks.pending_status(session, result.message_id, SENT), new_id=result.message_id
	)
