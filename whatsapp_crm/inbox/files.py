"""The files an agent may send from the inbox, checked before anything is stored or queued.

WhatsApp shows a file as its kind (image, sticker, audio, video, document), each with its types and size
limit; any other type goes as a document. Programs and scripts are refused whatever they are called. A
file's name and declared type must agree with its bytes: a ".png" that is a PDF, or a ".pdf" that is not,
is refused rather than sent as what it is not. Only the first bytes (``HEAD_BYTES``) are read.
"""

from __future__ import annotations

from dataclasses import dataclass

from whatsapp_crm.gateway.messaging import MAX_MEDIA_BYTES, clean_mimetype

from .errors import EmptyFile, FileTooLarge, FileTypeMismatch, FileTypeNotAllowed

KB, MB = 1024, 1024 * 1024
IMAGE, STICKER, AUDIO, VIDEO, DOCUMENT = "image", "sticker", "audio", "video", "document"
KINDS = (IMAGE, STICKER, AUDIO, VIDEO, DOCUMENT)
# How much of a file sniff() reads (a DOS header is 64 bytes, an ISO brand at 8 to 12).
HEAD_BYTES = 1024
OCTET_STREAM = "application/octet-stream"

# WhatsApp's own limits per kind...
WHATSAPP_LIMITS = {IMAGE: 5 * MB, STICKER: 500 * KB, AUDIO: 16 * MB, VIDEO: 16 * MB, DOCUMENT: 100 * MB}
# ...and this app's: the gateway transport carries at most MAX_MEDIA_BYTES a file, so a document stops there.
LIMITS = {kind: min(limit, MAX_MEDIA_BYTES) for kind, limit in WHATSAPP_LIMITS.items()}

# The types WhatsApp shows as each kind; any other goes as a document (a GIF, a HEIC photo, a WAV).
KIND_TYPES = {
	IMAGE: frozenset({"image/jpeg", "image/png"}),
	STICKER: frozenset({"image/webp"}),
	AUDIO: frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
	VIDEO: frozenset({"video/mp4", "video/3gpp"}),
}

# Programs and scripts: a double click runs them. Refused as any kind.
BLOCKED_EXTENSIONS = ("bat", "cmd", "com", "dll", "exe", "jar", "js", "msi", "ps1", "scr", "sh", "vbs")
BLOCKED_TYPES = frozenset(
	{
		"application/bat",
		"application/java-archive",
		"application/javascript",
		"application/vnd.microsoft.portable-executable",
		"application/x-bat",
		"application/x-dosexec",
		"application/x-executable",
		"application/x-java-archive",
		"application/x-javascript",
		"application/x-mach-binary",
		"application/x-ms-installer",
		"application/x-msdos-program",
		"application/x-msdownload",
		"application/x-msi",
		"application/x-sh",
		"application/x-shellscript",
		"text/javascript",
		"text/vbscript",
		"text/x-shellscript",
	}
)
# What sniff() calls a program's bytes (Windows, Linux, macOS).
EXE, ELF, MACH_O = "application/x-msdownload", "application/x-executable", "application/x-mach-binary"
EXECUTABLE_BYTES = frozenset({EXE, ELF, MACH_O})
ZIP, OLE2, PDF = "application/zip", "application/x-ole-storage", "application/pdf"

