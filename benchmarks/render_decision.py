"""How many real pages the render tier's auto rule would send to the browser (it should be ~none: they are static).

Reads the 300 pages of ``shared/realweb`` (trafilatura's evaluation pages,
all of them static HTML with scripts), extracts each as trawl does, and counts
the pages each rule of ``pipelines.render.decision`` would render, plus the
rules considered and not taken (a text/HTML ratio alone).

    .venv/bin/python benchmarks/render_decision.py [--realweb ../shared/realweb]
"""

from __future__ import annotations

import argparse
import collections
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    from pipelines.extract import extract_page
    from pipelines.fetch.result import FetchResult
    from pipelines.render.decision import RENDER_BELOW_TEXT_CHARS, visible_text_chars

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realweb", default=os.path.join(ROOT, "..", "shared", "realweb"))
    ap.add_argument("--results-dir", default=os.path.join(ROOT, "benchmarks", "results"))
    args = ap.parse_args()
    with open(os.path.join(args.realweb, "manifest.json")) as fh:
        entries = json.load(fh)
    counts: collections.Counter = collections.Counter()
    for entry in entries:
        with open(os.path.join(args.realweb, entry["file"]), "rb") as fh:
            body = fh.read()
        page = extract_page(FetchResult(url=entry["url"], final_url=entry["url"], status="ok", content_type="text/html",
                                        body=body, bytes=len(body)))
        chars, scripted = len(page.text.strip()), b"<script" in body.lower()
        counts["pages"] += 1
        counts["with_scripts"] += scripted
        counts["main_text_under_200"] += chars < RENDER_BELOW_TEXT_CHARS
        counts["visible_text_under_200"] += visible_text_chars(body) < RENDER_BELOW_TEXT_CHARS
        counts["rendered_by_the_auto_rule"] += page.needs_render
        for ratio in (0.005, 0.01, 0.02):
            counts[f"ratio_alone_under_{ratio}"] += scripted and chars < ratio * len(body)
    os.makedirs(args.results_dir, exist_ok=True)
    with open(os.path.join(args.results_dir, "render_decision.json"), "w") as fh:
        json.dump({"realweb": os.path.abspath(args.realweb), "counts": dict(counts)}, fh, indent=2)
    lines = ["| pages | count |", "|---|---|"] + [f"| {k} | {v} |" for k, v in counts.items()]
    with open(os.path.join(args.results_dir, "render_decision.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
