"""Every sample mail becomes an inquiry a consultant can read, or a quarantine reason."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.base import Channel, IdentityKind, Inquiry, InvalidInput
from channels.email.ids import derived_message_id
from channels.email.parse import parse_email

DATA = Path(__file__).resolve().parents[2] / "data" / "email"
NOW = datetime(2025, 4, 5, 12, 0, tzinfo=UTC)
FIXTURES = sorted(DATA.glob("*.eml"))
INVALID = {
    "22-no-from.eml": "no usable sender",
    "30-no-usable-sender.eml": "no usable sender",
    "31-garbage.eml": "unparseable",
}


def parse(name: str, **kwargs: int) -> Inquiry:
    return parse_email((DATA / name).read_bytes(), now=NOW, raw_ref=f"uid:{name}", **kwargs)


def test_there_are_at_least_25_real_world_samples() -> None:
    assert len(FIXTURES) >= 25


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_each_sample_becomes_an_inquiry_or_a_reason(path: Path) -> None:
    if path.name in INVALID:
        with pytest.raises(InvalidInput) as caught:
            parse_email(path.read_bytes(), now=NOW)
        assert INVALID[path.name] in caught.value.reason
        return
    inquiry = parse_email(path.read_bytes(), now=NOW, max_attachment_bytes=50_000)
    assert inquiry.channel is Channel.EMAIL
    assert inquiry.sender.kind is IdentityKind.EMAIL
    assert inquiry.sender.value == inquiry.sender.value.lower()
    assert "@" in inquiry.sender.value
    assert inquiry.external_id and "<" not in inquiry.external_id
    assert inquiry.received_at.tzinfo is not None
    assert inquiry.received_at.utcoffset() == UTC.utcoffset(None)
    assert inquiry.text or inquiry.attachments
    json.dumps(dict(inquiry.meta))  # the core stores meta as JSON
    for value in (inquiry.text, inquiry.subject or "", inquiry.sender.name or ""):
        assert "\x00" not in value
        assert not re.search("[\ud800-\udfff]", value), "lone surrogates cannot be stored"


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_no_script_handler_or_javascript_link_survives(path: Path) -> None:
    try:
        inquiry = parse_email(path.read_bytes(), now=NOW)
    except InvalidInput:
        return
    html = (inquiry.html or "").lower()
    assert "<script" not in html
    assert "javascript:" not in html
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert "<iframe" not in html


def test_html_only_mail_is_readable_and_safe() -> None:
    inquiry = parse("13-html-only-script.eml")
    assert "cek status di sini" in inquiry.text
    assert "document.cookie" not in inquiry.text
    assert "https://oss.go.id/informasi" in (inquiry.html or "")
    assert "alert" not in (inquiry.html or "")


def test_gmail_alternative_prefers_the_plain_part() -> None:
    inquiry = parse("01-gmail-alternative-utf8.eml")
    assert inquiry.sender.value == "siti.rahma87@gmail.com"
    assert inquiry.sender.name == "Siti Rahma"
    assert inquiry.external_id == "CAJ8fK2x9Qm3Lz0pWv1u7N5bT4yR6sE2dA8cF0gH1iJ@mail.gmail.com"
    assert inquiry.text.startswith("Selamat pagi Bapak/Ibu petugas PTSP,")
    assert "Kebayoran Baru" in inquiry.text
    assert inquiry.received_at == datetime(2025, 3, 3, 2, 14, 22, tzinfo=UTC)
    assert inquiry.raw_ref == "uid:01-gmail-alternative-utf8.eml"
    assert not inquiry.automated


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("02-outlook-reply-windows1252.eml", "Dokumen “gambar teknis” sudah saya unggah – biaya"),
        ("04-iso-8859-1-8bit.eml", "membuka café kecil di Kemang"),
        ("04-iso-8859-1-8bit.eml", "crème brûlée"),
        ("05-windows-1252-qp-smartquotes.eml", "Berapa biaya “retribusi” untuk reklame 3×6 meter?"),
        ("05-windows-1252-qp-smartquotes.eml", "Terima kasih…"),
        ("19-unknown-8bit.eml", "diurus secara daring – tanpa datang"),
        ("29-wrong-declared-charset.eml", "izin untuk café “kecil”?"),
    ],
)
def test_charsets_decode_to_the_right_text(name: str, expected: str) -> None:
    assert expected in parse(name).text


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("04-iso-8859-1-8bit.eml", "Izin café di Kemang"),
        ("06-rfc2047-b-subject.eml", "Permohonan SIUP – dibantu ✔"),
        ("19-unknown-8bit.eml", "Izin usaha – pertanyaan"),
        ("29-wrong-declared-charset.eml", "Biaya izin café"),
        ("32-missing-date-multipart-qp-html.eml", "Izin lokasi – butuh bantuan"),
    ],
)
def test_encoded_subjects(name: str, subject: str) -> None:
    assert parse(name).subject == subject


def test_encoded_display_names() -> None:
    assert parse("04-iso-8859-1-8bit.eml").sender.name == "René Pardede"
    assert parse("06-rfc2047-b-subject.eml").sender.name == "Agus Setiawan – Toko Maju"
    assert parse("19-unknown-8bit.eml").sender.name == "Muñiz"


def test_backslashes_in_8bit_utf8_stay_literal() -> None:
    text = parse("21-8bit-backslash-paths.eml").text
    assert "C:\\new\\tugas.pdf" in text
    assert "D:\\data\\template\\surat.docx" in text
    assert "\t" not in text


def test_gmail_reply_in_indonesian_keeps_only_the_new_words() -> None:
    inquiry = parse("03-gmail-reply-pada-menulis.eml")
    assert inquiry.text == (
        "Baik pak, terima kasih. Besok saya datang ke Mal Pelayanan Publik lantai 2 "
        "membawa KTP asli."
    )
    assert "menulis:" in inquiry.meta["full_text"]
    assert "> Yth. Bapak Budi," in inquiry.meta["full_text"]


def test_outlook_reply_headers_block_is_cut() -> None:
    inquiry = parse("02-outlook-reply-windows1252.eml")
    assert inquiry.text.endswith("Hormat saya,\nHendra")
    assert "Sent:" not in inquiry.text
    assert "diverifikasi" in inquiry.meta["full_text"]


def test_outlook_original_message_separator_is_cut() -> None:
    text = parse("23-outlook-original-message.eml").text
    assert text.endswith("Regards,\nAdmin")
    assert "Original Message" not in text


def test_signatures_are_cut() -> None:
    assert parse("24-indonesian-signature.eml").text.endswith("ucapkan terima kasih.")
    assert parse("25-sent-from-my-iphone.eml").text == (
        "brp lama proses pbg rumah tinggal 2 lantai? udh submit dr tgl 1"
    )


def test_html_quote_is_cut_from_the_text() -> None:
    inquiry = parse("32-missing-date-multipart-qp-html.eml")
    assert inquiry.text == (
        "Selamat siang,\n\nBagaimana cara mengurus izin lokasi?\nLokasi: Jl. Kenanga No. 5"
    )
    assert inquiry.received_at == NOW  # no Date header


def test_thread_hints_newest_first_and_ticket_tag() -> None:
    inquiry = parse("02-outlook-reply-windows1252.eml")
    assert inquiry.thread.reply_to_ids == (
        "tanya.19553a2b1c4.9f8e7d6c5b4a3921@ptsp.jakarta.go.id",
        "CAJ8fK2x9Qm3Lz0pWv1u7N5bT4yR6sE2dA8cF0gH1iJ@mail.gmail.com",
    )
    assert inquiry.thread.ticket_number == "PTSP-000123"
    assert inquiry.meta["in_reply_to"] == ["tanya.19553a2b1c4.9f8e7d6c5b4a3921@ptsp.jakarta.go.id"]
    assert parse("01-gmail-alternative-utf8.eml").thread.ticket_number is None


def test_missing_message_id_gets_a_stable_derived_id() -> None:
    raw = (DATA / "11-no-message-id.eml").read_bytes()
    first = parse_email(raw, now=NOW)
    second = parse_email(raw, now=datetime(2030, 1, 1, tzinfo=UTC))
    assert first.external_id == second.external_id == derived_message_id(raw)
    assert first.sender.name is None


@pytest.mark.parametrize(
    "name",
    [
        "14-auto-reply-auto-submitted.eml",
        "15-auto-reply-x-autoreply.eml",
        "16-precedence-bulk.eml",
        "17-mailing-list.eml",
        "18-dsn-bounce.eml",
        "28-dsn-rfc822-headers.eml",
        "33-x-auto-response-suppress.eml",
    ],
)
def test_automatic_mail_is_marked_automated(name: str) -> None:
    assert parse(name).automated


def test_resident_mail_is_not_automated() -> None:
    for name in ("01-gmail-alternative-utf8.eml", "03-gmail-reply-pada-menulis.eml"):
        assert not parse(name).automated


def test_bounce_names_our_message_and_the_reason() -> None:
    bounce = parse("18-dsn-bounce.eml").meta["bounce"]
    assert bounce["original_message_id"] == "tanya.1955a0b0c0d.0123456789abcdef@ptsp.jakarta.go.id"
    assert bounce["action"] == "failed"
    assert bounce["status"] == "5.1.1"
    assert bounce["reason"].startswith("550 5.1.1 <salah.ketik@gmial.com>: Recipient address")
    assert bounce["recipient"] == "salah.ketik@gmial.com"


def test_bounce_with_only_the_headers_returned() -> None:
    bounce = parse("28-dsn-rfc822-headers.eml").meta["bounce"]
    assert bounce["original_message_id"] == "tanya.1957c0ffee.feedfacecafebeef@ptsp.jakarta.go.id"
    assert bounce["reason"] == "552 5.2.2 Mailbox full"


def test_attachments_of_any_type_are_kept() -> None:
    pdf = parse("07-attachment-pdf.eml").attachments
    assert [(a.filename, a.content_type) for a in pdf] == [
        ("Surat Permohonan SLF.pdf", "application/pdf")
    ]
    assert pdf[0].data.startswith(b"%PDF-1.4")
    images = parse("08-attachments-gif-bmp.eml").attachments
    assert [a.filename for a in images] == ["papan.gif", "denah lokasi.bmp"]
    assert images[0].data.startswith(b"GIF89a")
    assert images[1].data.startswith(b"BM")


def test_inline_image_keeps_its_content_id() -> None:
    inquiry = parse("09-inline-image-cid.eml")
    (image,) = inquiry.attachments
    assert image.inline and image.content_id == "ii_m7x1y2z3"
    assert image.data.startswith(b"\xff\xd8")
    assert 'src="cid:ii_m7x1y2z3"' in (inquiry.html or "")


def test_forwarded_message_is_attached_as_eml() -> None:
    inquiry = parse("10-forwarded-rfc822.eml")
    (attached,) = inquiry.attachments
    assert attached.filename == "Pemberitahuan kekurangan berkas.eml"
    assert attached.content_type == "message/rfc822"
    assert b"Berkas permohonan Anda belum lengkap." in attached.data
    assert inquiry.text == "Mohon penjelasan maksud email di bawah, berkas apa yang kurang?"


def test_oversized_attachment_is_dropped_with_a_notice() -> None:
    inquiry = parse("26-oversized-attachment.eml", max_attachment_bytes=50_000)
    assert [a.filename for a in inquiry.attachments] == ["denah.gif"]
    assert inquiry.notices == (
        "Lampiran 'gambar-arsitek.dwg' (59 KB) tidak disimpan: melebihi batas 49 KB",
    )
    big = parse("26-oversized-attachment.eml", max_attachment_bytes=10 * 1024 * 1024)
    assert len(big.attachments) == 2 and not big.notices


def test_oversized_notice_in_megabytes() -> None:
    payload = b"x" * (12 * 1024 * 1024 + 350_000)
    raw = (
        b"From: a@example.com\r\nSubject: besar\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nlihat lampiran\r\n--b\r\n"
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="x.pdf"\r\n'
        b"\r\n" + payload + b"\r\n--b--\r\n"
    )
    inquiry = parse_email(raw, now=NOW, max_attachment_bytes=10 * 1024 * 1024)
    assert inquiry.notices == ("Lampiran 'x.pdf' (12,3 MB) tidak disimpan: melebihi batas 10 MB",)


def test_empty_body_part_with_attachment() -> None:
    inquiry = parse("20-empty-body-part.eml")
    assert inquiry.text == ""
    assert [a.filename for a in inquiry.attachments] == ["scan_0001.pdf"]
    # Reply-To names the resident; the scanner in From is only the messenger.
    assert inquiry.sender.value == "maya.sari@example.com"
    assert inquiry.sender.name == "Maya Sari"


def test_reply_to_wins_over_from() -> None:
    inquiry = parse("27-reply-to-web-form.eml")
    assert inquiry.sender.value == "andi.pratama@example.com"
    assert inquiry.sender.name == "Andi Pratama"


def test_broken_boundary_is_recovered() -> None:
    inquiry = parse("12-broken-boundary.eml")
    assert inquiry.text.startswith("Saya mau mengajukan izin keramaian")
    assert "Content-Type" not in inquiry.text
    assert "StartBoundaryNotFoundDefect" in inquiry.meta["defects"]


def test_meta_keeps_the_headers_worth_showing() -> None:
    meta = parse("17-mailing-list.eml").meta
    assert meta["message_id"] == "list.post.4455@lists.example.org"
    assert meta["to"] == ["forum-perizinan@lists.example.org"]
    assert meta["cc"] == ["konsultasi@ptsp.jakarta.go.id"]
    assert meta["list_id"].startswith("Forum Perizinan")
    assert meta["date"] == "Mon, 17 Mar 2025 07:00:00 +0700"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"   \r\n", "empty message"),
        (b"From: a@example.com\r\n\r\n", "empty message"),
        (b"From: not an address\r\nSubject: x\r\n\r\nhalo\r\n", "no usable sender"),
    ],
)
def test_unusable_mail_raises_invalid_input(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_email(raw, now=NOW)
    assert reason in caught.value.reason


def test_subject_only_mail_uses_the_subject_as_text() -> None:
    inquiry = parse_email(b"From: a@example.com\r\nSubject: jam buka?\r\n\r\n", now=NOW)
    assert inquiry.text == "jam buka?"


def test_date_in_the_far_future_is_not_trusted() -> None:
    raw = b"From: a@example.com\r\nDate: Fri, 1 Jan 2100 00:00:00 +0000\r\n\r\nhalo\r\n"
    assert parse_email(raw, now=NOW).received_at == NOW


def test_nul_bytes_and_lone_surrogates_are_removed() -> None:
    raw = b"From: =?utf-8?q?A=00B?= <a@example.com>\r\nSubject: x\xff\r\n\r\nha\x00lo \xff\r\n"
    inquiry = parse_email(raw, now=NOW)
    assert inquiry.text == "halo ÿ"
    assert not re.search(
        "[\ud800-\udfff\x00]", (inquiry.subject or "") + (inquiry.sender.name or "")
    )
