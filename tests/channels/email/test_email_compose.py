"""Our replies carry the headers that thread them, and read back the same."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.base import AttachmentData, Channel, Reply, ReplyButton
from channels.email.compose import compose_reply, make_message_id, reply_subject
from channels.email.parse import parse_email

NOW = datetime(2025, 4, 5, 12, 0, tzinfo=UTC)


def reply(**changes: object) -> Reply:
    values: dict[str, object] = {
        "channel": Channel.EMAIL,
        "recipient": "budi.santoso@gmail.com",
        "text": "Yth. Bapak Budi,\n\nSyarat NIB: KTP & NPWP <asli>.\nInfo: https://oss.go.id/\n",
        "idempotency_key": "outbox-17",
        "ticket_number": "PTSP-000456",
        "subject": "Izin usaha mikro",
        "message_id": "tanya.1955.abc@ptsp.jakarta.go.id",
        "in_reply_to": "CAPx7Z9w=reply-budi-0305@mail.gmail.com",
        "references": ("first@mail.gmail.com",),
    }
    values.update(changes)
    return Reply(**values)  # type: ignore[arg-type]


def test_round_trip_threading_headers() -> None:
    message = compose_reply(reply(), from_address="konsultasi@ptsp.jakarta.go.id", from_name="PTSP")
    back = parse_email(message.as_bytes(), now=NOW)
    assert back.external_id == "tanya.1955.abc@ptsp.jakarta.go.id"
    assert back.sender.value == "konsultasi@ptsp.jakarta.go.id"
    assert back.sender.name == "PTSP"
    assert back.meta["to"] == ["budi.santoso@gmail.com"]
    assert back.subject == "Re: [PTSP-000456] Izin usaha mikro"
    assert back.thread.ticket_number == "PTSP-000456"
    assert back.thread.reply_to_ids == (
        "CAPx7Z9w=reply-budi-0305@mail.gmail.com",
        "first@mail.gmail.com",
    )
    assert message["References"] == (
        "<first@mail.gmail.com> <CAPx7Z9w=reply-budi-0305@mail.gmail.com>"
    )
    assert "Syarat NIB: KTP & NPWP <asli>." in back.text
    assert "&lt;asli&gt;" in (back.html or "")
    assert '<a href="https://oss.go.id/"' in (back.html or "")
    assert not back.automated
    assert message["Auto-Submitted"] is None


def test_automatic_answer_is_marked_and_survives_parsing() -> None:
    message = compose_reply(reply(automatic=True), from_address="konsultasi@ptsp.jakarta.go.id")
    assert message["Auto-Submitted"] == "auto-replied"
    assert parse_email(message.as_bytes(), now=NOW).automated


def test_subject_tag_added_once() -> None:
    assert reply_subject(reply(subject="Re: [PTSP-000456] Izin usaha mikro")) == (
        "Re: [PTSP-000456] Izin usaha mikro"
    )
    assert reply_subject(reply(subject="RE: Re: Izin")) == "Re: [PTSP-000456] Izin"
    assert reply_subject(reply(subject=None, in_reply_to=None, references=())) == "[PTSP-000456]"
    new = reply(subject="Jawaban pertanyaan Anda", in_reply_to=None, references=())
    assert reply_subject(new) == "[PTSP-000456] Jawaban pertanyaan Anda"


def test_feedback_buttons_become_links_in_both_parts() -> None:
    buttons = (
        ReplyButton("Ya, terjawab", "fb:yes", "https://ptsp.example/f/abc?v=yes&s=1"),
        ReplyButton("Belum", "fb:no", "https://ptsp.example/f/abc?v=no&s=1"),
    )
    message = compose_reply(reply(buttons=buttons), from_address="k@ptsp.example")
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text_part is not None and html_part is not None
    text = text_part.get_content()
    assert "Ya, terjawab: https://ptsp.example/f/abc?v=yes&s=1" in text
    html = html_part.get_content()
    assert 'href="https://ptsp.example/f/abc?v=no&amp;s=1"' in html
    assert ">Belum</a>" in html


def test_given_html_is_used_and_attachments_are_added() -> None:
    attachment = AttachmentData("panduan NIB.pdf", "application/pdf", b"%PDF-1.4 test")
    message = compose_reply(
        reply(html="<p><b>Syarat</b> NIB</p>", attachments=(attachment,)),
        from_address="k@ptsp.example",
    )
    back = parse_email(message.as_bytes(), now=NOW)
    assert "<b>Syarat</b> NIB" in (back.html or "")
    assert [(a.filename, a.data) for a in back.attachments] == [
        ("panduan NIB.pdf", b"%PDF-1.4 test")
    ]


def test_message_id_helper() -> None:
    first, second = make_message_id("ptsp.jakarta.go.id"), make_message_id("ptsp.jakarta.go.id")
    assert first != second
    assert first.endswith("@ptsp.jakarta.go.id") and "<" not in first
    message = compose_reply(reply(message_id=None), from_address="k@ptsp.example")
    assert str(message["Message-ID"]).endswith("@ptsp.example>")


def test_non_ascii_names_are_encoded() -> None:
    message = compose_reply(reply(sender_name="Petugas Śri – PTSP"), from_address="k@ptsp.example")
    back = parse_email(message.as_bytes(), now=NOW)
    assert back.sender.name == "Petugas Śri – PTSP"
