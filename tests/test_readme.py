"""The README names what exists, and everything it names exists: gan_lib's core modules and wings (its layout
table), the notebooks and the make targets, and the pages it links to."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_layout_table_names_the_core_s_modules_and_every_wing():
    table = README.split("| where | what it holds |")[1].split("\n\n")[0]
    rows = {row.split("|")[1].strip(): row.split("|")[2] for row in table.splitlines() if row.startswith("| `")}
    core = rows.pop("`gan_lib/` (the core)")
    named = {name for name in re.findall(r"`([a-z_]+)`( \()?", core) if name[1]}  # "`models` (Generator, ...)"
    assert {name for name, _ in named} == {p.stem for p in (ROOT / "gan_lib").glob("*.py")
                                                      if not p.stem.startswith("__")}
    assert {name.strip("`/") for name in rows} == {p.parent.name for p in (ROOT / "gan_lib").glob("*/__init__.py")}


def test_every_notebook_is_linked_and_every_link_exists():
    linked = set(re.findall(r"\]\(((?:notebooks|final)/[^)#]+\.ipynb)\)", README))
    notebooks = {p.relative_to(ROOT).as_posix() for folder in ("notebooks", "final")
                 for p in (ROOT / folder).glob("*.ipynb")}
    assert linked == notebooks


def test_every_make_target_is_named_and_every_named_one_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.search(r"^\.PHONY: (.*)$", makefile, re.M).group(1).split())
    named = set(re.findall(r"`make ([a-z-]+)", README)) | set(re.findall(r"^make ([a-z-]+)", README, re.M))
    assert named == targets


def test_every_page_the_readme_links_to_is_there():
    pages = re.findall(r"\]\(([^)#:]+)\)", README)
    assert pages and [p for p in pages if not (ROOT / p).exists()] == []


def test_the_readme_is_a_front_door_and_the_pages_beside_it_link_to_pages_that_exist():
    assert len(README.splitlines()) < 200  # measurements live in benchmarks/RESULTS.md, topics in docs/
    for page in [*(ROOT / "docs").glob("*.md"), ROOT / "benchmarks" / "RESULTS.md"]:
        links = re.findall(r"\]\(([^)#:]+)\)", page.read_text())
        assert [link for link in links if not (page.parent / link).exists()] == [], page.name


def test_the_readme_s_scores_are_the_results_book_s():
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    for run in ("32 px, 3,000 steps", "64 px, 5,000 steps"):
        swd, floor = re.search(rf"^\| {run} \| .* \| ([\d.]+) \| ([\d.]+) \|$", README, re.M).groups()
        assert f"SWD **{swd}** against a floor of **{floor}**" in " ".join(results.split()), run
    swd, floor = re.search(r"^\| 32 px, 3,000 steps \| .* \| ([\d.]+) \| ([\d.]+) \|$", README, re.M).groups()
    notebook = " ".join((ROOT / "notebooks" / "03_training.ipynb").read_text().replace('\\n",', "").split())
    assert f"an SWD of {swd} against its floor of {floor}" in notebook  # make real's run is notebook 03's
    caption = " ".join(README.split("## Quick start")[0].split())
    swd, floor = re.search(r"SWD ([\d.]+) against the held-out faces, beside a real-vs-real floor of ([\d.]+)",
                           caption).groups()
    assert re.search(rf"^\| 64 px, 5,000 steps \| .* \| {swd} \| {floor} \|$", README, re.M)


def test_the_readme_quotes_notebook_06s_own_run():
    table = README.split("| faces | floor | DCGAN at equal steps |")[1].split("\n\n")[0]
    rows = [row.split("|")[2:5] for row in table.splitlines() if row.startswith("| ") and "---" not in row]
    notebook = (ROOT / "notebooks" / "06_style_based_generator.ipynb").read_text()
    assert len(rows) == 2
    for floor, dcgan, style in rows:
        assert f"floor {floor.strip()}" in notebook or f"floor at {floor.strip()}" in notebook, floor
        assert f"SWD {dcgan.strip()}" in notebook and f"G {style.split()[0]}" in notebook, (dcgan, style)
