"""Files in the inbox, both ways. A customer's file is a private File on its WhatsApp Message (fetched by
``inbound.fetch_media``); images get a small thumbnail beside it, so a thread with many photos loads
kilobytes. Every file is served through ``api.inbox.media`` to users who may read the conversation, inline
only for types a browser cannot run as a page. An agent's file is checked against WhatsApp's limits before
anything is stored (``whatsapp_crm.inbox.files``), kept as a private File on the conversation, and sent by
the outbox like any queued message."""

from __future__ import annotations

import io
import os

import frappe
from frappe import _
from PIL import Image, ImageOps

from whatsapp_crm.chat import provider
from whatsapp_crm.chat.conversations import CONVERSATION
from whatsapp_crm.inbox import files as rules
from whatsapp_crm.inbox.errors import InboxError

MEDIA_PATH = "/api/method/whatsapp_crm.api.inbox.media"
MEDIA_URL = MEDIA_PATH + "?message={0}"
MEDIA_MAX_AGE_S = 3600
THUMB_SIZE = (320, 320)
THUMB_SUFFIX = "_wa_thumb.jpg"
# shown in the page (img, audio, video, pdf viewer); anything else is a download, so a customer's HTML or
# SVG never runs on this site's origin
INLINE = {
	"image/jpeg",
	"image/png",
	"image/webp",
	"image/gif",
	"application/pdf",
	"audio/ogg",
	"audio/mpeg",
	"audio/mp4",
	"audio/aac",
	"audio/amr",
	"video/mp4",
	"video/3gpp",
}
MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}


def refusal(e: InboxError, filename: str) -> str:
	"""A file check's refusal in plain words."""
	name = frappe.bold(frappe.utils.escape_html(filename[:80]))
	if e.code == "EMPTY_FILE":
		return _("{0} is empty.").format(name)
	if e.code == "FILE_TOO_LARGE":
		return _("{0} is larger than {1}, the most WhatsApp takes for this kind of file.").format(
			name, human_size(e.context.get("limit") or 0)
		)
	if e.code == "FILE_TYPE_MISMATCH":
		return _("{0} is not what its name says it is, so it was not sent.").format(name)
	return _("{0} cannot be sent on WhatsApp.").format(name)


def human_size(size: int) -> str:
	for unit in ("bytes", "KB", "MB"):
		if size < 1024 or unit == "MB":
			return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}".replace(".0 ", " ")
		size /= 1024
	return str(size)


def upload(row, data: bytes, filename: str, declared: str | None) -> dict:
	"""An agent's file for a reply: checked first (nothing stored when refused), then a private File on the
	conversation."""
	filename = os.path.basename((filename or "").replace("\\", "/"))[:140] or "file"
	try:
		check = rules.checked_file(data[:4096], len(data), filename, declared)
	except InboxError as e:
		frappe.throw(refusal(e, filename), title=_("File not sent"))
	file = frappe.get_doc(
		{
			"doctype": "File",
			"file_name": check.filename,
			"content": data,
			"is_private": 1,
			"attached_to_doctype": CONVERSATION,
			"attached_to_name": row.name,
		}
	).insert(ignore_permissions=True)
	if check.kind == "image":
		make_thumbnail(file)
	return {
		"file": file.name,
		"file_url": file.file_url,
		"file_name": file.file_name,
		"size": len(data),
		"kind": check.kind,
		"mimetype": check.mimetype,
	}


def attached(row, name: str, user: str) -> frappe._dict:
	"""The File an agent uploaded for this conversation (theirs, on it); refused otherwise."""
	file = frappe.db.get_value(
		"File",
		{"name": name, "attached_to_doctype": CONVERSATION, "attached_to_name": row.name, "owner": user},
		["name", "file_url", "file_name", "file_size"],
		as_dict=True,
	)
	if not file:
		frappe.throw(
			_("Attach the file again: it was not found on this conversation."), title=_("File not found")
		)
	return file


def kind_for(file_name: str, content_type: str | None) -> str:
	if content_type in MEDIA_TYPES - {"document"}:
		return content_type
	return rules.kind_of(rules.mimetype_of(file_name))


