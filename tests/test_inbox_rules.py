"""The inbox's frappe-free rules: business hours and automatic replies, snoozing, the files an agent may
send, response-time statistics and quick reply codes."""

import random
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from whatsapp_crm.gateway.messaging import MAX_MEDIA_BYTES
from whatsapp_crm.inbox import errors, files, hours, quick_replies, snooze, stats
from whatsapp_crm.inbox.hours import Range
from whatsapp_crm.sending import errors as sending_errors

MB, KB = 1024 * 1024, 1024
MONDAY = date(2025, 3, 3)  # 2025-03-03 was a Monday


def at(day_offset: int, hhmm: str, second: int = 0) -> datetime:
	"""The week of MONDAY: at(0, "09:00") is Monday 09:00, at(4, ...) Friday, at(6, ...) Sunday."""
	h, m = map(int, hhmm.split(":"))
	return datetime.combine(MONDAY + timedelta(days=day_offset), datetime.min.time()).replace(
		hour=h, minute=m, second=second
	)


def rows(*spec):
	return [{"weekday": w, "opens": o, "closes": c} for w, o, c in spec]


# Monday to Friday 09:00-13:00 and 14:00-18:00 (lunch), Saturday 10:00-14:00, Sunday closed: 44 h a week.
SHOP = hours.checked_ranges(
	rows(
		*[(d, "09:00", "13:00") for d in hours.WEEKDAYS[:5]],
		*[(d, "14:00", "18:00") for d in hours.WEEKDAYS[:5]],
		("Saturday", "10:00", "14:00"),
	)
)
OFFICE = hours.checked_ranges(rows(*[(d, "09:00", "18:00") for d in hours.WEEKDAYS[:5]]))  # no weekends
SHOP_WEEK_S = 44 * 3600


# -- errors ---------------------------------------------------------------------------------------------


def test_every_inbox_error_is_a_value_error_with_its_own_stable_code():
	classes = [
		errors.HoursOutOfOrder,
		errors.InvalidTime,
		errors.SnoozeInPast,
		errors.SnoozeTooFar,
		errors.UnknownSnooze,
		errors.EmptyFile,
		errors.FileTooLarge,
		errors.FileTypeNotAllowed,
		errors.FileTypeMismatch,
		errors.BadQuickReplyCode,
	]
	assert [c.code for c in classes] == [
		"HOURS_OUT_OF_ORDER",
		"INVALID_TIME",
		"SNOOZE_IN_PAST",
		"SNOOZE_TOO_FAR",
		"UNKNOWN_SNOOZE",
		"EMPTY_FILE",
		"FILE_TOO_LARGE",
		"FILE_TYPE_NOT_ALLOWED",
		"FILE_TYPE_MISMATCH",
		"BAD_QUICK_REPLY_CODE",
	]
	e = errors.FileTooLarge("too big", field="file", limit=5, kind="image")
	assert isinstance(e, errors.InboxError) and isinstance(e, ValueError)
	assert (str(e), e.field, e.context) == ("too big", "file", {"limit": 5, "kind": "image"})


# -- business hours -------------------------------------------------------------------------------------


def test_times_are_every_quarter_hour_and_24_00_closes_the_day():
	assert len(hours.TIMES) == 24 * 4 + 1
	assert hours.TIMES[:3] == ("00:00", "00:15", "00:30") and hours.TIMES[-2:] == ("23:45", "24:00")
	assert hours.WEEKDAYS[0] == "Monday" and hours.WEEKDAYS[6] == "Sunday"
	assert [hours.minutes_of(t, closing=True) for t in hours.TIMES] == list(range(0, 24 * 60 + 1, 15))


def test_ranges_are_read_from_the_rows_and_sorted_by_day_and_time():
	found = hours.checked_ranges(
		rows(("Tuesday", "14:00", "18:00"), ("monday", "09:00:00", "13:30"), ("Tuesday", "09:00", "13:00"))
	)
	assert found == [Range(0, 540, 810), Range(1, 540, 780), Range(1, 840, 1080)]
	assert hours.checked_ranges([]) == []
	assert hours.checked_ranges(rows(("Sunday", "20:00", "24:00"))) == [Range(6, 1200, 1440)]


