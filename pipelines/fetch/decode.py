"""Which encoding a page's bytes are in, chosen the way a browser chooses it.

The order is the WHATWG HTML Standard's encoding sniffing algorithm
(https://html.spec.whatwg.org/multipage/parsing.html#encoding-sniffing-algorithm):

1. ``bom``      a UTF-8, UTF-16BE or UTF-16LE byte order mark (only these three:
                https://encoding.spec.whatwg.org/#decode);
2. ``http``     the ``charset`` parameter of the Content-Type header;
3. ``meta``     ``<meta charset>`` or ``<meta http-equiv=Content-Type>`` in the
                first 1024 bytes (the spec's prescan limit); a meta that says
                UTF-16/32 means UTF-8, because a page whose bytes could be read as
                ASCII to find the tag cannot be UTF-16 (spec, "prescan", step 2.9);
4. ``detected`` no declaration: bytes that are valid UTF-8 with non-ASCII in them
                (or mostly so: see ``mostly_utf8``) are UTF-8, as Firefox's
                chardetng decides first; otherwise ``chardet`` guesses (see
                ``detect_encoding``);
5. ``default``  windows-1252, the WHATWG default for most locales.

Labels are mapped the way browsers map them (w3lib's table, after the WHATWG
Encoding Standard, https://encoding.spec.whatwg.org/#names-and-labels):
``latin1``, ``iso-8859-1`` and ``ascii`` mean windows-1252, ``gb2312``/``gbk``
mean GB18030, ``shift_jis`` means windows-31J, ``euc-kr`` means windows-949.
An unknown label is skipped and the next step decides.

``decode_body`` decodes with replacement characters for the bytes that are
invalid in the chosen encoding, as a browser shows them.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, resolve_encoding

__all__ = ["Sniffed", "ENCODING_SOURCES", "sniff_encoding", "decode_body", "detect_encoding", "label_to_encoding", "mostly_utf8"]

logger = logging.getLogger(__name__)

ENCODING_SOURCES = ("bom", "http", "meta", "detected", "detected_over_http", "detected_over_meta", "default")
DEFAULT_ENCODING = "cp1252"  # windows-1252; Python's codec name
PRESCAN_BYTES = 1024  # WHATWG "prescan a byte stream to determine its encoding" looks no further
DETECT_BYTES = 64_000  # the detector reads this much; enough for a stable guess, bounded CPU per page

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"))
_WIDE = ("utf-16", "utf-32")
_ISO_TO_WINDOWS = {"iso8859-2": "cp1250", "iso8859-5": "cp1251", "iso8859-7": "cp1253", "iso8859-13": "cp1257",
                   "iso8859-15": "cp1252", "latin-1": "cp1252", "iso8859-1": "cp1252"}
_C1_BYTES = re.compile(rb"[\x80-\x9f]")


@dataclass(frozen=True)
class Sniffed:
    """The encoding a body is decoded with (a Python codec name, e.g. 'cp1252') and which step chose it."""

    encoding: str
    source: str  # one of ENCODING_SOURCES


def label_to_encoding(label: str | None) -> str | None:
    """A charset label as a browser reads it -> Python codec name; None when unknown ('latin1' -> 'cp1252')."""
    if not label:
        return None
    label = label.strip().strip("'\"")
    if not label:
        return None
    try:
        return resolve_encoding(label)
    except (LookupError, ValueError, TypeError):
        return None


def _bom(body: bytes) -> str | None:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return None


def _meta(body: bytes) -> str | None:
    label = html_body_declared_encoding(body[:PRESCAN_BYTES])
    found = label_to_encoding(label)
    if found is not None and found.startswith(_WIDE):
        return "utf-8"
    return found


def detect_encoding(body: bytes) -> str | None:
    """Guess the encoding of undeclared bytes; None when there is nothing to guess from (pure ASCII).

    Valid UTF-8 with non-ASCII bytes is UTF-8. Otherwise chardet (7.x) decides:
    both it and charset-normalizer 3.5 name Shift_JIS, EUC-KR, GB18030,
    windows-1251 and KOI8-R pages right, but charset-normalizer took German
    and Spanish windows-1252 pages for windows-1250 (the Spanish one then
    decodes wrong), and on the 9 realweb pages that are not UTF-8 it said
    windows-1250 twice where chardet said windows-1252 (see docs/real-web.md).
    """
    if body.isascii():
        return None
    if _valid_utf8(body) or mostly_utf8(body):  # the whole body: pages often stay ASCII for their first tens of KB
        return "utf-8"
    sample = body[:DETECT_BYTES]
    if sample.isascii():  # show the detector the bytes that tell, not a head of markup
        start = next(i for i, byte in enumerate(body) if byte >= 0x80)
        sample = body[max(0, start - DETECT_BYTES // 2) : start + DETECT_BYTES // 2]
    import chardet  # imported lazily: only undeclared non-UTF-8 pages need it

    guess = label_to_encoding(chardet.detect(sample).get("encoding"))
    if guess in _ISO_TO_WINDOWS and _C1_BYTES.search(body):
        return _ISO_TO_WINDOWS[guess]  # 0x80-0x9F are control codes in ISO-8859-x: the page is in the Windows sibling
    return guess


def mostly_utf8(body: bytes) -> bool:
    """More well-formed multi-byte UTF-8 characters than invalid bytes: UTF-8 with a few stray legacy bytes.

    Such pages (a CMS pasting windows-1252 snippets into a UTF-8 template) read
    best as UTF-8 with a few replacement characters; read as windows-1252,
    every other accented letter would turn into mojibake. A windows-1252 page
    almost never forms valid multi-byte UTF-8 by chance.
    """
    text = body.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    return len(text) - len(text.encode("ascii", errors="ignore")) - invalid > invalid


def _valid_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(body) - 3 and exc.reason == "unexpected end of data"  # cut mid-character by the size cap


def sniff_encoding(content_type: str | None, body: bytes) -> Sniffed:
    """The encoding to decode ``body`` with, given the Content-Type header (or None); never raises.

    One step beyond the browser: a declared (http/meta) encoding the bytes are
    not valid in, when detection names one they are valid in, loses to it
    (source ``detected_over_http`` / ``detected_over_meta``). A page declared
    UTF-8 but saved as windows-1252 then reads without U+FFFD, where a browser
    would show replacement characters.
    """
    found = _bom(body)
    if found:
        return Sniffed(found, "bom")
    declared = label_to_encoding(http_content_type_encoding(content_type)) if content_type else None
    source = "http"
    if declared is None:
        declared, source = _meta(body), "meta"
    if declared is not None:
        if _decodes(body, declared) or (declared == "utf-8" and mostly_utf8(body)):
            return Sniffed(declared, source)
        guess = _detect(body)
        if guess is not None and guess != declared and _decodes(body, guess):
            logger.info("declared %s (%s) does not decode the body; detected %s", declared, source, guess)
            return Sniffed(guess, f"detected_over_{source}")
        return Sniffed(declared, source)
    guess = _detect(body)
    if guess is not None:
        return Sniffed(guess, "detected")
    return Sniffed(DEFAULT_ENCODING, "default")


def _detect(body: bytes) -> str | None:
    try:
        return detect_encoding(body)
    except Exception:  # noqa: BLE001 - a detector bug must not fail the page; the declaration or default still decodes it
        logger.warning("encoding detection failed", exc_info=True)
        return None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
        return True
    except (UnicodeDecodeError, LookupError):
        return False


def decode_body(body: bytes, encoding: str | None = None, content_type: str | None = None) -> str:
    """``body`` as text: with ``encoding`` if given (and known), else sniffed; a BOM is dropped; never raises."""
    chosen = label_to_encoding(encoding) if encoding else None
    if chosen is None:
        chosen = sniff_encoding(content_type, body).encoding
    for bom, name in _BOMS:
        if body.startswith(bom) and codecs.lookup(name).name == codecs.lookup(chosen).name:
            body = body[len(bom):]
            break
    return body.decode(chosen, errors="replace")