# The type of each extension: a table of its own, so the answer is the same on every server (mimetypes
# reads the system's files).
EXTENSIONS = {
	"jpg": "image/jpeg",
	"jpeg": "image/jpeg",
	"jpe": "image/jpeg",
	"jfif": "image/jpeg",
	"png": "image/png",
	"webp": "image/webp",
	"gif": "image/gif",
	"bmp": "image/bmp",
	"tif": "image/tiff",
	"tiff": "image/tiff",
	"heic": "image/heic",
	"heif": "image/heif",
	"avif": "image/avif",
	"svg": "image/svg+xml",
	"aac": "audio/aac",
	"amr": "audio/amr",
	"mp3": "audio/mpeg",
	"m4a": "audio/mp4",
	"ogg": "audio/ogg",
	"oga": "audio/ogg",
	"opus": "audio/ogg",
	"wav": "audio/wav",
	"flac": "audio/flac",
	"mp4": "video/mp4",
	"m4v": "video/mp4",
	"3gp": "video/3gpp",
	"mov": "video/quicktime",
	"webm": "video/webm",
	"mkv": "video/x-matroska",
	"avi": "video/x-msvideo",
	"pdf": PDF,
	"doc": "application/msword",
	"xls": "application/vnd.ms-excel",
	"ppt": "application/vnd.ms-powerpoint",
	"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"odt": "application/vnd.oasis.opendocument.text",
	"ods": "application/vnd.oasis.opendocument.spreadsheet",
	"odp": "application/vnd.oasis.opendocument.presentation",
	"epub": "application/epub+zip",
	"zip": ZIP,
	"rtf": "application/rtf",
	"txt": "text/plain",
	"csv": "text/csv",
	"tsv": "text/tab-separated-values",
	"md": "text/markdown",
	"html": "text/html",
	"htm": "text/html",
	"xml": "application/xml",
	"json": "application/json",
	"vcf": "text/vcard",
	"ics": "text/calendar",
}
# Other names browsers and systems give the same types.
ALIASES = {
	"image/jpg": "image/jpeg",
	"image/pjpeg": "image/jpeg",
	"image/x-png": "image/png",
	"audio/mp3": "audio/mpeg",
	"audio/mpeg3": "audio/mpeg",
	"audio/x-mp3": "audio/mpeg",
	"audio/x-mpeg": "audio/mpeg",
	"audio/m4a": "audio/mp4",
	"audio/x-m4a": "audio/mp4",
	"audio/x-aac": "audio/aac",
	"audio/aacp": "audio/aac",
	"audio/opus": "audio/ogg",
	"audio/wave": "audio/wav",
	"audio/x-wav": "audio/wav",
	"audio/vnd.wave": "audio/wav",
	"video/x-m4v": "video/mp4",
	"application/x-pdf": PDF,
	"application/x-zip": ZIP,
	"application/x-zip-compressed": ZIP,
	"text/x-csv": "text/csv",
	"application/csv": "text/csv",
}
# Declared types that say nothing about the file.
_GENERIC = frozenset({"", OCTET_STREAM, "binary/octet-stream", "application/unknown", "application/binary"})

_IMAGE_BYTES = frozenset(
	{
		"image/jpeg",
		"image/png",
		"image/gif",
		"image/webp",
		"image/bmp",
		"image/tiff",
		"image/heic",
		"image/avif",
	}
)
# Containers that hold sound or pictures alike (an MP4 may be a song, an Ogg a video): their bytes do not say
# which, the name does.
_CONTAINERS = frozenset(
	{"video/mp4", "audio/mp4", "video/3gpp", "video/quicktime", "audio/ogg", "video/webm"}
)
_AUDIO_BYTES = _CONTAINERS | {"audio/mpeg", "audio/aac", "audio/amr", "audio/wav"}
_VIDEO_BYTES = _CONTAINERS | {"video/x-msvideo"}
_FAMILY_BYTES = {"image": _IMAGE_BYTES, "audio": _AUDIO_BYTES, "video": _VIDEO_BYTES}
_ZIP_TYPES = frozenset(t for t in EXTENSIONS.values() if "openxmlformats" in t or "opendocument" in t) | {
	"application/epub+zip",
	ZIP,
}
_OLE2_TYPES = frozenset({"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"})
# The types whose bytes sniff() knows, and the bytes each may have.
_RECOGNIZED: dict[str, frozenset[str]] = {
	**{t: _IMAGE_BYTES for t in (*_IMAGE_BYTES, "image/heif")},
	**{
		t: _AUDIO_BYTES
		for t in ("audio/mpeg", "audio/aac", "audio/amr", "audio/ogg", "audio/wav", "audio/mp4")
	},
	**{
		t: _VIDEO_BYTES
		for t in (*_CONTAINERS - {"audio/mp4", "audio/ogg"}, "video/x-matroska", "video/x-msvideo")
	},
	PDF: frozenset({PDF}),
	**{t: frozenset({ZIP}) for t in _ZIP_TYPES},
	**{t: frozenset({OLE2}) for t in _OLE2_TYPES},
}
_TEXT_TYPES = frozenset({"application/json", "application/xml"})
# The extension a file of each type is given when its name has none that says so (the first in EXTENSIONS).
_EXTENSION_OF = {t: ext for ext, t in reversed(EXTENSIONS.items())}