@pytest.mark.parametrize(("opens", "closes"), [("18:00", "09:00"), ("09:00", "09:00"), ("23:45", "00:00")])
def test_a_range_that_closes_before_it_opens_is_refused_naming_its_row(opens, closes):
	with pytest.raises(errors.HoursOutOfOrder) as caught:
		hours.checked_ranges(rows(("Monday", "09:00", "13:00"), ("Wednesday", opens, closes)))
	e = caught.value
	assert e.code == "HOURS_OUT_OF_ORDER" and e.field == "closes"
	assert (e.context["row"], e.context["weekday"], e.context["opens"]) == (2, "Wednesday", opens)


@pytest.mark.parametrize(
	("row", "field"),
	[
		(("Monday", "25:00", "26:00"), "opens"),
		(("Monday", "24:00", "24:00"), "opens"),  # 24:00 only closes
		(("Monday", "09:60", "10:00"), "opens"),
		(("Monday", "9h", "10:00"), "opens"),
		(("Monday", "", "10:00"), "opens"),
		(("Monday", None, "10:00"), "opens"),
		(("Monday", "09:00", "24:15"), "closes"),
		(("Monday", "09:00", None), "closes"),
		(("Funday", "09:00", "10:00"), "weekday"),
		((None, "09:00", "10:00"), "weekday"),
	],
)
def test_a_time_or_day_that_is_not_one_is_refused_naming_its_row(row, field):
	with pytest.raises(errors.InvalidTime) as caught:
		hours.checked_ranges(rows(("Friday", "09:00", "18:00"), row))
	assert caught.value.code == "INVALID_TIME" and caught.value.field == field
	assert caught.value.context["row"] == 2


def test_open_and_closed_around_a_lunch_break_and_on_closed_days():
	open_at = {
		at(0, "08:59", 59): False,
		at(0, "09:00"): True,
		at(0, "12:59", 59): True,
		at(0, "13:00"): False,  # lunch
		at(0, "13:59", 59): False,
		at(0, "14:00"): True,
		at(0, "17:59", 59): True,
		at(0, "18:00"): False,
		at(5, "09:59"): False,  # Saturday opens later
		at(5, "10:00"): True,
		at(5, "14:00"): False,
		at(6, "12:00"): False,  # Sunday: no rows, closed
	}
	assert {t: hours.is_open(t, SHOP) for t in open_at} == open_at


def test_without_hours_a_number_is_always_open():
	assert all(hours.is_open(at(d, "03:00"), []) for d in range(7))
	assert hours.next_open(at(6, "03:00"), []) == at(6, "03:00")


def test_a_day_closing_at_24_00_is_open_until_its_last_second():
	late = hours.checked_ranges(rows(("Friday", "20:00", "24:00")))
	assert hours.is_open(at(4, "23:59", 59), late)
	assert not hours.is_open(at(5, "00:00"), late)
	assert hours.business_seconds(at(4, "23:00"), at(5, "02:00"), late) == 3600


def test_overlapping_ranges_count_once():
	overlapping = hours.checked_ranges(rows(("Monday", "09:00", "13:00"), ("Monday", "12:00", "15:00")))
	assert hours.business_seconds(at(0, "00:00"), at(1, "00:00"), overlapping) == 6 * 3600
	assert hours.next_open(at(0, "12:30"), overlapping) == at(0, "12:30")


def test_business_seconds_inside_one_day_skip_the_lunch_break():
	assert hours.business_seconds(at(0, "08:00"), at(0, "20:00"), SHOP) == 8 * 3600
	assert hours.business_seconds(at(0, "12:30"), at(0, "14:30"), SHOP) == 3600
	assert hours.business_seconds(at(0, "13:10"), at(0, "13:50"), SHOP) == 0
	assert hours.business_seconds(at(0, "09:00", 0), at(0, "09:00", 30), SHOP) == 30


def test_business_seconds_over_a_weekend():
	# Friday 17:00 to Monday 10:00: Friday's last hour, Saturday's 4 hours, Monday's first hour
	assert hours.business_seconds(at(4, "17:00"), at(7, "10:00"), SHOP) == 6 * 3600
	# an office closed at weekends: a message on Friday evening answered on Monday at 09:30 waited 30 minutes
	assert hours.business_seconds(at(4, "19:00"), at(7, "09:30"), OFFICE) == 30 * 60


def test_business_seconds_without_hours_or_backwards():
	assert hours.business_seconds(at(4, "17:00"), at(7, "10:00"), []) == (65 * 3600)
	assert hours.business_seconds(at(1, "10:00"), at(0, "10:00"), SHOP) == 0
	assert hours.business_seconds(at(1, "10:00"), at(1, "10:00"), SHOP) == 0
	assert hours.business_seconds(at(1, "10:00"), at(0, "10:00"), []) == 0


