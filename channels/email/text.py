"""Text out of mail: charset decoding, HTML to text, sanitising, quote and signature stripping."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

__all__ = [
    "clean_str",
    "decode_bytes",
    "html_to_text",
    "sanitize_html",
    "strip_quotes_and_signature",
]

# Mail clients treat these declarations as Windows-1252 (the WHATWG encoding
# standard does too): real "Latin-1" mail is full of cp1252 smart quotes.
_WINDOWS_1252_ALIASES = frozenset(
    {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii"}
)
_UNKNOWN_CHARSETS = frozenset({"unknown-8bit", "x-unknown", "unknown", "8bit", "default", ""})


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data`` without ever raising; return (text, charset used).

    Order: the declared charset, UTF-8, Windows-1252, then Latin-1 with
    replacement (which cannot fail). A declared charset that Python does not know
    (``unknown-8bit``) or that is not a text encoding (``base64``) is skipped.
    """
    candidates: list[str] = []
    name = (declared or "").strip().strip("\"'").lower()
    if name and name not in _UNKNOWN_CHARSETS:
        if name in _WINDOWS_1252_ALIASES:
            # us-ascii is a frequent lie for UTF-8 bodies: try UTF-8 before cp1252.
            candidates.extend(["ascii", "utf-8", "cp1252"] if name == "us-ascii" else ["cp1252"])
        candidates.append(name)
    candidates.extend(["utf-8", "cp1252"])
    for charset in candidates:
        try:
            return _strip_nul(data.decode(charset)), charset
        except (LookupError, UnicodeError, ValueError, TypeError):
            continue
    return _strip_nul(data.decode("latin-1", errors="replace")), "latin-1"


def _strip_nul(text: str) -> str:
    # PostgreSQL text columns reject NUL; it never carries meaning in mail text.
    return text.replace("\x00", "") if "\x00" in text else text


_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_str(value: str) -> str:
    """Make a header value safe to store: no lone surrogates, no NUL.

    The email package keeps undecodable header bytes as surrogate escapes; they
    would make the database driver fail, so they are decoded like a body.
    """
    if _SURROGATES.search(value):
        raw = value.encode("utf-8", errors="surrogateescape")
        try:
            value = decode_bytes(raw)[0]
        except UnicodeError:
            value = _SURROGATES.sub("\ufffd", value)
        value = _SURROGATES.sub("\ufffd", value)
    return _strip_nul(value)


# ---------------------------------------------------------------- sanitising

_URL_SCHEMES = frozenset(nh3.ALLOWED_URL_SCHEMES) | {"cid"}
_DROP_WITH_CONTENT = frozenset({"script", "style", "title", "noscript", "template", "iframe"})


def sanitize_html(html: str) -> str:
    """Resident HTML, safe to show on a page: no scripts, handlers or javascript: links.

    ``cid:`` links stay so inline images can be mapped to stored attachments.
    """
    return nh3.clean(
        clean_str(html),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )


# ---------------------------------------------------------------- HTML to text

# Blocks that stand apart with a blank line, and blocks that only start a new line.
_PARAGRAPH_TAGS = frozenset(
    {
        "p", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre",
        "blockquote", "address", "dl", "form", "fieldset", "figure",
    }
)  # fmt: skip
_LINE_TAGS = frozenset(
    {"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer", "center",
     "main", "nav", "aside", "caption"}
)  # fmt: skip
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template", "iframe"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")