@dataclass(frozen=True)
class FileCheck:
	kind: str  # one of KINDS: how WhatsApp will show it
	mimetype: str
	filename: str
	size: int


def normalized(mimetype: str | None) -> str:
	"""A type without parameters ("audio/ogg; codecs=opus"), lowercase, under its usual name."""
	value = clean_mimetype(mimetype, "")  # "" for anything that is not a type at all
	return ALIASES.get(value, value)


def kind_of(mimetype: str | None) -> str:
	"""How WhatsApp shows a file of this type (an inbound one too): image, sticker, audio, video, or
	document for any other."""
	value = normalized(mimetype)
	for kind, types in KIND_TYPES.items():
		if value in types:
			return kind
	return DOCUMENT


def mimetype_of(filename: str | None) -> str:
	"""The type a file's name says (this module's table, the same on every server); application/octet-stream
	when it says none."""
	return EXTENSIONS.get(_extension(filename or ""), OCTET_STREAM)


def limits() -> dict:
	"""The limits for the page, to refuse a file before uploading it."""
	return {**LIMITS, "blocked_extensions": list(BLOCKED_EXTENSIONS)}


def _ftyp(head: bytes) -> str:
	"""The type of an ISO media file by its major brand."""
	brand = head[8:12]
	if brand.startswith((b"3gp", b"3g2")):
		return "video/3gpp"
	if brand in (b"M4A ", b"M4B ", b"M4P "):
		return "audio/mp4"
	if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
		return "image/heic"
	if brand in (b"avif", b"avis"):
		return "image/avif"
	if brand == b"qt  ":
		return "video/quicktime"
	return "video/mp4"


def _mpeg_frame(head: bytes) -> bool:
	"""An MP3 frame header: 11 sync bits, a known version, layer, bitrate and sample rate."""
	if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
		return False
	version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
	bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
	return version != 1 and layer != 0 and bitrate != 0xF and rate != 3


def sniff(head: bytes) -> str | None:
	"""The type a file's first bytes show (its "magic"), or None when they show none known. Office files of
	today are zips (docx, xlsx, pptx, odt), older ones OLE2 (doc, xls, ppt)."""
	if not isinstance(head, bytes | bytearray | memoryview):
		return None
	head = bytes(head[:HEAD_BYTES])
	# programs first: their headers may hold anything after the magic
	if (
		head.startswith(b"MZ") and b"\0" in head[2:64]
	):  # a DOS header is mostly zeros; "MZ, Mozambique" text is not
		return EXE
	if head.startswith(b"\x7fELF"):
		return ELF
	if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf"):
		return MACH_O
	if head.startswith(b"\x89PNG\r\n\x1a\n"):
		return "image/png"
	if head.startswith(b"\xff\xd8\xff"):
		return "image/jpeg"
	if head.startswith((b"GIF87a", b"GIF89a")):
		return "image/gif"
	if head.startswith(b"RIFF") and len(head) >= 12:
		return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(head[8:12])
	if head.startswith(b"BM") and head[6:10] == b"\0\0\0\0":  # the header's reserved bytes
		return "image/bmp"
	if head.startswith((b"II*\0", b"MM\0*")):
		return "image/tiff"
	if head.lstrip(b"\xef\xbb\xbf\0 \t\r\n").startswith(
		b"%PDF-"
	):  # readers skip a BOM and blank lines before it
		return PDF
	if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
		return ZIP
	if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
		return OLE2
	if head[4:8] == b"ftyp":
		return _ftyp(head)
	if head.startswith(b"OggS"):
		return "audio/ogg"
	if head.startswith(b"#!AMR"):
		return "audio/amr"
	if head.startswith(b"\x1a\x45\xdf\xa3"):
		return "video/webm"  # Matroska's EBML header, which WebM shares
	if head.startswith((b"\xff\xfe", b"\xfe\xff")):
		return None  # UTF-16 text (Excel's "Unicode text"): its byte order mark looks like an MP3 frame
	if head.startswith(b"ID3") or _mpeg_frame(head):
		return "audio/mpeg"
	if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS: sync bits, layer 0
		return "audio/aac"
	return None