def test_business_seconds_over_three_months_is_exact_and_fast():
	start = at(0, "00:00")
	end = start + timedelta(weeks=13)
	began = time.perf_counter()
	total = hours.business_seconds(start, end, SHOP)
	elapsed = time.perf_counter() - began
	assert total == 13 * SHOP_WEEK_S
	assert elapsed < 0.05
	# and 30 years takes no longer: whole weeks count at once
	began = time.perf_counter()
	assert hours.business_seconds(start, start + timedelta(weeks=52 * 30), SHOP) == 52 * 30 * SHOP_WEEK_S
	assert time.perf_counter() - began < 0.05


def minute_by_minute(start: datetime, end: datetime, ranges) -> float:
	"""The slow obvious count, for minute-aligned spans."""
	total, t = 0, start
	while t < end:
		total += 60 if hours.is_open(t, ranges) else 0
		t += timedelta(minutes=1)
	return total


def test_business_seconds_agree_with_counting_minute_by_minute():
	rng = random.Random(21)
	for _ in range(25):
		start = at(0, "00:00") + timedelta(minutes=rng.randrange(0, 14 * 24 * 60))
		end = start + timedelta(minutes=rng.randrange(0, 10 * 24 * 60))
		assert hours.business_seconds(start, end, SHOP) == minute_by_minute(start, end, SHOP), (start, end)


def test_wall_clock_hours_ignore_daylight_saving_time():
	# 2025-03-30 was the EU's spring-forward Sunday: a naive wall-clock day still has its 24 hours of hours
	always = hours.checked_ranges(rows(("Sunday", "00:00", "24:00")))
	sunday = datetime(2025, 3, 30)
	assert hours.business_seconds(sunday, sunday + timedelta(days=1), always) == 24 * 3600
	assert hours.is_open(datetime(2025, 3, 30, 2, 30), always)  # a time the clocks skipped, still a time


def test_next_open_is_now_when_open_else_the_next_opening():
	assert hours.next_open(at(0, "10:00"), SHOP) == at(0, "10:00")
	assert hours.next_open(at(0, "07:00"), SHOP) == at(0, "09:00")
	assert hours.next_open(at(0, "13:00"), SHOP) == at(0, "14:00")
	assert hours.next_open(at(4, "18:00"), SHOP) == at(5, "10:00")  # Friday evening: Saturday
	assert hours.next_open(at(5, "14:00"), SHOP) == at(7, "09:00")  # Saturday afternoon: Monday
	assert hours.next_open(at(6, "23:59"), SHOP) == at(7, "09:00")
	assert hours.next_open(at(4, "18:30"), OFFICE) == at(7, "09:00")
	only_monday = hours.checked_ranges(rows(("Monday", "09:00", "10:00")))
	assert hours.next_open(at(0, "10:00"), only_monday) == at(7, "09:00")  # a whole week ahead


def away(t, *, new=False, sent_on=None, greeting=True, away_message=True, ranges=SHOP):
	return hours.auto_reply(
		t, ranges, is_new=new, away_sent_on=sent_on, has_greeting=greeting, has_away=away_message
	)


def test_outside_hours_a_conversation_gets_the_away_message_once_a_day():
	night = at(1, "22:00")
	assert away(night) == "away"
	assert away(night + timedelta(minutes=5), sent_on=night.date()) is None  # already told tonight
	assert away(at(2, "07:00"), sent_on=night.date()) == "away"  # a new day
	assert away(at(6, "11:00"), sent_on=at(5, "23:00").date()) == "away"  # Sunday, after Saturday night's


def test_a_new_conversation_outside_hours_gets_only_the_away_message():
	assert away(at(6, "11:00"), new=True) == "away"
	# told already today: still no greeting on top of it
	assert away(at(6, "11:30"), new=True, sent_on=at(6, "11:00").date()) is None


def test_in_hours_a_new_conversation_gets_the_greeting_and_an_old_one_nothing():
	assert away(at(0, "10:00"), new=True) == "greeting"
	assert away(at(0, "10:00"), new=False) is None
	assert away(at(0, "10:00"), new=True, greeting=False) is None


