"""Page content of the local world, rendered on request from the corpus records.

``site_pages(corpus, host)`` lists a host's pages as ``path -> builder``;
a builder returns a ``PageDoc`` (title, sections, language, date). The HTML
around it (navigation, cookie banner, sidebar, footer, scripts) is added by
``pipelines.world.html_render``; the search index reads ``PageDoc.text()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from pipelines.world.corpus import DIRECTORY_HOST, NEWS_HOST, Company, Corpus, Twin, slugify

__all__ = ["PageDoc", "site_pages", "REDIRECTS", "DISALLOWED", "money", "employees_phrase"]

REDIRECTS = {"/about-us": ("/about", 301), "/leadership": ("/team", 301), "/home": ("/", 302), "/company": ("/about", 302)}
DISALLOWED = ("/internal/",)


@dataclass
class PageDoc:
    title: str
    sections: list[tuple[str, list[str]]]
    site_name: str
    kind: str = "company"  # company | twin | news | directory | print
    lang: str = "en"
    date: str | None = None
    sidebar: list[tuple[str, str]] = field(default_factory=list)

    def text(self) -> str:
        parts = [self.title]
        for heading, paragraphs in self.sections:
            parts.append(heading)
            parts.extend(paragraphs)
        return "\n".join(p for p in parts if p)


def money(amount: int, style: int = 0) -> str:
    m = f"{amount / 1e6:g}"
    return (f"${m} million", f"${m}M", f"USD {m} million", f"{m.replace('.', ',')} Mio. US-Dollar")[style % 4]


def employees_phrase(n: int, style: int) -> str:
    if style % 3 == 1 and n >= 1000 and n % 100 == 0:
        return f"about {n / 1000:g}k staff"
    if style % 3 == 2:
        return f"a team of roughly {n:,} people"
    return f"{n:,} employees"


def _round_slug(c: Company) -> str:
    return slugify(c.funding_round)


def _funding_path(c: Company) -> str:
    return f"/news/{c.funding_year}/{c.slug}-raises-{_round_slug(c)}"


def _old_news_path(c: Company) -> str:
    return f"/news/{c.old_news_year}/{c.slug}-opens-new-site"


def news_article_path(c: Company) -> str:
    return f"/{c.funding_year}/{c.slug}-{_round_slug(c)}-funding"


def _own(c: Company, fact: str) -> bool:
    return fact not in c.third_party_only


def _company_doc(c: Company, title: str, sections, **kw) -> PageDoc:
    side = [("Latest news", "/news"), ("Careers at " + c.name, "/careers"), ("Contact", "/contact")]
    return PageDoc(f"{title} | {c.name}", sections, c.name, sidebar=side, **kw)


def _home(c: Company) -> PageDoc:
    return _company_doc(c, "Home", [
        (f"{c.name}: {c.activity} that just work", [
            f"Welcome to {c.name}. We design and build {c.activity} for customers in more than 30 countries.",
            f"Our flagship product, {c.product}, helps teams cut costs and ship faster.",
            f"“{c.name} changed how we plan our week.” — Dana Whitfield, operations lead at Contoso",
        ]),
        ("Why customers choose us", [f"Reliable support, open interfaces and a roadmap shaped by users of {c.product}."]),
    ])


def _about(c: Company) -> PageDoc:
    facts = [f"{c.name} was founded in {c.founded} and is headquartered in {c.hq_city}, {c.country}."]
    if _own(c, "employees"):
        facts.append(f"Today {c.name} has {employees_phrase(c.employees, c.index)} across three continents.")
    return _company_doc(c, "About us", [
        ("Who we are", facts + [f"{c.name} makes {c.activity}; its flagship product, {c.product}, is used worldwide."]),
        ("Our history", [
            f"In {c.ceo_since}, {c.ceo} succeeded former CEO {c.former_ceo}, who had led the company since its early years.",
            f"Under {c.ceo}, {c.name} opened new markets and doubled its customer base.",
        ]),
    ])


def _team(c: Company) -> PageDoc:
    ceo = [f"{c.ceo} is the Chief Executive Officer of {c.name} and has led the company as CEO since {c.ceo_since}."]
    if _own(c, "ceo_previous_employer"):
        ceo.append(f"Before joining {c.name}, {c.ceo} spent {c.ceo_previous_years} years at {c.ceo_previous_employer}.")
    return _company_doc(c, "Leadership team", [
        (c.ceo, ceo),
        (c.cto, [f"{c.cto} is Chief Technology Officer. {c.cto} joined {c.name} from {c.cto_previous_employer} in 2018."]),
        (c.cfo, [f"{c.cfo} serves as Chief Financial Officer and oversees finance and legal."]),
    ])


def _news_index(c: Company) -> PageDoc:
    items = [f"{c.name} unveils the new version of {c.product} (2023)", f"{c.name} opens new site ({c.old_news_year})"]
    if _own(c, "funding_round"):
        items.insert(0, f"{c.name} raises {money(c.funding_amount)} {c.funding_round} ({c.funding_year})")
    return _company_doc(c, "News", [("Newsroom", items)])


def _funding_news(c: Company, printable: bool = False) -> PageDoc:
    body = [
        f"{c.name} today announced a {c.funding_round} funding round of {money(c.funding_amount)}, led by {c.funding_investor}.",
        f"CEO {c.ceo} said the money will expand production of {c.product} and hiring in {c.hq_city}.",
        f"The round brings total funding to more than {money(c.funding_amount + c.previous_amount)}.",
    ]
    title = f"{c.name} raises {money(c.funding_amount)} {c.funding_round}"
    if printable:
        return PageDoc(f"{title} (print version)", [("", body)], c.name, kind="print", date=str(c.funding_year))
    return _company_doc(c, title, [("", body)], date=f"{c.funding_year}-03-14")


def _old_news(c: Company) -> PageDoc:
    return _company_doc(c, f"{c.name} opens new site ({c.old_news_year})", [("", [
        f"{c.name} CEO {c.former_ceo} announced today that the company has opened a new production site.",
        f"“This is a big step for us,” said {c.former_ceo}, who joined {c.name} from {c.former_ceo_employer}.",
        f"{c.name} now has {c.old_employees} employees and recently closed a {c.previous_round} round of {money(c.previous_amount)}.",
        f"The company's flagship product, {c.old_product}, remains its best seller.",
    ])], date=f"{c.old_news_year}-06-02")


def _launch_news(c: Company) -> PageDoc:
    return _company_doc(c, f"{c.name} unveils new version of {c.product}", [("", [
        f"{c.name} unveiled a new version of its flagship product, {c.product}, at its customer conference.",
        f"The update adds offline mode and faster reporting, {c.name} said.",
    ])], date="2023-09-20")


def _careers(c: Company) -> PageDoc:
    phrase = employees_phrase(c.employees, c.index + 2)
    intro = [f"Join {phrase if phrase.startswith('a team') else 'our team of ' + phrase} and help build {c.activity}."] \
        if _own(c, "employees") else [f"Join {c.name} and help build {c.activity}."]
    return _company_doc(c, "Careers", [("Work with us", intro + [f"Most roles are based at our offices in {c.hq_city}."]),
                                       ("Open positions", ["Senior Backend Engineer (Python)", "Field Sales Manager",
                                                           "Customer Success Lead"])])


def _contact(c: Company) -> PageDoc:
    return _company_doc(c, "Contact", [("Get in touch", [
        f"Our headquarters are located in {c.hq_city}, {c.country}.",
        f"Email: hello@{c.host} · Phone: +1 555 0100 {c.index:04d}",
    ])])


def _german(c: Company) -> PageDoc:
    text = [f"{c.name} wurde {c.founded} gegründet und hat seinen Hauptsitz in {c.hq_city}."]
    if _own(c, "employees"):
        text.append(f"{c.name} beschäftigt rund {c.employees:,} Mitarbeiter.".replace(",", "."))
    text += [f"Geschäftsführer und CEO von {c.name} ist {c.ceo}.", f"Unser Hauptprodukt ist {c.product}."]
    doc = _company_doc(c, "Über uns", [("Wer wir sind", text)], lang="de")
    return doc


def _draft(c: Company) -> PageDoc:
    return _company_doc(c, "Internal draft", [("Draft", ["Internal roadmap draft. Not for publication."])])


def company_pages(c: Company) -> dict[str, Callable[[], PageDoc]]:
    pages = {"/": lambda: _home(c), "/about": lambda: _about(c), "/team": lambda: _team(c), "/news": lambda: _news_index(c),
             _old_news_path(c): lambda: _old_news(c), f"/news/2023/{slugify(c.product)}-update": lambda: _launch_news(c),
             "/careers": lambda: _careers(c), "/contact": lambda: _contact(c), "/de/ueber-uns": lambda: _german(c),
             "/internal/draft-roadmap": lambda: _draft(c)}
    if _own(c, "funding_round"):
        pages[_funding_path(c)] = lambda: _funding_news(c)
        pages[_funding_path(c) + "/print"] = lambda: _funding_news(c, printable=True)
    return pages


def twin_pages(t: Twin, real: Company) -> dict[str, Callable[[], PageDoc]]:
    def about() -> PageDoc:
        return PageDoc(f"About | {t.name}", [("About us", [
            f"{t.name} was founded in {t.founded} and is headquartered in {t.hq_city}.",
            f"{t.name} employs {t.employees:,} people. CEO {t.ceo} leads the company.",
            f"Our flagship product, {t.product}, serves mid-sized manufacturers.",
        ])], t.name, kind="twin")

    def home() -> PageDoc:
        return PageDoc(f"Home | {t.name}", [(f"Welcome to {t.name}", [
            f"{t.name} builds {real.activity} for regional customers.", f"Meet {t.product}, the tool our customers love."])],
            t.name, kind="twin")

    return {"/": home, "/about": about}


# --- third-party sites ------------------------------------------------------------

def _article(corpus: Corpus, c: Company) -> PageDoc:
    other = corpus.companies[(c.index + 1) % len(corpus.companies)]
    body = [
        f"{c.name}, the {c.hq_city}-based maker of {c.activity}, has raised {money(c.funding_amount, 1)} in a {c.funding_round} round.",
        f"The round was led by {c.funding_investor}, {c.name} said on Tuesday.",
        f"{c.name} CEO {c.ceo} told DailyBiz the money will go into {c.product}, the company's flagship product.",
    ]
    if not _own(c, "ceo_previous_employer") or c.index % 2 == 0:
        body.append(f"Before joining {c.name}, {c.ceo} spent {c.ceo_previous_years} years at {c.ceo_previous_employer}.")
    sections = [("", body)]
    if other is not c:
        sections.append(("In other news", [f"{other.name} said its {other.product} now ships to 40 countries."]))
    return PageDoc(f"{c.name} raises {money(c.funding_amount, 1)} {c.funding_round} | DailyBiz News", sections, "DailyBiz News",
                   kind="news", date=f"{c.funding_year}-04-01",
                   sidebar=[(f"More on {other.name}", f"/{other.funding_year}/{other.slug}-{_round_slug(other)}-funding")])


def _twin_article(t: Twin) -> PageDoc:
    return PageDoc(f"{t.name} expands in {t.hq_city} | DailyBiz News", [("", [
        f"{t.name} CEO {t.ceo} said the company, founded in {t.founded}, is hiring again.",
        f"{t.name} is headquartered in {t.hq_city} and employs {t.employees:,} people.",
        f"{t.name}'s flagship product, {t.product}, is its main source of revenue.",
    ])], "DailyBiz News", kind="news", date="2024-02-11")


def _profile(c: Company) -> PageDoc:
    prose = [
        f"{c.name} is a {c.activity} company headquartered in {c.hq_city}, {c.country}. {c.name} was founded in {c.founded}.",
        f"{c.name} employs {employees_phrase(c.employees, 1 if c.employees % 100 == 0 else 0).replace('staff', 'people')}.",
        f"{c.name} is led by CEO {c.ceo}. {c.ceo} previously worked at {c.ceo_previous_employer}.",
        f"{c.name}'s main product is {c.product}.",
    ]
    table = [f"Founded: {c.founded}", f"Headquarters: {c.hq_city}", f"Employees: {c.employees:,}", f"Industry: {c.industry}"]
    return PageDoc(f"{c.name} – company profile | Company Directory", [("Profile", prose), ("Key data", table)],
                   "Company Directory", kind="directory")


def _twin_profile(t: Twin) -> PageDoc:
    return PageDoc(f"{t.name} – company profile | Company Directory", [("Profile", [
        f"{t.name} is headquartered in {t.hq_city}. {t.name} was founded in {t.founded}.",
        f"{t.name} employs {t.employees:,} people and is led by CEO {t.ceo}.",
    ])], "Company Directory", kind="directory")


def _industry(corpus: Corpus, industry: str, page: int) -> PageDoc:
    members = [c for c in corpus.companies if c.industry == industry][(page - 1) * 50: page * 50]
    return PageDoc(f"{industry} companies (page {page}) | Company Directory",
                   [("Listings", [f"{c.name} — {c.activity}, {c.hq_city}" for c in members])], "Company Directory", kind="directory")


def third_party_pages(corpus: Corpus, host: str) -> dict[str, Callable[[], PageDoc]]:
    pages: dict[str, Callable[[], PageDoc]] = {}
    if host == NEWS_HOST:
        pages["/"] = lambda: PageDoc("DailyBiz News – business news", [("Latest", [
            f"{c.name} raises {money(c.funding_amount, 1)}" for c in corpus.companies[:30]])], "DailyBiz News", kind="news")
        for c in corpus.companies:
            pages[news_article_path(c)] = partial(_article, corpus, c)
            if c.twin:
                pages[f"/2024/{c.twin.slug}-expands"] = partial(_twin_article, c.twin)
    elif host == DIRECTORY_HOST:
        industries = sorted({c.industry for c in corpus.companies})
        pages["/"] = lambda: PageDoc("Company Directory", [("Industries", industries)], "Company Directory", kind="directory")
        for c in corpus.companies:
            pages[f"/companies/{c.slug}"] = partial(_profile, c)
            if c.twin:
                pages[f"/companies/{c.twin.slug}"] = partial(_twin_profile, c.twin)
        for ind in industries:
            count = sum(1 for c in corpus.companies if c.industry == ind)
            for p in range(1, min(3, (count + 49) // 50) + 1):
                pages[f"/industry/{slugify(ind)}" + (f"/page/{p}" if p > 1 else "")] = partial(_industry, corpus, ind, p)
    return pages


def site_pages(corpus: Corpus, host: str) -> dict[str, Callable[[], PageDoc]]:
    """Every page of ``host`` as path -> builder (empty for an unknown host)."""
    if host in corpus.by_host:
        return company_pages(corpus.by_host[host])
    if host in corpus.twins_by_host:
        return twin_pages(*corpus.twins_by_host[host])
    return third_party_pages(corpus, host)
