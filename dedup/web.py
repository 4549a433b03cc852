"""Web inputs: HTML pages and WARC archives, read as documents.

A page's text is what a reader sees of it, extracted by resiliparse:
``main`` (the default) keeps the main content (the article, with what its
template puts inside it: related-news titles, a subscription line), ``all``
every visible text (menus, footers too). Paragraphs and other block elements
become lines, so ``dedup blocks`` and ``--ignore-boilerplate`` see a page's
template lines as blocks.

A WARC archive (read by fastwarc) holds records; each HTTP ``response``
record with a 2xx status and an HTML body is a document whose id is its
``WARC-Target-URI`` (its location ``FILE:RECORD``, the record's 1-based
position in the file, is the id it gets when the URI is already taken).
Other response records are reported as skipped with the reason (``not HTML
(image/png)``, ``HTTP status 404``, ``no text extracted``); records of other
types (``warcinfo``, ``request``, ``metadata``, ``revisit``) hold no page and
are not documents. A record cut short (a truncated file) is never a document:
every complete record before the cut is, and the file is reported.

resiliparse (which brings fastwarc) is the optional ``web`` extra; reading
such inputs without it is an :class:`~dedup.errors.InputError` naming it.

Example:
    >>> page = "<html><body><article><h1>Tin mới</h1><p>Mưa lớn ở Hà Nội chiều nay.</p></article></body></html>"
    >>> html_document("a.html", page.encode("utf-8"), "main")
    Document(id='a.html', text='Tin mới\\n\\nMưa lớn ở Hà Nội chiều nay.')
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dedup.document import Document, Skipped
from dedup.errors import InputError

if TYPE_CHECKING:
    from fastwarc.warc import WarcRecord

__all__ = ["ByteStream", "html_document", "require_web", "warc_documents"]

EXTRA = "pip install 'dedup[web]'"

_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Bytes looked at to recognise HTML that comes without a content type.
_SNIFF = 1024
_HEX = re.compile(rb"[0-9A-Fa-f]+")


class ByteStream(Protocol):
    """A binary stream :func:`warc_documents` reads from.

    ``truncated`` is true once the stream has ended early (a compressed file
    cut short or corrupt): what ``read`` returned up to then is all there is.
    ``mid_member`` is true when those bytes do not end where a compressed
    member ended (the last record is cut; crawlers compress each record as
    its own gzip member).
    """

    truncated: bool
    mid_member: bool

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); ``b""`` at the end."""
        ...

    def seek(self, offset: int, whence: int = 0) -> int:
        """Where the stream is (``seek(0, 1)``); it need not move otherwise."""
        ...

    def tell(self) -> int:
        """Bytes read so far."""
        ...

    def close(self) -> None:
        """Let go of the source."""
        ...


def require_web() -> None:
    """Check that the ``web`` extra is installed.

    Raises:
        InputError: resiliparse or fastwarc cannot be imported; the message
            names the extra to install.
    """
    try:
        import fastwarc.warc  # noqa: F401  # imported to see that it is there
        import resiliparse.extract.html2text  # noqa: F401
    except ImportError as err:
        raise InputError(f"reading .html and .warc inputs needs resiliparse and fastwarc: {EXTRA} ({err})") from None