class _TextExtractor(HTMLParser):
    """Collects visible text; blockquotes become '> ' lines so quote stripping sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self._current: list[str] = []
        self._quote_depth = 0
        self._skip_depth = 0
        self._pre_depth = 0
        self._href_stack: list[str | None] = []

    def _flush(self, *, keep_empty: bool = False) -> None:
        text = "".join(self._current).strip(" ")
        self._current = []
        if text or keep_empty:
            self.lines.append((self._quote_depth, text))

    def _paragraph(self) -> None:
        self._flush()
        if self.lines and self.lines[-1][1]:
            self.lines.append((self._quote_depth, ""))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
            return
        if tag == "br":
            self._flush(keep_empty=True)
        elif tag in _PARAGRAPH_TAGS:
            self._paragraph()
            if tag == "blockquote":
                self._quote_depth += 1
            elif tag == "pre":
                self._pre_depth += 1
        elif tag in _LINE_TAGS:
            self._flush()
            if tag == "li":
                self._current.append("- ")
        elif tag in ("td", "th"):
            self._current.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._current.append(f"[{alt.strip()}]")
        elif tag == "a":
            self._href_stack.append(dict(attrs).get("href"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIP_TAGS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag in _PARAGRAPH_TAGS:
            self._paragraph()
            if tag == "blockquote":
                self._quote_depth = max(0, self._quote_depth - 1)
            elif tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)
        elif tag in _LINE_TAGS:
            self._flush()
        elif tag == "a" and self._href_stack:
            href = self._href_stack.pop()
            shown = "".join(self._current)
            # A consultant needs the address of a link, unless the text already shows it.
            if href and href.startswith(("http://", "https://")) and href not in shown:
                self._current.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            parts = data.split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._flush(keep_empty=True)
                self._current.append(part)
            return
        text = _SPACES.sub(" ", data)
        if not self._current or "".join(self._current).endswith(" "):
            text = text.lstrip(" ")
        self._current.append(text)

    def result(self) -> str:
        self._flush()
        out: list[str] = []
        for depth, text in self.lines:
            out.append(("> " * depth + text).rstrip() if depth else text)
        joined = "\n".join(out)
        return re.sub(r"\n{3,}", "\n\n", joined).strip()


def html_to_text(html: str) -> str:
    """Readable plain text from resident HTML (for the ticket text and search)."""
    parser = _TextExtractor()
    try:
        parser.feed(clean_str(html))
        parser.close()
    except Exception:  # HTMLParser is lenient; keep whatever it got
        return parser.result()
    return parser.result()


# ---------------------------------------------------------------- quotes and signatures

_ATTRIBUTION_START = re.compile(r"^\s*(On|Pada|Le|Am|El)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"(wrote|menulis|a écrit|schrieb|escribió)\s*:\s*$", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(Original Message|Pesan Asli|Pesan Awal|Forwarded by .*)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_OUTLOOK_RULE = re.compile(r"^\s*_{10,}\s*$")
_OUTLOOK_FROM = re.compile(r"^\s*\*?(From|Dari)\s*:\*?\s*\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(
    r"^\s*\*?(Sent|Date|Dikirim|Tanggal|Terkirim)\s*:\*?\s*\S", re.IGNORECASE
)
_SIGNATURE_DASHES = re.compile(r"^--\s?$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(Sent from (my )?\S.*|Dikirim dari\s\S.*|Kirim dari\s\S.*|Get Outlook for \S.*"
    r"|Sent with \S.*|Dapatkan Outlook untuk\s\S.*)$",
    re.IGNORECASE,
)


def _quote_cut(lines: list[str]) -> int | None:
    """Index of the first line of quoted history, if any."""
    for index, line in enumerate(lines):
        if _ORIGINAL_MESSAGE.match(line):
            return index
        if _ATTRIBUTION_START.match(line):
            # Gmail wraps long attributions ("Pada Sen, 3 Mar 2025 ... <\nbudi@x> menulis:").
            for span in range(3):
                if index + span < len(lines) and _ATTRIBUTION_END.search(lines[index + span]):
                    return index
        if (
            _ATTRIBUTION_END.search(line)
            and "@" in line
            and index + 1 < len(lines)
            and (lines[index + 1].lstrip().startswith(">") or not lines[index + 1].strip())
        ):
            return index
        if _OUTLOOK_FROM.match(line):
            window = lines[index + 1 : index + 5]
            if any(_OUTLOOK_SENT.match(other) for other in window):
                start = index
                if index and _OUTLOOK_RULE.match(lines[index - 1]):
                    start = index - 1
                return start
    return None


def strip_quotes_and_signature(text: str) -> str:
    """The resident's own words: quoted history and signatures removed.

    Returns an empty string when nothing of their own is left; the caller keeps
    the full original either way.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _quote_cut(lines)
    if cut is not None:
        lines = lines[:cut]
    lines = [line for line in lines if not line.lstrip().startswith(">")]
    for index, line in enumerate(lines):
        if _SIGNATURE_DASHES.match(line):
            lines = lines[:index]
            break
    # A mobile footer counts only near the end: "Sent from my phone" mid-text is content.
    tail_start = max(0, len(lines) - 6)
    for index in range(len(lines) - 1, tail_start - 1, -1):
        line = lines[index].strip()
        # Footers are short and plain: "Dikirim dari kantor kemarin, sudah?" is the resident.
        if len(line) <= 60 and not any(c in line for c in ",?!") and _MOBILE_SIGNATURE.match(line):
            lines = lines[:index]
            break
    return "\n".join(line.rstrip() for line in lines).strip("\n").strip()
