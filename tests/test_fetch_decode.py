"""Encoding sniffing as the WHATWG HTML Standard orders it: BOM, HTTP charset, <meta>, detection, windows-1252."""

from __future__ import annotations

import codecs

import pytest

from pipelines.fetch.decode import Sniffed, decode_body, label_to_encoding, sniff_encoding
from tests.fixtures_browser_web import SAMPLES, _page

# (sample, codec the bytes are in, the codec a right reading decodes them with)
LEGACY = [
    ("ja", "shift_jis", "cp932"),
    ("ko", "euc_kr", "cp949"),
    ("zh", "gb18030", "gb18030"),
    ("ru", "cp1251", "cp1251"),
    ("ru", "koi8_r", "koi8-r"),
    ("de", "cp1252", "cp1252"),
    ("fr", "cp1252", "cp1252"),
    ("es", "cp1252", "cp1252"),
]


@pytest.mark.parametrize("sample,codec,expected", LEGACY)
def test_undeclared_legacy_pages_are_detected(sample, codec, expected):
    body = _page("t", SAMPLES[sample]).encode(codec)
    sniffed = sniff_encoding("text/html", body)
    assert sniffed.source == "detected"
    assert codecs.lookup(sniffed.encoding).name == codecs.lookup(expected).name
    assert SAMPLES[sample] in decode_body(body, sniffed.encoding)


@pytest.mark.parametrize("sample,codec,expected", LEGACY)
def test_declared_legacy_pages_follow_the_declaration(sample, codec, expected):
    body = _page("t", SAMPLES[sample], f'<meta charset="{codec}">').encode(codec)
    assert sniff_encoding("text/html", body).source == "meta"
    assert SAMPLES[sample] in decode_body(body, sniff_encoding("text/html", body).encoding)
    http = sniff_encoding(f"text/html; charset={codec}", body)
    assert http.source == "http" and SAMPLES[sample] in decode_body(body, http.encoding)


@pytest.mark.parametrize("codec,bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-8", codecs.BOM_UTF8)])
def test_a_bom_wins_over_every_declaration(codec, bom):
    body = bom + _page("t", SAMPLES["ja"], '<meta charset="iso-8859-1">').encode(codec)
    sniffed = sniff_encoding("text/html; charset=iso-8859-1", body)
    assert (sniffed.encoding, sniffed.source) == (codec, "bom")
    text = decode_body(body, sniffed.encoding)
    assert text.startswith("<!doctype") and SAMPLES["ja"] in text


def test_http_charset_wins_over_meta():
    body = _page("t", SAMPLES["ru"], '<meta charset="koi8-r">').encode("cp1251")
    assert sniff_encoding("text/html; charset=windows-1251", body).source == "http"


@pytest.mark.parametrize("label", ["iso-8859-1", "latin1", "ascii", "us-ascii", "ISO_8859-1"])
def test_latin1_labels_mean_windows_1252(label):
    """WHATWG Encoding Standard: these labels all name windows-1252, so 0x80-0x9F are “ ” € and not C1 controls."""
    body = _page("t", SAMPLES["cp1252q"], f'<meta charset="{label}">').encode("cp1252")
    sniffed = sniff_encoding("text/html", body)
    assert sniffed.encoding == "cp1252"
    assert SAMPLES["cp1252q"] in decode_body(body, sniffed.encoding)


@pytest.mark.parametrize("where", ["http", "meta"])
def test_declared_utf8_but_saved_as_windows_1252_reads_without_replacement_characters(where):
    head = '<meta charset="utf-8">' if where == "meta" else ""
    body = _page("t", SAMPLES["cp1252q"], head).encode("cp1252")
    sniffed = sniff_encoding("text/html; charset=utf-8" if where == "http" else "text/html", body)
    assert (sniffed.encoding, sniffed.source) == ("cp1252", f"detected_over_{where}")
    text = decode_body(body, sniffed.encoding)
    assert "\ufffd" not in text and SAMPLES["cp1252q"] in text


def test_meta_beyond_the_first_1024_bytes_is_not_read():
    body = ("<html><head><!--" + "x" * 1100 + '--><meta charset="koi8-r"></head><body>' + SAMPLES["de"] + "</body></html>").encode("cp1252")
    assert sniff_encoding("text/html", body).source == "detected"


def test_meta_utf16_means_utf8():
    body = _page("t", "Grüße aus Köln", '<meta charset="utf-16">').encode("utf-8")
    assert sniff_encoding("text/html", body) == Sniffed("utf-8", "meta")


def test_unknown_labels_fall_through_to_the_next_step():
    body = _page("t", SAMPLES["de"], '<meta charset="no-such-charset">').encode("utf-8")
    sniffed = sniff_encoding("text/html; charset=bogus", body)
    assert (sniffed.encoding, sniffed.source) == ("utf-8", "detected")


def test_ascii_only_pages_get_the_default():
    assert sniff_encoding(None, b"<html><body>plain</body></html>").source == "default"
    assert sniff_encoding(None, b"<html><body>plain</body></html>").encoding == "cp1252"


def test_utf7_is_refused():
    """UTF-7 would let ASCII bytes decode into markup; no browser honours it."""
    assert label_to_encoding("utf-7") is None


def test_decode_body_never_raises_on_garbage():
    assert isinstance(decode_body(bytes(range(256)) * 10, "utf-8"), str)
    assert isinstance(decode_body(b"\xff\xfe\x00", None), str)


def test_bytes_valid_in_no_likely_encoding_keep_the_declaration():
    """Invalid everywhere a detector would look (the world's bad-encoding trap): decode as declared, as a browser does."""
    body = _page("t", "Café Müller – naïve résumé").encode("cp1252") + b"\xff\xfe\xc3\x28\xa0\xa1\x80\x81"
    assert sniff_encoding("text/html; charset=utf-8", body) == Sniffed("utf-8", "http")


def test_c1_bytes_turn_an_iso_8859_guess_into_its_windows_sibling():
    body = _page("t", "Žluťoučký kůň „úpěl“ ďábelské ódy – šťastně.").encode("cp1250")
    sniffed = sniff_encoding("text/html", body)
    assert sniffed.source == "detected" and "Žluťoučký kůň „úpěl“" in decode_body(body, sniffed.encoding)