def _decode(data: bytes, charset: str | None) -> str:
    """A page's text: UTF-8 when its bytes are (almost every page, whatever
    its headers claim), else the charset the server declared, else the one
    the page's ``<meta>`` names or uchardet finds."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    encoding = charset or detect_encoding(data, from_html_meta=True) or "utf-8"
    # bytes_to_str falls back to UTF-8 then cp1252, and never fails.
    return bytes_to_str(data, encoding)


def _extract(data: bytes, html_text: str, charset: str | None = None) -> str | None:
    """The text of a page, or None when the HTML cannot be parsed."""
    from resiliparse.extract.html2text import extract_plain_text

    try:
        text = extract_plain_text(
            _decode(data, charset),
            preserve_formatting=True,
            main_content=html_text == "main",
            # An image's alternative text and a list's bullets are not text a reader sees.
            list_bullets=False,
            alt_texts=False,
        )
    except Exception:  # noqa: BLE001  # resiliparse's parser errors share no base class but Exception
        return None
    return text.strip()


def _document(
    doc_id: str, name: str, line: int | None, data: bytes, html_text: str, charset: str | None
) -> Document | Skipped:
    text = _extract(data, html_text, charset)
    if text is None:
        return Skipped(name, line, "unparsable HTML")
    if not text:
        return Skipped(name, line, f"no text extracted (--html-text {html_text})")
    return Document(doc_id, text, None if line is None else f"{name}:{line}")


def html_document(name: str, data: bytes, html_text: str = "main") -> Document | Skipped:
    """A document from the bytes of one HTML page (id ``name``).

    Args:
        name: The file's name, as ids carry it.
        data: The page, encoded as it was served.
        html_text: ``"main"`` content or ``"all"`` visible text.

    Returns:
        The page's text, or a Skipped when nothing is extracted.

    Raises:
        InputError: the ``web`` extra is not installed.
    """
    require_web()
    if b"\x00" in data[:_SNIFF] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Skipped(name, None, "binary content (NUL bytes)")
    return _document(name, name, None, data, html_text, None)


def _looks_like_html(data: bytes) -> bool:
    head = data[:_SNIFF].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


@dataclass(frozen=True)
class _Response:
    """An HTTP response as a WARC record keeps it: status, headers (names
    lower-cased), and the body with its transfer and content codings undone."""

    status: int | None
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("content-type", "").split(";")[0].strip().lower()
        return value or None

    @property
    def charset(self) -> str | None:
        """The declared charset, when Python knows it."""
        for parameter in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "charset":
                try:
                    name = codecs.lookup(value.strip().strip("\"'")).name
                    b"".decode(name)  # a bytes-to-bytes codec (base64, zlib, rot13) is not a charset
                except LookupError:
                    return None
                return name
        return None


def _parse_response(block: bytes) -> _Response | str:
    """The HTTP response in a record's block, or why it cannot be read."""
    end, gap = block.find(b"\r\n\r\n"), 4
    if end < 0:
        end, gap = block.find(b"\n\n"), 2
    if end < 0:
        return "no HTTP headers"
    lines = block[:end].decode("latin-1").splitlines()
    parts = lines[0].split() if lines else []
    # isascii: str.isdigit holds for "²" (latin-1 byte 0xb2), which int() refuses.
    status = (
        int(parts[1])
        if len(parts) > 1 and parts[0].startswith("HTTP/") and parts[1].isascii() and parts[1].isdigit()
        else None
    )
    headers = {}
    for line in lines[1:]:
        key, colon, value = line.partition(":")
        if colon:
            headers[key.strip().lower()] = value.strip()
    body = block[end + gap :]
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = _dechunk(body)
        body = _decode_content(body, headers.get("content-encoding", "").strip().lower())
    except (ValueError, zlib.error, OSError) as err:
        return f"undecodable HTTP body ({err})"
    return _Response(status, headers, body)


def _dechunk(data: bytes) -> bytes:
    """A chunked transfer-coded body, joined.

    Raises:
        ValueError: a chunk size is not hexadecimal digits.
    """
    out, at = [], 0
    while at < len(data):
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            break
        field = data[at:line_end].split(b";")[0].strip() or b"0"
        # Hex digits only: int() also takes a sign, and a negative size would step back forever.
        if not _HEX.fullmatch(field):
            raise ValueError(f"chunk size {field[:20].decode('latin-1')!r} is not hexadecimal")
        size = int(field, 16)
        if size == 0:
            break
        out.append(data[line_end + 2 : line_end + 2 + size])
        at = line_end + 2 + size + 2
    return b"".join(out)


