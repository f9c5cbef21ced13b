"""The report tables as plain rows: one source for the dashboard, the CSV
exports and the JSON API, so the three always show the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from helpdesk import reports
from helpdesk.reports_filters import ReportFilter
from helpdesk.reports_rollup import refresh_store
from helpdesk.reports_tickets import TicketRow
from helpdesk.store import Store
from helpdesk.web.supervisors_charts import CHANNEL_COLOURS, CHANNEL_LABELS, WEEKDAYS

Row = list[Any]


@dataclass
class Table:
    name: str
    title: str
    headers: list[str]
    rows: list[Row] = field(default_factory=list)


@dataclass
class Dashboard:
    report: ReportFilter
    summary: reports.Summary
    days: list[reports.Daily]
    grid: list[list[int]]
    faq: list[reports.FaqRow]
    ratings: dict[int, int]
    consultants: list[reports.ConsultantRow]
    choices: dict[str, list[tuple[str, str]]]


def load_dashboard(store: Store, report: ReportFilter) -> Dashboard:
    """Every figure of the dashboard, read in one transaction (one snapshot on
    PostgreSQL; SQLite's WAL reader sees one state too)."""
    refresh_store(store)  # the days changed since the last look
    with store.engine.connect() as conn, conn.begin():
        return Dashboard(
            report=report, summary=reports.summary(conn, report),
            days=reports.daily(conn, report), grid=reports.heatmap(conn, report),
            faq=reports.faq_entries(conn, report), ratings=reports.satisfaction(conn, report),
            consultants=reports.consultants(conn, report), choices=reports.choices(conn))


SUMMARY_ROWS: tuple[tuple[str, str], ...] = (
    ("tickets", "Tiket masuk"),
    ("responded", "Sudah ditanggapi petugas"),
    ("awaiting_response", "Menunggu tanggapan pertama"),
    ("first_response_p50", "Tanggapan pertama, median (detik)"),
    ("first_response_p90", "Tanggapan pertama, p90 (detik)"),
    ("first_response_business_p50", "Tanggapan pertama, median (detik jam kerja)"),
    ("first_response_business_p90", "Tanggapan pertama, p90 (detik jam kerja)"),
    ("resolved", "Diselesaikan petugas"),
    ("resolution_p50", "Penyelesaian, median (detik)"),
    ("resolution_p90", "Penyelesaian, p90 (detik)"),
    ("resolution_business_p50", "Penyelesaian, median (detik jam kerja)"),
    ("resolution_business_p90", "Penyelesaian, p90 (detik jam kerja)"),
    ("with_target", "Tiket dengan target SLA"),
    ("first_response_breached", "Tanggapan pertama melewati SLA"),
    ("resolution_breached", "Penyelesaian melewati SLA"),
    ("breached", "Melewati SLA"),
    ("breach_rate", "Rasio melewati SLA"),
    ("auto_answered", "Dijawab otomatis"),
    ("answered_by_faq", "Selesai dengan jawaban FAQ"),
    ("faq_rate", "Rasio selesai dengan FAQ"),
    ("rated", "Diberi penilaian"),
    ("satisfaction_mean", "Kepuasan rata-rata (1-5)"),
)


def summary_table(d: Dashboard) -> Table:
    table = Table("ringkasan", "Ringkasan", ["ukuran", "keterangan", "nilai"])
    for key, title in SUMMARY_ROWS:
        table.rows.append([key, title, _plain(getattr(d.summary, key))])
    for channel, count in d.summary.by_channel.items():
        table.rows.append([f"channel.{channel}", f"Tiket masuk lewat "
                           f"{CHANNEL_LABELS.get(channel, channel)}", count])
    return table


def daily_table(d: Dashboard) -> Table:
    channels = [c for c in CHANNEL_COLOURS if any(day.by_channel.get(c) for day in d.days)]
    table = Table("harian", "Per hari", ["tanggal", "masuk", *channels, "selesai",
                                         "terbuka_akhir_hari"])
    for day in d.days:
        table.rows.append([day.day.isoformat(), day.created,
                           *(day.by_channel.get(c, 0) for c in channels), day.resolved,
                           day.backlog])
    return table


def heatmap_table(d: Dashboard) -> Table:
    table = Table("jam", "Tiket masuk per hari dan jam (WIB)",
                  ["hari", *(f"{h:02d}" for h in range(24))])
    for name, row in zip(WEEKDAYS, d.grid, strict=True):
        table.rows.append([name, *row])
    return table


def faq_table(d: Dashboard) -> Table:
    table = Table("faq", "Jawaban otomatis per entri FAQ",
                  ["entri", "pertanyaan", "dijawab_otomatis", "membantu", "tidak_membantu",
                   "tanpa_jawaban", "selesai_oleh_faq", "rasio_membantu"])
    for r in d.faq:
        table.rows.append([r.entry, r.question, r.auto_answered, r.helpful, r.not_helpful,
                           r.no_answer, r.answered_by_faq, _plain(r.helpful_rate)])
    return table


def satisfaction_table(d: Dashboard) -> Table:
    table = Table("kepuasan", "Penilaian warga", ["nilai", "jumlah"])
    table.rows = [[rating, count] for rating, count in sorted(d.ratings.items())]
    return table


def consultant_table(d: Dashboard) -> Table:
    table = Table("petugas", "Per petugas",
                  ["petugas_id", "nama", "email", "ditangani", "diselesaikan",
                   "tanggapan_pertama_median_detik", "tanggapan_pertama_median_detik_kerja",
                   "melewati_sla", "dinilai", "kepuasan_rata_rata"])
    for r in d.consultants:
        table.rows.append([r.user_id, r.name, r.email, r.handled, r.resolved,
                           _plain(r.first_response_p50), _plain(r.first_response_business_p50),
                           r.breached, r.rated, _plain(r.satisfaction_mean)])
    return table


TABLES = {"ringkasan": summary_table, "harian": daily_table, "jam": heatmap_table,
          "faq": faq_table, "kepuasan": satisfaction_table, "petugas": consultant_table}


def ticket_table(rows: list[TicketRow], title: str) -> Table:
    table = Table("tiket", title, ["nomor", "subjek", "kanal", "status", "antrean", "petugas",
                                   "dibuat_wib", "tanggapan_pertama_detik", "selesai_wib",
                                   "melewati_sla", "kepuasan", "faq"])
    for r in rows:
        table.rows.append([r.number, r.subject, r.channel, r.status, r.queue, r.assignee,
                           _wib(r.created_at), r.first_response_seconds, _wib(r.resolved_at),
                           "ya" if r.breached else "tidak", r.satisfaction,
                           r.auto_answer_entry or ""])
    return table


def _plain(value: Any) -> Any:
    # Rates and means to 4 places: enough to check, short to read.
    if isinstance(value, float):
        return round(value, 4)
    return value


def _wib(value: datetime | None) -> str:
    if value is None:
        return ""
    from zoneinfo import ZoneInfo

    return value.astimezone(UTC).astimezone(ZoneInfo("Asia/Jakarta")).strftime(
        "%Y-%m-%d %H:%M")