def make_thumbnail(file) -> str | None:
	"""A small JPEG beside a private image (Frappe's own thumbnail would be written under public/)."""
	if not (file.file_url or "").startswith("/private/files/"):
		return None
	try:
		with Image.open(io.BytesIO(file.get_content())) as image:
			image = ImageOps.exif_transpose(image)
			image.thumbnail(THUMB_SIZE)
			out = io.BytesIO()
			image.convert("RGB").save(out, "JPEG", quality=78)
	except Exception:
		return None  # not an image PIL reads: the full file is shown instead
	url = file.file_url + THUMB_SUFFIX
	with open(frappe.get_site_path(url.lstrip("/")), "wb") as f:
		f.write(out.getvalue())
	file.db_set("thumbnail_url", url, update_modified=False)
	return url


def cache_media(response=None, request=None) -> None:
	"""after_request: a file served by ``media`` never changes, so the browser keeps it (for this user only)
	and a thread opened again loads no thumbnail twice."""
	if (
		request is not None
		and response is not None
		and request.path == MEDIA_PATH
		and response.status_code == 200
	):
		response.headers["Cache-Control"] = f"private, max-age={MEDIA_MAX_AGE_S}"


def on_file_trash(doc, method: str | None = None) -> None:
	"""File on_trash: a thumbnail this app made goes with its file."""
	url = doc.get("thumbnail_url") or ""
	# Frappe gives the same bytes the same address: another File (the same photo sent twice) may share it
	shared = frappe.db.exists("File", {"thumbnail_url": url, "name": ("!=", doc.name)})
	if url.startswith("/private/files/") and url.endswith(THUMB_SUFFIX) and not shared:
		path = frappe.get_site_path(url.lstrip("/"))
		if os.path.exists(path):
			os.remove(path)


def for_messages(messages: list[dict]) -> None:
	"""Each message's file as the page shows it (one query for the page of messages)."""
	urls = [m["attach"] for m in messages if m.get("attach")]
	found = {}
	if urls:
		for f in frappe.get_all(
			"File",
			filters={"file_url": ("in", urls)},
			fields=["file_url", "file_name", "file_size", "thumbnail_url"],
		):
			# Frappe may keep two rows for one file (attach_files_to_document): the one with the thumbnail
			if f.file_url not in found or f.thumbnail_url:
				found[f.file_url] = f
	for m in messages:
		url = m.pop("attach", None)
		f = found.get(url) if url else None
		if not f:
			m["file"] = None
			continue
		kind = kind_for(f.file_name, m.get("content_type"))
		link = MEDIA_URL.format(frappe.utils.quote(m["name"], safe=""))
		m["file"] = {
			"url": link,
			"thumb": link + "&thumb=1" if kind == "image" and f.thumbnail_url else None,
			"name": f.file_name,
			"size": f.file_size,
			"kind": kind,
			"mimetype": rules.mimetype_of(f.file_name),
		}
		if m.get("text") == url:
			m["text"] = ""  # no caption: CRM stores the file's address as the text


def serve(message: dict, thumb: bool) -> None:
	"""The message's file as this response (the caller checked the conversation)."""
	file = frappe.db.get_value(
		"File",
		{"file_url": message.attach},
		["name", "file_name", "file_url", "thumbnail_url", "is_private"],
		as_dict=True,
		order_by="thumbnail_url desc",  # of two rows for one file (attach_files_to_document), the one with it
	)
	if not file:
		raise frappe.DoesNotExistError(_("The file is no longer stored."))
	thumb_path = frappe.get_site_path((file.thumbnail_url or "").lstrip("/")) if file.thumbnail_url else None
	if thumb and thumb_path and os.path.exists(thumb_path):
		with open(thumb_path, "rb") as f:
			content, name, mimetype = f.read(), file.file_name + ".jpg", "image/jpeg"
	else:  # no thumbnail (or it is gone): the file itself
		content, name = frappe.get_doc("File", file.name).get_content(), file.file_name
		mimetype = rules.mimetype_of(file.file_name)
	inline = mimetype in INLINE
	frappe.local.response.update(
		{
			"type": "download",
			"filename": name,
			"filecontent": content,
			"content_type": mimetype if inline else "application/octet-stream",
			"display_content_as": "inline" if inline else "attachment",
		}
	)


def message_for_media(name: str) -> frappe._dict:
	row = frappe.db.get_value(
		provider.MESSAGE,
		name,
		["name", "type", "from", "to", "whatsapp_account", "attach"],
		as_dict=True,
	)
	if not row or not row.attach:
		raise frappe.PermissionError(_("You cannot open this file."))
	return row