def _decode_content(data: bytes, coding: str) -> bytes:
    """Undo a content coding (gzip, deflate, br); others pass unchanged.

    Raises:
        zlib.error: corrupt gzip or deflate data.
        OSError: corrupt brotli data.
    """
    if coding in ("gzip", "x-gzip"):
        return zlib.decompress(data, wbits=47)
    if coding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, wbits=-15)  # raw deflate, as some servers send it
    if coding == "br":
        import brotli  # type: ignore[import-untyped]  # a dependency of fastwarc, without type information

        try:
            return bytes(brotli.decompress(data))
        except brotli.error as err:
            raise OSError(f"corrupt brotli data: {err}") from None
    return data


def _payload_problem(response: _Response) -> str | None:
    """Why a complete response is not a page, or None."""
    if response.status is not None and not 200 <= response.status < 300:
        return f"HTTP status {response.status}"
    content_type = response.content_type
    if content_type is None:
        return None if _looks_like_html(response.body) else "not HTML (no content type)"
    if content_type not in _HTML_TYPES:
        return f"not HTML ({content_type})"
    return None


def warc_documents(name: str, stream: ByteStream, html_text: str = "main") -> Iterator[Document | Skipped]:
    """The documents of a WARC archive, in record order.

    Args:
        name: The file's name, as ids carry it.
        stream: The archive's bytes, decompressed.
        html_text: ``"main"`` content or ``"all"`` visible text.

    Yields:
        A Document for each HTML response record, a Skipped for each other
        response record (``FILE:RECORD``), for a record cut short in an
        uncompressed file, and for the file when ``stream`` ends truncated or
        the archive cannot be parsed.

    Raises:
        InputError: the ``web`` extra is not installed (raised on the first
            ``next``).
    """
    require_web()
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    number = 0  # records seen, complete or not
    complete = 0  # the last record read whole
    # stream_detect off: the caller has decompressed it (and knows a cut gzip from a whole one).
    # parse_http off: a record is whole when its block has the WARC Content-Length, HTTP headers included.
    records = ArchiveIterator(stream, record_types=WarcRecordType.any_type, parse_http=False, stream_detect=False)
    # Each record's item waits for the next record: when a compressed stream
    # is cut inside a member, the record it was cut in can look whole (a
    # Content-Length cut to its first digits), so it is never a document.
    held: Document | Skipped | None = None
    problem = None
    cut_inside = False  # the loop stopped at a record cut short: the one before it is whole
    try:
        for record in records:
            number += 1
            item, whole = _record_item(name, number, record, html_text)
            if not whole:
                cut_inside = True
                problem = Skipped(name, number, "record is cut short (the file ends inside it)")
                break
            if held is not None:
                yield held
            held, complete = item, number
    except OSError as err:
        cut_inside = True  # raised reading a record after the held one, which is whole
        problem = Skipped(name, None, f"malformed WARC after record {complete}: {err}")
    if stream.truncated:
        last_whole = cut_inside or not stream.mid_member
        if last_whole and held is not None:
            yield held
        kept = complete if last_whole else complete - 1
        yield Skipped(name, None, f"compressed file is truncated or corrupt after record {max(kept, 0)}")
        return
    if held is not None:
        yield held
    if problem is not None:
        yield problem
    elif number == 0:
        yield Skipped(name, None, "not a WARC file (no record found)")


def _record_item(name: str, number: int, record: WarcRecord, html_text: str) -> tuple[Document | Skipped | None, bool]:
    """``(item, whole)``: the document or skip a record gives (None for a
    record type that holds no page), and whether the record is complete."""
    from fastwarc.warc import WarcRecordType

    declared = record.headers.get("Content-Length")
    if declared is None or record.headers.get("WARC-Type") is None:
        return None, False  # the file ends inside the record's header
    if record.record_type != WarcRecordType.response:
        return None, record.reader.consume() == record.content_length
    block = record.reader.read()
    if len(block) < record.content_length:
        return None, False
    response = _parse_response(block)
    problem = response if isinstance(response, str) else _payload_problem(response)
    if problem is not None or isinstance(response, str):
        return Skipped(name, number, problem or "no HTTP response"), True
    uri = (record.headers.get("WARC-Target-URI") or "").strip()
    return _document(uri or f"{name}:{number}", name, number, response.body, html_text, response.charset), True
