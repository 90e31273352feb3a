"""Realistic HTML around a ``PageDoc``: head, scripts, cookie banner, nav, sidebar, footer.

The boilerplate is what makes main-text extraction real work: a crawler that
keeps the cookie banner or the footer in its chunks pays for it in tokens.
"""

from __future__ import annotations

from html import escape

from pipelines.world.corpus import Corpus
from pipelines.world.pages import DISALLOWED, PageDoc, site_pages

__all__ = ["render_html", "robots_txt", "sitemap_xml", "crawl_delay_host"]

_NAV = (("Home", "/"), ("About", "/about"), ("Team", "/team"), ("News", "/news"), ("Careers", "/careers"),
        ("Contact", "/contact"), ("Deutsch", "/de/ueber-uns"))
_SCRIPT_HEAD = ('<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}'
                "gtag('js',new Date());gtag('config','G-LOCALWORLD');</script>")
_SCRIPT_TAIL = ("<script>document.querySelectorAll('.cookie-accept').forEach(function(b){b.addEventListener('click',"
                "function(){document.getElementById('cookie-banner').remove();});});</script>")


def _e(text: str) -> str:
    return escape(text, quote=True)


def render_html(doc: PageDoc, path: str) -> str:
    if doc.kind == "print":
        body = "".join(f"<p>{_e(p)}</p>" for _, ps in doc.sections for p in ps)
        return (f'<!DOCTYPE html><html lang="{doc.lang}"><head><meta charset="utf-8"><title>{_e(doc.title)}</title>'
                f'<meta name="robots" content="noindex"></head><body><h1>{_e(doc.title)}</h1>{body}</body></html>')
    nav = _NAV if doc.kind == "company" else (("Home", "/"),)
    nav_html = "".join(f'<li><a href="{href}"{" class=active" if href == path else ""}>{_e(t)}</a></li>' for t, href in nav)
    sections = []
    for heading, paragraphs in doc.sections:
        head = f"<h2>{_e(heading)}</h2>" if heading else ""
        if len(paragraphs) > 2 and all(len(p) < 70 for p in paragraphs):
            inner = "<ul>" + "".join(f"<li>{_e(p)}</li>" for p in paragraphs) + "</ul>"
        else:
            inner = "".join(f"<p>{_e(p)}</p>" for p in paragraphs)
        sections.append(f"<section>{head}{inner}</section>")
    date = f'<p class="meta"><time datetime="{doc.date}">{doc.date}</time></p>' if doc.date else ""
    side = "".join(f'<li><a href="{href}">{_e(t)}</a></li>' for t, href in doc.sidebar)
    year = 2025
    return f"""<!DOCTYPE html>
<html lang="{doc.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(doc.title)}</title>
<meta name="description" content="{_e(doc.title)}">
<link rel="stylesheet" href="/static/site.css">
<link rel="canonical" href="{_e(path)}">
{_SCRIPT_HEAD}
</head>
<body>
<div id="cookie-banner" class="cookie-banner" role="dialog">
<p>We use cookies to improve your experience, analyse traffic and personalise content. You can change your preferences at any time.</p>
<button class="cookie-accept">Accept all</button> <button class="cookie-accept">Reject non-essential</button>
</div>
<header class="site-header"><a class="logo" href="/">{_e(doc.site_name)}</a>
<nav aria-label="Main"><ul>{nav_html}</ul></nav>
<form class="search" action="/search"><input name="q" placeholder="Search"></form>
</header>
<div class="layout">
<main>
<article>
<h1>{_e(doc.title.split(" | ")[0])}</h1>
{date}
{''.join(sections)}
</article>
</main>
<aside class="sidebar">
<h3>Quick links</h3><ul>{side}</ul>
<div class="newsletter"><h3>Newsletter</h3><p>Get the latest updates in your inbox.</p>
<input type="email" placeholder="you@example.com"><button>Subscribe</button></div>
</aside>
</div>
<footer class="site-footer">
<p>&copy; {year} {_e(doc.site_name)}. All rights reserved.</p>
<ul><li><a href="/imprint">Imprint</a></li><li><a href="/privacy">Privacy</a></li><li><a href="/contact">Contact</a></li></ul>
</footer>
{_SCRIPT_TAIL}
</body>
</html>"""


def crawl_delay_host(corpus: Corpus) -> str | None:
    """The one host whose robots.txt asks for a Crawl-delay (the first twin site)."""
    return next(iter(corpus.twins_by_host), None)


def robots_txt(corpus: Corpus, host: str, authority: str) -> str:
    lines = ["User-agent: *"] + [f"Disallow: {p}" for p in DISALLOWED] + ["Disallow: /search"]
    if host == crawl_delay_host(corpus):
        lines.append("Crawl-delay: 1")
    lines += ["", "User-agent: BadBot", "Disallow: /", "", f"Sitemap: http://{authority}/sitemap.xml", ""]
    return "\n".join(lines)


def sitemap_xml(corpus: Corpus, host: str, authority: str) -> str:
    paths = [p for p in site_pages(corpus, host) if not p.startswith(DISALLOWED) and not p.endswith("/print")]
    urls = "".join(f"<url><loc>http://{_e(authority)}{_e(p)}</loc></url>" for p in paths[:50_000])
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
