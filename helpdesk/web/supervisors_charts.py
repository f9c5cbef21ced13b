"""Charts drawn on the server as SVG: no script, no library, readable at a glance.

Every mark that stands for tickets is a link to the list of those tickets.
Text is escaped here; the result is safe to put in a page as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from helpdesk.web.supervisors_format import number

CHANNEL_COLOURS = {"email": "#0f5c8c", "telegram": "#2aa3d8", "webchat": "#4caf7a",
                   "phone": "#e0a030", "api": "#8a6bbd"}
CHANNEL_LABELS = {"email": "Email", "telegram": "Telegram", "webchat": "Web chat",
                  "phone": "Telepon", "api": "API"}
WEEKDAYS = ("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min")
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


@dataclass(frozen=True)
class Bar:
    label: str
    parts: Mapping[str, int]
    href: str
    title: str


def _nice_max(value: int) -> int:
    """A round axis top at or above ``value`` (1, 2, 5 x 10^n)."""
    if value <= 5:
        return 5
    step = 1
    while True:
        for m in (1, 2, 5):
            if value <= m * step * 5:
                return m * step * 5
        step *= 10


def _axis(top: int, x0: float, x1: float, y0: float, height: float) -> list[str]:
    out = []
    for i in range(6):
        value = top * i // 5
        y = y0 + height - height * i / 5
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e8ee"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#5d6b7a">'
                   f'{escape(number(value))}</text>')
    return out


def _svg(width: int, height: int, label: str, body: Sequence[str], kind: str) -> Markup:
    # Every text put into ``body`` went through escape(); numbers are ours.
    return Markup(  # noqa: S704
        f'<svg class="chart chart-{kind}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" {FONT}>'
        f'<title>{escape(label)}</title>{"".join(body)}</svg>')


def _legend(keys: Sequence[str], x: float, y: float) -> list[str]:
    out, cursor = [], x
    for key in keys:
        colour = CHANNEL_COLOURS.get(key, "#999")
        name = CHANNEL_LABELS.get(key, key)
        out.append(f'<rect x="{cursor:.1f}" y="{y - 9}" width="10" height="10" rx="2" '
                   f'fill="{colour}"/><text x="{cursor + 14:.1f}" y="{y}">{escape(name)}</text>')
        cursor += 24 + 7 * len(name)
    return out


def stacked_bars(bars: Sequence[Bar], label: str, *, width: int = 760,
                 height: int = 240) -> Markup:
    """Daily volume: one bar per day, stacked by channel, each bar a link."""
    keys = [k for k in CHANNEL_COLOURS if any(b.parts.get(k) for b in bars)]
    left, right, top_pad, bottom = 44, 8, 22, 34
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = _nice_max(max((sum(b.parts.values()) for b in bars), default=0))
    body = _axis(top, left, width - right, top_pad, plot_h)
    slot = plot_w / max(len(bars), 1)
    bar_w = max(min(slot * 0.7, 40), 2)
    every = max(1, round(len(bars) / 12))  # at most a dozen day labels
    for i, bar in enumerate(bars):
        x = left + i * slot + (slot - bar_w) / 2
        y: float = top_pad + plot_h
        rects = []
        for key in keys:
            n = bar.parts.get(key, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            rects.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{CHANNEL_COLOURS[key]}"/>')
        total = sum(bar.parts.values())
        body.append(f'<a href="{escape(bar.href)}" class="bar"><title>{escape(bar.title)}: '
                    f'{escape(number(total))} tiket</title>'
                    f'<rect x="{x:.1f}" y="{top_pad}" width="{bar_w:.1f}" height="{plot_h}" '
                    f'fill="transparent"/>{"".join(rects)}</a>')
        if i % every == 0:
            body.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 14}" '
                        f'text-anchor="middle" fill="#5d6b7a">{escape(bar.label)}</text>')
    body += _legend(keys, left, height - 6)
    return _svg(width, height, label, body, "bars")


def line(points: Sequence[tuple[str, int, str]], label: str, *, width: int = 760,
         height: int = 200) -> Markup:
    """Backlog over time: (day label, value, link) per point."""
    left, right, top_pad, bottom = 44, 12, 16, 26
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = _nice_max(max((v for _, v, _ in points), default=0))
    body = _axis(top, left, width - right, top_pad, plot_h)
    step = plot_w / max(len(points) - 1, 1)
    coords = [(left + i * step, top_pad + plot_h - plot_h * v / top)
              for i, (_, v, _) in enumerate(points)]
    if coords:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="#b3261e" stroke-width="2"/>')
    every = max(1, round(len(points) / 12))
    for i, ((text, value, href), (x, y)) in enumerate(zip(points, coords, strict=True)):
        body.append(f'<a href="{escape(href)}" class="point"><title>{escape(text)}: '
                    f'{escape(number(value))} tiket terbuka</title>'
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#b3261e"/></a>')
        if i % every == 0 or i == len(points) - 1:
            body.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" '
                        f'fill="#5d6b7a">{escape(text)}</text>')
    if coords:
        x, y = coords[-1]
        body.append(f'<text x="{x - 6:.1f}" y="{y - 8:.1f}" text-anchor="end" '
                    f'font-weight="600">{escape(number(points[-1][1]))}</text>')
    return _svg(width, height, label, body, "line")


def heatmap(grid: Sequence[Sequence[int]], label: str,
            href: Callable[[int, int], str]) -> Markup:
    """Tickets per weekday (rows, Monday first) and hour (columns)."""
    cell, left, top_pad = 28, 40, 20
    width, height = left + 24 * cell + 4, top_pad + 7 * cell + 4
    peak = max((n for row in grid for n in row), default=0) or 1
    body = [f'<text x="{left + h * cell + cell / 2}" y="{top_pad - 6}" text-anchor="middle" '
            f'fill="#5d6b7a">{h:02d}</text>' for h in range(24)]
    for d, row in enumerate(grid):
        y = top_pad + d * cell
        body.append(f'<text x="{left - 8}" y="{y + cell / 2 + 4}" text-anchor="end" '
                    f'fill="#5d6b7a">{WEEKDAYS[d]}</text>')
        for h, n in enumerate(row):
            x = left + h * cell
            share = n / peak
            # White to the brand blue; text turns white on the dark cells.
            r, g, b = (int(255 - (255 - c) * share) for c in (15, 92, 140))
            ink = "#fff" if share > 0.55 else "#1d2733"
            tip = f"{WEEKDAYS[d]} {h:02d}.00-{h:02d}.59: {number(n)} tiket"
            text = (f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" '
                    f'fill="{ink}" font-size="9">{escape(number(n))}</text>') if n else ""
            body.append(f'<a href="{escape(href(d, h))}" class="cell"><title>{escape(tip)}'
                        f'</title><rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" '
                        f'height="{cell - 2}" rx="3" fill="rgb({r},{g},{b})" '
                        f'stroke="#e3e8ee"/>{text}</a>')
    return _svg(width, height, label, body, "heatmap")


def horizontal_bars(rows: Sequence[tuple[str, int, str, str]], label: str, *,
                    width: int = 360) -> Markup:
    """(label, value, colour, link) per row: satisfaction, channels."""
    bar_h, gap, left, right = 22, 8, 92, 56
    height = len(rows) * (bar_h + gap) + gap
    peak = max((v for _, v, _, _ in rows), default=0) or 1
    total = sum(v for _, v, _, _ in rows) or 1
    body = []
    for i, (text, value, colour, href) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = (width - left - right) * value / peak
        share = f"{number(value)} ({round(100 * value / total)}%)"
        body.append(f'<text x="{left - 8}" y="{y + bar_h / 2 + 4}" text-anchor="end">'
                    f'{escape(text)}</text><a href="{escape(href)}" class="hbar"><title>'
                    f'{escape(text)}: {escape(share)}</title><rect x="{left}" y="{y}" '
                    f'width="{max(w, 1):.1f}" height="{bar_h}" rx="3" fill="{colour}"/></a>'
                    f'<text x="{left + w + 6:.1f}" y="{y + bar_h / 2 + 4}" fill="#5d6b7a">'
                    f'{escape(share)}</text>')
    return _svg(width, height, label, body, "hbars")