def _agrees(claimed: str, sniffed: str | None) -> bool:
	"""Whether bytes of type ``sniffed`` may be a file of type ``claimed``."""
	if claimed in _RECOGNIZED:  # sniff() knows these: the bytes must show them
		return sniffed in _RECOGNIZED[claimed]
	family = claimed.split("/", 1)[0]
	if family in _FAMILY_BYTES:  # other images, sounds and videos: unknown bytes pass, another family's not
		return sniffed is None or sniffed in _FAMILY_BYTES[family]
	if family == "text" or claimed in _TEXT_TYPES:  # text has no magic: any it shows is a binary's
		return sniffed is None
	return True


def _extension(filename: str) -> str:
	# Windows drops trailing dots and spaces: "invoice.exe. " runs as invoice.exe
	name = filename.rstrip(". ")
	return name.rsplit(".", 1)[1].lower() if "." in name else ""


def _media(mimetype: str) -> bool:
	return mimetype.split("/", 1)[0] in _FAMILY_BYTES or mimetype == PDF


def checked_file(head: bytes, size: int, filename: str, declared: str | None) -> FileCheck:
	"""What an upload is and how it will be sent, from its first bytes, size, name and the type the browser
	declared; a typed error when it is empty, a program, a type that lies about itself, or too large."""
	name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip() or "file"
	if not isinstance(size, int) or size <= 0:
		raise EmptyFile("the file is empty", field="file", filename=name)
	extension = _extension(name)
	given = normalized(declared)
	sniffed = sniff(head)
	if extension in BLOCKED_EXTENSIONS or given in BLOCKED_TYPES or sniffed in EXECUTABLE_BYTES:
		raise FileTypeNotAllowed(
			f"{name} is a program or script",
			field="file",
			filename=name,
			extension=extension,
			detected=sniffed,
		)
	declared_type = None if given in _GENERIC else given
	# the name says what the file is; the declared type speaks when the name does not
	claimed = EXTENSIONS.get(extension) or declared_type
	lies = claimed is not None and not _agrees(claimed, sniffed)
	# a declared image, sound, video or PDF the bytes deny is a lie too (a declared "application/vnd.ms-excel"
	# for a .csv is Windows' habit, not one)
	if declared_type and declared_type != claimed and _media(declared_type):
		lies = lies or not _agrees(declared_type, sniffed)
	if lies:
		raise FileTypeMismatch(
			f"{name} is not what its name or type says ({sniffed or 'unknown bytes'})",
			field="file",
			filename=name,
			claimed=claimed,
			declared=declared_type,
			detected=sniffed,
		)
	mimetype = claimed or sniffed or OCTET_STREAM
	if claimed and sniffed and sniffed not in _CONTAINERS and claimed.split("/", 1)[0] in ("image", "audio"):
		mimetype = sniffed  # an image's or a sound's bytes name its format exactly (a .jpg that is a PNG)
	if mimetype_of(name) != mimetype and mimetype in _EXTENSION_OF:
		# the name then says what the file is to everyone who reads only names (the outbox, a download)
		stem = name.rsplit(".", 1)[0] if extension in EXTENSIONS else name
		name = f"{stem}.{_EXTENSION_OF[mimetype]}"
	kind = kind_of(mimetype)
	if size > LIMITS[kind]:
		raise FileTooLarge(
			f"{name} is over the {LIMITS[kind]} byte limit of a WhatsApp {kind}",
			field="file",
			filename=name,
			size=size,
			limit=LIMITS[kind],
			kind=kind,
		)
	return FileCheck(kind=kind, mimetype=mimetype, filename=name, size=size)
