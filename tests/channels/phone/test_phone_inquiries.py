"""Each call becomes the inquiry the call center needs: answered notes or a callback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.base import Channel, IdentityKind, InvalidInput
from channels.phone import (
    CallRecord,
    call_to_inquiry,
    format_duration,
    normalise_phone,
    read_call_log,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "calls"


def calls(name: str) -> list[CallRecord]:
    return [r for r in read_call_log(DATA / name) if isinstance(r, CallRecord)]


@pytest.mark.parametrize(
    "raw",
    ["0812-3456-7890", "+62 812 3456 7890", "6281234567890", "081234567890", "0062 812-3456-7890"],
)
def test_one_mobile_number_however_it_is_written(raw: str) -> None:
    assert normalise_phone(raw) == "+6281234567890"


def test_landlines_and_junk() -> None:
    assert normalise_phone("(021) 3822968") == "+62213822968"
    assert normalise_phone("+65 6299 1234") == "+6562991234"
    assert normalise_phone("") is None
    assert normalise_phone("bukan nomor") is None


def test_answered_call_becomes_notes_on_the_contacts_phone_ticket() -> None:
    record = calls("master_uniqueid_userfield.csv")[0]
    inquiry = call_to_inquiry(record)
    assert inquiry.channel is Channel.PHONE
    assert inquiry.external_id == "cdr:1795487523.18"
    assert inquiry.sender.kind is IdentityKind.PHONE
    assert inquiry.sender.value == "+6281234567890"
    assert inquiry.sender.name == "Siti Rahmawati"
    assert inquiry.text == (
        "Panggilan masuk dari +6281234567890 pada 24/11/2026 09:12 WIB dijawab oleh "
        "ekstensi 201, durasi 3 menit 12 detik. "
        "Catatan: Tanya syarat PBG, sudah dijelaskan; kirim ceklis via email"
    )
    # No conversation: the core threads it onto the contact's open phone ticket.
    assert inquiry.thread.conversation_id is None
    assert inquiry.received_at == datetime(2026, 11, 24, 2, 12, 3, tzinfo=UTC)
    assert inquiry.meta["answered"] is True
    assert inquiry.meta["callback_needed"] is False
    assert inquiry.meta["extension"] == "201"
    assert (inquiry.meta["duration"], inquiry.meta["billsec"]) == (199, 192)
    assert inquiry.meta["disposition"] == "ANSWERED"


def test_missed_calls_from_one_number_share_a_callback_thread() -> None:
    _, first, second, *_ = calls("master_uniqueid_userfield.csv")
    one, two = call_to_inquiry(first), call_to_inquiry(second)
    assert one.thread.conversation_id == two.thread.conversation_id == "callback:+6281298765432"
    assert one.external_id != two.external_id
    assert one.text == (
        "Panggilan tak terjawab (NO ANSWER) dari +6281298765432 pada 24/11/2026 09:15 WIB "
        "— perlu ditelepon balik."
    )
    assert one.meta["callback_needed"] is True and one.meta["answered"] is False
    assert one.subject == "Telepon balik +6281298765432"


def test_differently_written_numbers_join_one_callback_thread() -> None:
    _, missed, busy, *_ = calls("master_basic.csv")
    assert missed.caller == "+62 812 3456 7890" and busy.caller == "6281234567890"
    assert (
        call_to_inquiry(missed).thread.conversation_id
        == call_to_inquiry(busy).thread.conversation_id
        == "callback:+6281234567890"
    )
    assert "saluran sibuk" in call_to_inquiry(busy).text


def test_external_id_without_uniqueid_is_the_row_hash_and_stable() -> None:
    first = [call_to_inquiry(r).external_id for r in calls("master_basic.csv")[:6]]
    again = [call_to_inquiry(r).external_id for r in calls("master_basic.csv")[:6]]
    assert first == again
    assert all(e.startswith("cdr:") and len(e) == 4 + 64 for e in first)


def test_outbound_callback_is_recorded_against_the_resident() -> None:
    outbound = calls("master_basic.csv")[5]
    inquiry = call_to_inquiry(outbound, source="Master.csv")
    assert inquiry.sender.value == "+6281234567890"
    assert inquiry.meta["direction"] == "outbound"
    assert inquiry.meta["callback_needed"] is False
    assert inquiry.text.startswith("Panggilan keluar ke +6281234567890 oleh ekstensi 201")
    assert inquiry.raw_ref == "Master.csv:6"


def test_internal_calls_are_not_inquiries() -> None:
    internal = calls("master_basic.csv")[6]
    with pytest.raises(InvalidInput, match="internal call"):
        call_to_inquiry(internal)


def test_durations_read_naturally() -> None:
    assert format_duration(45) == "45 detik"
    assert format_duration(192) == "3 menit 12 detik"
    assert format_duration(3605) == "1 jam 0 menit 5 detik"
