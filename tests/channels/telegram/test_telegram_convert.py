"""Updates as Telegram sends them become the inquiries residents would expect."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.base import Channel, IdentityKind, InvalidInput
from channels.telegram import START_GREETING, check_webhook_secret, update_to_event
from tests.channels.telegram.telegram_fakes import load_update


def test_private_text_becomes_an_inquiry_on_the_chat() -> None:
    event = update_to_event(load_update("text_private"))
    inquiry = event.inquiry
    assert inquiry is not None
    assert inquiry.channel is Channel.TELEGRAM
    assert inquiry.external_id == "281234567:211"
    assert inquiry.text == "gmn cara urus nib? sy mau buka warung makan"
    assert inquiry.sender.kind is IdentityKind.TELEGRAM
    assert inquiry.sender.value == "281234567"
    assert inquiry.sender.name == "Siti Rahmawati"
    assert inquiry.thread.conversation_id == "281234567"
    assert inquiry.received_at == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert inquiry.raw_ref == "update:734001001"


def test_same_update_gives_the_same_external_id() -> None:
    first = update_to_event(load_update("text_private")).inquiry
    again = update_to_event(load_update("text_private")).inquiry
    assert first is not None and again is not None
    assert first.external_id == again.external_id


def test_json_bytes_are_accepted_like_a_dict() -> None:
    raw = (
        b'{"update_id": 5, "message": {"message_id": 9, "date": 1795500000,'
        b' "chat": {"id": 42, "type": "private"},'
        b' "from": {"id": 42, "is_bot": false, "first_name": "", "username": "warga"},'
        b' "text": "halo"}}'
    )
    inquiry = update_to_event(raw).inquiry
    assert inquiry is not None
    assert inquiry.external_id == "42:9"
    assert inquiry.sender.name == "@warga"


def test_edited_message_is_a_distinct_marked_inquiry() -> None:
    original = update_to_event(load_update("text_private")).inquiry
    edited = update_to_event(load_update("edited_message")).inquiry
    assert original is not None and edited is not None
    assert edited.external_id == "281234567:211:edit:1795500045"
    assert edited.external_id != original.external_id
    assert edited.meta["edited"] is True
    assert edited.meta["original_external_id"] == original.external_id
    assert edited.thread.reply_to_ids[0] == original.external_id
    assert "Cempaka Putih" in edited.text
    assert edited.received_at == datetime(2026, 11, 24, 6, 0, 45, tzinfo=UTC)


def test_start_carries_the_greeting_for_the_core() -> None:
    inquiry = update_to_event(load_update("start_command")).inquiry
    assert inquiry is not None
    assert inquiry.meta["command"] == "start"
    assert inquiry.meta["greeting"] == START_GREETING
    assert inquiry.meta["start_payload"] == "web-ptsp"
    assert "pertanyaan" in START_GREETING


def test_own_shared_contact_links_the_phone_number() -> None:
    inquiry = update_to_event(load_update("contact_own")).inquiry
    assert inquiry is not None
    assert [(i.kind, i.value) for i in inquiry.extra_identities] == [
        (IdentityKind.PHONE, "6281234567890")
    ]
    assert "6281234567890" in inquiry.text
    # It answers the bot's question, so it threads onto that message.
    assert inquiry.thread.reply_to_ids == ("281234567:216",)


def test_someone_elses_contact_card_links_nothing() -> None:
    inquiry = update_to_event(load_update("contact_other")).inquiry
    assert inquiry is not None
    assert inquiry.extra_identities == ()
    assert "Budi" in inquiry.text


def test_photo_picks_the_largest_size_and_keeps_the_caption() -> None:
    event = update_to_event(load_update("photo_caption"))
    assert event.inquiry is not None
    assert event.inquiry.text == "ini bukti setor retribusi pbg nya"
    assert [f.file_id for f in event.files] == ["AgACAgUAAxkBAAIBNWdLarge"]
    assert event.files[0].content_type == "image/jpeg"


def test_document_and_voice_are_described_for_download() -> None:
    document = update_to_event(load_update("document_pdf")).files
    assert [(f.filename, f.content_type, f.size) for f in document] == [
        ("KTP_Siti.pdf", "application/pdf", 20480)
    ]
    voice = update_to_event(load_update("voice")).files
    assert [(f.filename, f.content_type) for f in voice] == [("pesan-suara-221.ogg", "audio/ogg")]


def test_group_is_ignored_unless_configured() -> None:
    ignored = update_to_event(load_update("group_text"))
    assert ignored.inquiry is None
    assert ignored.ignored is not None and "not configured" in ignored.ignored
    served = update_to_event(load_update("group_text"), allowed_group_ids={-1001987654321})
    assert served.inquiry is not None
    assert served.inquiry.thread.conversation_id == "-1001987654321"
    assert served.inquiry.sender.value == "301555777"


def test_feedback_button_becomes_an_inquiry_with_the_callback() -> None:
    now = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    event = update_to_event(load_update("callback_feedback"), now=now)
    inquiry = event.inquiry
    assert inquiry is not None
    assert inquiry.meta["callback"] == "fb:PTSP-000123:yes"
    assert inquiry.text == "👍 Ya"
    assert inquiry.external_id == "cbq:1205913480923749012"
    assert inquiry.received_at == now
    assert inquiry.thread.conversation_id == "281234567"
    assert event.callback_query_id == "1205913480923749012"
    assert event.callback_message == (281234567, 218)


def test_survey_button_reports_the_score() -> None:
    inquiry = update_to_event(load_update("callback_survey")).inquiry
    assert inquiry is not None
    assert inquiry.meta["callback"] == "csat:PTSP-000123:5"
    assert inquiry.text == "5"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (load_update("junk_unknown_type"), "unsupported update type: message_reaction"),
        (load_update("junk_malformed_message"), "malformed update"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not an object"),
        ({"message": {}}, "no integer update_id"),
    ],
)
def test_junk_is_invalid_input_with_a_reason(raw: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        update_to_event(raw)  # type: ignore[arg-type]
    assert reason in caught.value.reason


def test_webhook_secret_check() -> None:
    assert check_webhook_secret("s3cret-token", "s3cret-token")
    assert not check_webhook_secret("wrong", "s3cret-token")
    assert not check_webhook_secret(None, "s3cret-token")
    assert not check_webhook_secret("", "")
