"""The fictional companies of the local world and their planted facts.

Everything is a pure function of ``(seed, index)``: company ``i`` of seed 7 is
the same on every machine, so a 10,000-company world needs no pages on disk;
``pipelines.world.pages`` renders any page on request from these records.
Hard cases are assigned by index so that even a 5-company world has each:
a former CEO on an old news page, facts only on third-party pages, numbers
in several formats, near-duplicate pages, a German page, and a similarly
named company with different facts.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property

__all__ = ["Company", "Twin", "Corpus", "THIRD_PARTY_HOSTS", "FACT_FIELDS", "WORLD_YEAR"]

WORLD_YEAR = 2025
NEWS_HOST = "dailybiz-news.example"
DIRECTORY_HOST = "company-directory.example"
THIRD_PARTY_HOSTS = (NEWS_HOST, DIRECTORY_HOST)
FACT_FIELDS = ("ceo", "founded", "hq_city", "employees", "product", "funding_round", "funding_amount", "ceo_previous_employer")

_BRAND_A = ("Ac", "Bor", "Cob", "Dun", "Ever", "Fjor", "Gran", "Hel", "Ion", "Jun", "Kes", "Lum", "Mer", "Nim", "Or", "Pin",
            "Quar", "Red", "Sum", "Tun", "Um", "Ver", "Wil", "Xen", "Yar", "Zeph", "Alt", "Bri", "Cal", "Del", "Elm", "Fal",
            "Gal", "Hal", "Isk", "Jas", "Kal", "Lor", "Mar", "Nor")
_BRAND_B = ("me", "ealis", "alt", "more", "line", "d", "ite", "ix", "os", "iper", "trel", "en", "idian", "bus", "bit",
            "nacle", "ry", "wood", "mit", "dra", "ber", "tex", "low", "on", "row", "yr", "ara", "sto", "vera", "ta")
INDUSTRIES = {  # industry word -> (twin spelling, what the company does)
    "Robotics": ("Robotix", "industrial robots"), "Analytics": ("Analytica", "data analytics software"),
    "Systems": ("Sistems", "control systems"), "Labs": ("Laboratories", "lab automation"),
    "Energy": ("Energie", "battery storage"), "Logistics": ("Logistix", "freight software"),
    "Foods": ("Food Co", "plant-based foods"), "Networks": ("Netwerks", "network equipment"),
    "Health": ("Healthcare", "digital health tools"), "Dynamics": ("Dynamix", "motion control"),
    "Materials": ("Material Sciences", "advanced composites"), "Biotech": ("Bio", "enzyme engineering"),
    "Security": ("Secure", "cyber security"), "Aerospace": ("Aero", "satellite components"),
    "Software": ("Soft", "workflow software"), "Semiconductors": ("Semi", "power chips"),
}
_FIRST_F = ("Anna", "Maria", "Sofia", "Elena", "Laura", "Clara", "Nina", "Julia", "Hannah", "Lea", "Mia", "Emma", "Olivia",
            "Priya", "Aiko", "Grace", "Ingrid", "Rosa", "Yara", "Zoe", "Lina", "Freya", "Nora", "Ada")
_FIRST_M = ("Karl", "Tom", "Paul", "Jonas", "Lukas", "David", "Ravi", "Kenji", "Omar", "Felix", "Hugo", "Leon", "Marco",
            "Pedro", "Samuel", "Victor", "Erik", "Ivan", "Malik", "Noah", "Oscar", "Theo", "Aaron", "Bruno")
_LAST = ("Berg", "Weiss", "Lopez", "Okafor", "Tanaka", "Novak", "Schmidt", "Larsen", "Moreau", "Rossi", "Kowalski",
         "Haddad", "Lindqvist", "Brennan", "Castillo", "Dubois", "Fischer", "Greene", "Hoffmann", "Iyer", "Jensen",
         "Kaur", "Mendes", "Nakamura", "Olsen", "Petrov", "Quinn", "Reyes", "Sato", "Thornton", "Ueda", "Vance",
         "Walsh", "Yilmaz", "Zimmer", "Abbott", "Barros", "Conti", "Duarte", "Engel", "Foster", "Gallo", "Horvat")
_EMPLOYERS = ("Initech", "Globex Corporation", "Umbrella Logistics", "Vandelay Industries", "Hooli", "Soylent Foods",
              "Tyrell Corporation", "Cyberdyne Systems", "Wayne Biotech", "Stark Maritime", "Oscorp Materials",
              "Massive Dynamic", "Aperture Labs", "Northwind Traders", "Contoso", "Fabrikam", "Wonka Industries",
              "Dunder Mifflin", "Sterling Cooper", "Pied Piper", "Bluth Company", "Monarch Solutions",
              "Prestige Worldwide", "Gekko Partners", "Blue Sun Corporation", "Weyland Aerospace")
CITIES = (("Hamburg", "Germany"), ("Munich", "Germany"), ("Austin", "USA"), ("Denver", "USA"), ("Lyon", "France"),
          ("Toronto", "Canada"), ("Leeds", "UK"), ("Porto", "Portugal"), ("Osaka", "Japan"), ("Rotterdam", "Netherlands"),
          ("Gothenburg", "Sweden"), ("Krakow", "Poland"), ("Valencia", "Spain"), ("Turin", "Italy"), ("Melbourne", "Australia"),
          ("Seattle", "USA"), ("Boston", "USA"), ("Zurich", "Switzerland"), ("Vienna", "Austria"), ("Dublin", "Ireland"),
          ("Tallinn", "Estonia"), ("Aarhus", "Denmark"), ("Bristol", "UK"), ("Pittsburgh", "USA"), ("Montreal", "Canada"))
_P_PREFIX = ("Robo", "Data", "Flow", "Grid", "Nova", "Vector", "Quantum", "Pulse", "Core", "Sky", "Terra", "Aqua",
             "Spark", "Bright", "Swift", "Opti")
_P_NOUN = ("Arm", "Pilot", "Sense", "Track", "Forge", "Ledger", "Link", "Hub", "Scope", "Vault", "Stream", "Mind", "Gate", "Dock")
_P_TIER = ("Pro", "Cloud", "360", "Max", "One", "Studio", "Edge", "Suite")
_INDUSTRY_NAMES = tuple(INDUSTRIES)
ROUNDS = ("Seed", "Series A", "Series B", "Series C", "Series D")


@dataclass(frozen=True)
class Twin:
    """A similarly named company with facts of its own (a distractor)."""

    name: str
    slug: str
    ceo: str
    founded: int
    hq_city: str
    employees: int
    product: str

    @property
    def host(self) -> str:
        return f"{self.slug}.example"


@dataclass(frozen=True)
class Company:
    index: int
    name: str
    slug: str
    industry: str
    activity: str
    ceo: str
    ceo_pronoun: str
    ceo_since: int
    ceo_previous_employer: str
    ceo_previous_years: int
    former_ceo: str
    former_ceo_employer: str
    founded: int
    hq_city: str
    country: str
    employees: int
    old_employees: int
    product: str
    old_product: str
    funding_round: str
    funding_amount: int
    funding_year: int
    funding_investor: str
    previous_round: str
    previous_amount: int
    previous_year: int
    old_news_year: int
    cto: str
    cto_previous_employer: str
    cfo: str
    third_party_only: tuple[str, ...]
    twin: Twin | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def host(self) -> str:
        return f"{self.slug}.example"

    def truth(self) -> dict:
        row: dict[str, object] = {"company": self.name, "domain": self.host}
        row.update({f: getattr(self, f) for f in FACT_FIELDS})
        row["industry"] = self.industry  # for columns that classify a company (the llm kind's example)
        row["hard_cases"] = {"third_party_only": list(self.third_party_only), "former_ceo": self.former_ceo,
                             "twin": self.twin.name if self.twin else None}
        return row


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _person(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        return f"{rng.choice(_FIRST_F)} {rng.choice(_LAST)}", "she"
    return f"{rng.choice(_FIRST_M)} {rng.choice(_LAST)}", "he"


def _employees(rng: random.Random) -> int:
    n = int(rng.choice((rng.randint(4, 99) * 10, rng.randint(10, 95) * 100)))
    return n


def _amount(rng: random.Random, rnd: str) -> int:
    base = {"Seed": (1, 5), "Series A": (6, 20), "Series B": (20, 60), "Series C": (50, 150), "Series D": (120, 400)}[rnd]
    return int(rng.randint(base[0] * 2, base[1] * 2) * 500_000)


def _product(rng: random.Random) -> str:
    return f"{rng.choice(_P_PREFIX)}{rng.choice(_P_NOUN)} {rng.choice(_P_TIER)}"


class Corpus:
    """``companies`` fictional companies for ``seed``; pure, cheap to rebuild in every process."""

    def __init__(self, seed: int = 7, companies: int = 5) -> None:
        self.seed = seed
        self.size = companies
        self.companies: list[Company] = []
        taken: set[str] = set()
        for i in range(companies):
            self.companies.append(self._company(i, taken))
        self.by_host: dict[str, Company] = {c.host: c for c in self.companies}
        self.twins_by_host: dict[str, tuple[Twin, Company]] = {c.twin.host: (c.twin, c) for c in self.companies if c.twin}
        self.by_slug: dict[str, Company] = {c.slug: c for c in self.companies}

    def _name(self, rng: random.Random, taken: set[str]) -> tuple[str, str]:
        for _ in range(50):
            brand = rng.choice(_BRAND_A) + rng.choice(_BRAND_B)
            industry = rng.choice(_INDUSTRY_NAMES)
            name = f"{brand.capitalize()} {industry}"
            if name not in taken:
                taken.add(name)
                return name, industry
        n = len(taken)
        name = f"{brand.capitalize()}{n} {industry}"
        taken.add(name)
        return name, industry

    def _company(self, i: int, taken: set[str]) -> Company:
        rng = random.Random(f"trawl-world:{self.seed}:{i}")
        name, industry = self._name(rng, taken)
        ceo, pronoun = _person(rng)
        former, _ = _person(rng)
        while former == ceo:
            former, _ = _person(rng)
        founded = rng.randint(1988, 2011)
        old_year = rng.randint(max(founded + 2, 2012), 2016)
        city, country = rng.choice(CITIES)
        employees = _employees(rng)
        r = rng.randint(1, 4)
        rnd, prev = ROUNDS[r], ROUNDS[r - 1]
        employers = rng.sample(_EMPLOYERS, 3)
        twin = None
        if i % 2 == 1:
            t_ceo, _ = _person(rng)
            t_city = rng.choice([c for c, _ in CITIES if c != city])
            t_name = f"{name.split()[0]} {INDUSTRIES[industry][0]}"
            taken.add(t_name)
            twin = Twin(t_name, slugify(t_name), t_ceo, founded + rng.randint(3, 9), t_city,
                        max(20, employees // 3 // 10 * 10), _product(rng))
        # Which fact lives only on third-party pages rotates with the index.
        tpo = (("funding_round", "funding_amount"), ("ceo_previous_employer",), ("employees",), (), ())[i % 5]
        return Company(
            index=i, name=name, slug=slugify(name), industry=industry, activity=INDUSTRIES[industry][1],
            ceo=ceo, ceo_pronoun=pronoun, ceo_since=rng.randint(old_year + 2, 2022),
            ceo_previous_employer=employers[0], ceo_previous_years=rng.randint(3, 14),
            former_ceo=former, former_ceo_employer=employers[1], founded=founded, hq_city=city, country=country,
            employees=employees, old_employees=max(10, employees // 4 // 10 * 10), product=_product(rng),
            old_product=_product(rng), funding_round=rnd, funding_amount=_amount(rng, rnd),
            funding_year=rng.randint(2023, WORLD_YEAR), funding_investor=f"{rng.choice(_LAST)} Ventures",
            previous_round=prev, previous_amount=_amount(rng, prev), previous_year=rng.randint(old_year, 2021),
            old_news_year=old_year, cto=_person(rng)[0], cto_previous_employer=employers[2], cfo=_person(rng)[0],
            third_party_only=tpo, twin=twin,
        )

    @cached_property
    def hosts(self) -> list[str]:
        return [*THIRD_PARTY_HOSTS, *self.by_host, *self.twins_by_host]

    def ground_truth(self) -> dict:
        return {"seed": self.seed, "companies": [c.truth() for c in self.companies],
                "fact_fields": list(FACT_FIELDS), "world_year": WORLD_YEAR}

    def write_ground_truth(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.ground_truth(), f, indent=1)

    def rows(self) -> list[dict[str, str]]:
        return [{"company": c.name, "domain": c.host} for c in self.companies]


def as_dict(company: Company) -> dict:
    return asdict(company)