def test_without_an_away_message_the_greeting_still_greets_at_night():
	assert away(at(1, "22:00"), new=True, away_message=False) == "greeting"
	assert away(at(1, "22:00"), new=False, away_message=False) is None


def test_without_hours_no_away_message_is_ever_due():
	assert away(at(6, "03:00"), ranges=[]) is None
	assert away(at(6, "03:00"), new=True, ranges=[]) == "greeting"


# -- snoozing -------------------------------------------------------------------------------------------

FRIDAY_NIGHT = at(4, "21:15")
SUNDAY = at(6, "16:40")


def test_snooze_presets_are_the_menu():
	assert snooze.PRESETS == ("1h", "3h", "tomorrow", "next_week", "reply")


def test_an_hour_or_three_from_now_whatever_the_hours():
	assert snooze.until("1h", FRIDAY_NIGHT, SHOP) == at(4, "22:15")
	assert snooze.until("3h", FRIDAY_NIGHT, SHOP) == at(5, "00:15")


def test_tomorrow_is_the_next_days_first_opening():
	assert snooze.until("tomorrow", at(1, "11:00"), SHOP) == at(2, "09:00")
	assert snooze.until("tomorrow", FRIDAY_NIGHT, SHOP) == at(5, "10:00")  # Saturday opens at 10
	assert snooze.until("tomorrow", FRIDAY_NIGHT, []) == at(5, "09:00")  # no hours: 09:00
	assert snooze.until("tomorrow", SUNDAY, SHOP) == at(7, "09:00")


def test_tomorrow_on_a_friday_for_an_office_closed_at_weekends_is_monday():
	assert snooze.until("tomorrow", FRIDAY_NIGHT, OFFICE) == at(7, "09:00")


def test_next_week_is_the_coming_mondays_opening():
	assert snooze.until("next_week", FRIDAY_NIGHT, SHOP) == at(7, "09:00")
	assert snooze.until("next_week", SUNDAY, []) == at(7, "09:00")
	assert snooze.until("next_week", at(0, "08:00"), SHOP) == at(7, "09:00")  # on a Monday: the next one
	early = hours.checked_ranges(rows(("Monday", "07:30", "15:00")))
	assert snooze.until("next_week", FRIDAY_NIGHT, early) == at(7, "07:30")


def test_until_they_reply_has_no_time_and_unknown_presets_are_refused():
	assert snooze.until("reply", SUNDAY, SHOP) is None
	assert snooze.until(" Tomorrow ", SUNDAY, SHOP) == at(7, "09:00")
	with pytest.raises(errors.UnknownSnooze) as caught:
		snooze.until("2h", SUNDAY)
	assert caught.value.code == "UNKNOWN_SNOOZE" and caught.value.context["preset"] == "2h"


def test_a_snooze_in_the_past_or_over_a_year_ahead_is_refused():
	now = at(2, "12:00")
	with pytest.raises(errors.SnoozeInPast):
		snooze.checked_until(now - timedelta(minutes=1), now)
	with pytest.raises(errors.SnoozeInPast):
		snooze.checked_until(now, now)
	assert snooze.checked_until(now + timedelta(seconds=1), now) == now + timedelta(seconds=1)
	assert snooze.checked_until(now + timedelta(days=366), now) == now + timedelta(days=366)
	with pytest.raises(errors.SnoozeTooFar) as caught:
		snooze.checked_until(now + timedelta(days=366, seconds=1), now)
	assert caught.value.code == "SNOOZE_TOO_FAR" and caught.value.context["limit_days"] == 366


@pytest.mark.parametrize(
	("value", "expected"),
	[
		("2025-03-07 17:30", datetime(2025, 3, 7, 17, 30)),
		("2025-03-07 17:30:15", datetime(2025, 3, 7, 17, 30, 15)),
		("2025-03-07T17:30", datetime(2025, 3, 7, 17, 30)),  # a datetime-local input
		(" 2025-03-07 17:30:15.250000 ", datetime(2025, 3, 7, 17, 30, 15, 250000)),
		("tomorrow", datetime(2025, 3, 6, 9, 0)),
		("reply", None),
		(datetime(2025, 4, 1, 8, 0), datetime(2025, 4, 1, 8, 0)),
	],
)
def test_a_snooze_choice_is_a_preset_or_a_date_and_time(value, expected):
	assert snooze.parse(value, at(2, "12:00"), SHOP) == expected


@pytest.mark.parametrize(
	"value", ["", "soon", "2025-03-07", "07/03/2025 17:30", "2025-02-30 10:00", "2025-03-07 25:00", None]
)
def test_a_snooze_choice_that_is_neither_is_refused(value):
	with pytest.raises(errors.InvalidTime) as caught:
		snooze.parse(value, at(2, "12:00"), SHOP)
	assert caught.value.code == "INVALID_TIME" and caught.value.field == "snoozed_until"


def test_a_parsed_time_is_checked_too():
	now = at(2, "12:00")
	with pytest.raises(errors.SnoozeInPast):
		snooze.parse("2025-03-05 11:59", now)
	with pytest.raises(errors.SnoozeTooFar):
		snooze.parse("2026-03-07 12:00", now)
	with pytest.raises(errors.InvalidTime):  # not the wall clock: a time zone where none is expected
		snooze.parse(datetime(2025, 4, 1, tzinfo=timezone.utc), now)


# -- files ----------------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
GIF = b"GIF89a\x10\x00\x10\x00\x80\x00\x00"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"
BMP = b"BM\x36\x04\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00"
TIFF = b"II*\x00\x08\x00\x00\x00\x0e\x00"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>"
DOCX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml"
ODT = b"PK\x03\x04\x14\x00\x00\x08\x00\x00mimetypeapplication/vnd.oasis.opendocument.text"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + b"\x3e\x00\x03\x00"
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
M4A = b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A isom"
THREE_GP = b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x003gp4"
OGG = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13OpusHead"
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x01\x00TIT2"
MP3_FRAME = b"\xff\xfb\x90\x64\x00\x00\x00\x00"  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
AAC = b"\xff\xf1\x50\x80\x02\x1f\xfc"  # ADTS
AMR = b"#!AMR\n\x3c\x48\xf5\x1f"
WAV = b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + b"\x00" * 40 + b"PE\x00\x00"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8
TEXT = b"name,phone\nAna,+34600111222\n"


@pytest.mark.parametrize(
	("head", "expected"),
	[
		(PNG, "image/png"),
		(JPEG, "image/jpeg"),
		(GIF, "image/gif"),
		(WEBP, "image/webp"),
		(BMP, "image/bmp"),
		(TIFF, "image/tiff"),
		(HEIC, "image/heic"),
		(PDF, "application/pdf"),
		(b"\xef\xbb\xbf\r\n%PDF-1.4\n", "application/pdf"),
		(DOCX, "application/zip"),
		(ODT, "application/zip"),
		(OLE2, "application/x-ole-storage"),
		(MP4, "video/mp4"),
		(M4A, "audio/mp4"),
		(THREE_GP, "video/3gpp"),
		(OGG, "audio/ogg"),
		(MP3_ID3, "audio/mpeg"),
		(MP3_FRAME, "audio/mpeg"),
		(AAC, "audio/aac"),
		(AMR, "audio/amr"),
		(WAV, "audio/wav"),
		(EXE, "application/x-msdownload"),
		(ELF, "application/x-executable"),
	],
)
def test_sniff_knows_each_type_by_its_first_bytes(head, expected):
	assert files.sniff(head) == expected
	assert files.sniff(head + b"\x00" * 4000) == expected  # whatever follows


@pytest.mark.parametrize(
	"head",
	[
		b"",
		TEXT,
		b"MZ,Mozambique,+258\n",  # a CSV, not a program
		"name\tphone\n".encode("utf-16"),  # Excel's Unicode text: its byte order mark is no MP3 frame
		b"This text talks about %PDF-1.7 files",
		b"\xff\xff\xff\xff",
	],
)
def test_sniff_finds_nothing_in_text_or_noise(head):
	assert files.sniff(head) is None


@pytest.mark.parametrize(
	("head", "name", "declared", "kind", "mimetype"),
	[
		(JPEG, "photo.jpg", "image/jpeg", "image", "image/jpeg"),
		(JPEG, "photo.JPEG", "image/jpg", "image", "image/jpeg"),
		(PNG, "logo.png", None, "image", "image/png"),
		(WEBP, "sticker.webp", "image/webp", "sticker", "image/webp"),
		(OGG, "voice.ogg", "audio/ogg; codecs=opus", "audio", "audio/ogg"),
		(MP3_ID3, "song.mp3", "audio/mpeg", "audio", "audio/mpeg"),
		(MP3_FRAME, "song.mp3", "audio/mp3", "audio", "audio/mpeg"),
		(AAC, "note.aac", None, "audio", "audio/aac"),
		(AMR, "memo.amr", None, "audio", "audio/amr"),
		(M4A, "voice.m4a", "audio/x-m4a", "audio", "audio/mp4"),
		(MP4, "voice.m4a", None, "audio", "audio/mp4"),  # an m4a with a plain MP4 brand is still sound
		(MP4, "clip.mp4", "video/mp4", "video", "video/mp4"),
		(THREE_GP, "clip.3gp", "audio/3gpp", "video", "video/3gpp"),
		(PDF, "invoice.pdf", "application/pdf", "document", "application/pdf"),
		(PDF, "C:\\fakepath\\invoice.pdf", "", "document", "application/pdf"),
		(
			DOCX,
			"contract.docx",
			"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
			"document",
			"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		),
		(ODT, "letter.odt", None, "document", "application/vnd.oasis.opendocument.text"),
		(OLE2, "old.doc", "application/msword", "document", "application/msword"),
		(OLE2, "budget.xls", None, "document", "application/vnd.ms-excel"),
		(TEXT, "list.csv", "application/vnd.ms-excel", "document", "text/csv"),  # Windows' name for a .csv
		(TEXT, "notes.txt", "text/plain", "document", "text/plain"),
		(GIF, "party.gif", "image/gif", "document", "image/gif"),  # not shown inline by WhatsApp
		(HEIC, "IMG_0001.HEIC", "image/heic", "document", "image/heic"),
		(TIFF, "scan.tiff", None, "document", "image/tiff"),
		(BMP, "paint.bmp", None, "document", "image/bmp"),
		(WAV, "take1.wav", "audio/wav", "document", "audio/wav"),
		(
			b"\x00\x01\x02 payload",
			"data.xyz",
			"application/octet-stream",
			"document",
			"application/octet-stream",
		),
	],
)
def test_files_whose_name_type_and_bytes_agree_are_sent_as_their_kind(head, name, declared, kind, mimetype):
	check = files.checked_file(head, 1234, name, declared)
	assert (check.kind, check.mimetype, check.size) == (kind, mimetype, 1234)
	assert check.filename == name.rsplit("\\", 1)[-1]
	assert files.mimetype_of(check.filename) in (mimetype, "application/octet-stream")


def test_a_file_the_name_does_not_type_is_typed_by_its_bytes_and_named_so():
	check = files.checked_file(PDF, 100, "scan", None)
	assert (check.kind, check.mimetype, check.filename) == ("document", "application/pdf", "scan.pdf")
	declared = files.checked_file(PDF, 100, "report.final", "application/pdf")
	assert (declared.mimetype, declared.filename) == ("application/pdf", "report.final.pdf")


def test_an_image_or_sound_whose_bytes_name_another_format_is_sent_and_named_as_that_format():
	png = files.checked_file(PNG, 100, "photo.jpg", "image/jpeg")
	assert (png.kind, png.mimetype, png.filename) == ("image", "image/png", "photo.png")
	gif = files.checked_file(GIF, 100, "photo.jpg", "image/jpeg")
	assert (gif.kind, gif.mimetype, gif.filename) == ("document", "image/gif", "photo.gif")
	aac = files.checked_file(AAC, 100, "song.mp3", "audio/mpeg")
	assert (aac.kind, aac.mimetype, aac.filename) == ("audio", "audio/aac", "song.aac")


@pytest.mark.parametrize(
	("name", "mimetype"),
	[
		("photo.JPG", "image/jpeg"),
		("voice.opus", "audio/ogg"),
		("budget.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
		("archive.tar.gz", "application/octet-stream"),
		("README", "application/octet-stream"),
		("", "application/octet-stream"),
		(None, "application/octet-stream"),
	],
)
def test_a_stored_files_type_is_read_from_its_name_alone(name, mimetype):
	assert files.mimetype_of(name) == mimetype


@pytest.mark.parametrize(
	("head", "name", "declared"),
	[
		(PDF, "logo.png", "image/png"),  # the name says image, the bytes PDF
		(PNG, "invoice.pdf", "application/pdf"),
		(TEXT, "invoice.pdf", None),  # a PDF must start %PDF
		(OLE2, "contract.docx", None),  # an office zip that is not a zip
		(DOCX, "old.doc", None),  # an OLE2 document that is a zip
		(PNG, "notes.txt", "text/plain"),  # text with an image's bytes
		(JPEG, "clip.mp4", "video/mp4"),
		(PDF, "song.mp3", None),
		(TEXT, "voice.ogg", None),
		(PDF, "photo", "image/png"),  # no extension: the declared type is the claim
		(PDF, "invoice.pdf", "image/png"),  # the name is right, the declared type lies
	],
)
def test_a_file_that_lies_about_its_type_is_refused(head, name, declared):
	with pytest.raises(errors.FileTypeMismatch) as caught:
		files.checked_file(head, 1000, name, declared)
	assert caught.value.code == "FILE_TYPE_MISMATCH" and caught.value.field == "file"
	assert caught.value.context["detected"] == files.sniff(head)


@pytest.mark.parametrize(
	("head", "name", "declared"),
	[
		(EXE, "invoice.pdf", "application/pdf"),  # a program renamed .pdf
		(EXE, "photo.jpg", "image/jpeg"),
		(ELF, "notes.txt", "text/plain"),
		(EXE, "file", None),
		(TEXT, "invoice.pdf.exe", None),
		(TEXT, "SETUP.EXE", None),
		(TEXT, "invoice.exe. ", None),  # Windows drops trailing dots and spaces
		(TEXT, "file.bin", "application/x-msdownload"),
		(TEXT, "run", "application/x-sh"),
		*[(TEXT, f"script.{ext}", None) for ext in files.BLOCKED_EXTENSIONS],
	],
)
def test_programs_and_scripts_are_refused_whatever_they_are_called(head, name, declared):
	with pytest.raises(errors.FileTypeNotAllowed) as caught:
		files.checked_file(head, 1000, name, declared)
	assert caught.value.code == "FILE_TYPE_NOT_ALLOWED"


def test_the_blocked_extensions_are_those_of_programs_and_scripts():
	assert set(files.BLOCKED_EXTENSIONS) == {
		"exe",
		"bat",
		"cmd",
		"com",
		"scr",
		"msi",
		"js",
		"vbs",
		"ps1",
		"sh",
		"jar",
		"dll",
	}


@pytest.mark.parametrize("size", [0, -1])
def test_an_empty_file_is_refused(size):
	with pytest.raises(errors.EmptyFile) as caught:
		files.checked_file(b"", size, "invoice.pdf", "application/pdf")
	assert caught.value.code == "EMPTY_FILE"


@pytest.mark.parametrize(
	("head", "name", "kind", "limit"),
	[
		(JPEG, "photo.jpg", "image", 5 * MB),
		(WEBP, "sticker.webp", "sticker", 500 * KB),
		(OGG, "voice.ogg", "audio", 16 * MB),
		(MP4, "clip.mp4", "video", 16 * MB),
		(PDF, "manual.pdf", "document", 16 * MB),
	],
)
def test_each_kind_has_its_size_limit(head, name, kind, limit):
	assert files.checked_file(head, limit, name, None).kind == kind  # up to the limit itself
	with pytest.raises(errors.FileTooLarge) as caught:
		files.checked_file(head, limit + 1, name, None)
	e = caught.value
	assert e.code == "FILE_TOO_LARGE" and (e.context["limit"], e.context["kind"]) == (limit, kind)


def test_documents_stop_at_the_gateways_limit_not_whatsapps():
	assert files.WHATSAPP_LIMITS["document"] == 100 * MB
	assert files.LIMITS["document"] == MAX_MEDIA_BYTES == 16 * MB


def test_a_gif_too_large_for_an_image_goes_as_a_document():
	check = files.checked_file(GIF, 6 * MB, "party.gif", "image/gif")
	assert (check.kind, check.size) == ("document", 6 * MB)


def test_the_page_gets_every_limit_and_the_blocked_extensions():
	assert files.limits() == {
		"image": 5 * MB,
		"sticker": 500 * KB,
		"audio": 16 * MB,
		"video": 16 * MB,
		"document": 16 * MB,
		"blocked_extensions": list(files.BLOCKED_EXTENSIONS),
	}


@pytest.mark.parametrize(
	("mimetype", "kind"),
	[
		("image/jpeg", "image"),
		("IMAGE/PNG", "image"),
		("image/jpg", "image"),
		("image/webp", "sticker"),
		("audio/ogg; codecs=opus", "audio"),
		("audio/mpeg", "audio"),
		("video/mp4", "video"),
		("video/3gpp", "video"),
		("image/gif", "document"),
		("application/pdf", "document"),
		("audio/wav", "document"),
		("", "document"),
		(None, "document"),
	],
)
def test_inbound_files_are_shown_as_their_kind(mimetype, kind):
	assert files.kind_of(mimetype) == kind


# -- statistics -----------------------------------------------------------------------------------------


def test_percentiles_interpolate_between_the_closest_ranks():
	assert stats.percentile([], 50) is None
	assert stats.percentile([None], 50) is None
	assert stats.percentile([42], 90) == 42
	assert stats.percentile([4, 1, 3, 2], 50) == 2.5
	assert stats.percentile(range(1, 11), 90) == pytest.approx(9.1)  # rank 8.1: 9 + 0.1 * (10 - 9)
	assert stats.percentile([15, 20, 35, 40, 50], 40) == pytest.approx(29)  # rank 1.6: 20 + 0.6 * 15
	assert stats.percentile([3, 1, 2], 0) == 1 and stats.percentile([3, 1, 2], 100) == 3
	with pytest.raises(ValueError):
		stats.percentile([1, 2], 101)


def test_a_summary_gives_count_median_and_p90_leaving_unanswered_out():
	assert stats.summary([60, 120, None, 30, 600, 90]) == {
		"count": 5,
		"median": 90,
		"p90": pytest.approx(408),  # rank 3.6 of 30, 60, 90, 120, 600: 120 + 0.6 * 480
	}
	assert stats.summary([]) == {"count": 0, "median": None, "p90": None}
	assert stats.summary(iter([10, 20])) == {"count": 2, "median": 15, "p90": 19}


# -- quick replies --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
	("code", "expected"),
	[
		("prices", "prices"),
		("/Prices ", "prices"),
		("hola_1", "hola_1"),
		("9-am", "9-am"),
		("a" * 30, "a" * 30),
	],
)
def test_a_quick_reply_code_is_stored_lowercase_without_its_slash(code, expected):
	assert quick_replies.checked_code(code) == expected


@pytest.mark.parametrize("code", ["", "/", "   ", "-abc", "_x", "two words", "ñandú", "a.b", "a" * 31, None])
def test_a_code_that_is_not_one_word_of_30_is_refused(code):
	with pytest.raises(errors.BadQuickReplyCode) as caught:
		quick_replies.checked_code(code)
	assert caught.value.code == "BAD_QUICK_REPLY_CODE" and caught.value.field == "code"


def test_a_quick_reply_text_follows_the_placeholder_rules_and_whatsapps_limit():
	assert quick_replies.checked_text("Hola {first_name}", ["first_name"]) == "Hola {first_name}"
	assert quick_replies.checked_text("x" * 4096, []) == "x" * 4096
	with pytest.raises(sending_errors.TextTooLong) as caught:
		quick_replies.checked_text("x" * 5000, [])
	assert caught.value.code == "TEXT_TOO_LONG"
	with pytest.raises(sending_errors.UnknownPlaceholder):
		quick_replies.checked_text("Hola {nombre}", ["first_name"])


REPLIES = [
	{"code": "prices-2024", "title": "Old prices"},
	{"code": "hours", "title": "Opening hours"},
	{"code": "tarifa", "title": "Our PRices"},
	{"code": "precios", "title": "Precios"},
	{"code": "pr", "title": "Press kit"},
	{"code": "bye", "title": "Goodbye"},
]


def test_codes_starting_with_what_was_typed_come_first_then_those_holding_it():
	ranked = [r["code"] for r in quick_replies.rank("pr", REPLIES)]
	assert ranked == ["pr", "precios", "prices-2024", "tarifa"]
	assert [r["code"] for r in quick_replies.rank("/PR", REPLIES)] == ranked
	assert [r["code"] for r in quick_replies.rank("ours", REPLIES)] == ["hours"]
	assert quick_replies.rank("zzz", REPLIES) == []


def test_with_nothing_typed_every_reply_is_offered_shortest_code_first_at_most_20():
	assert [r["code"] for r in quick_replies.rank("", REPLIES)] == [
		"pr",
		"bye",
		"hours",
		"tarifa",
		"precios",
		"prices-2024",
	]
	many = [{"code": f"r{i:02d}", "title": ""} for i in range(30)]
	offered = quick_replies.rank("r", many)
	assert len(offered) == 20 and offered[0]["code"] == "r00"
