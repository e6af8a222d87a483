"""The sample workbooks as printed (SPEC 4.3): each panel's sample closed out and applied
(`survey-bridge demo`), rendered to PDF by LibreOffice headless with its default settings,
then read back with poppler: pages per sheet, each sheet's print scale, and the smallest
text on any page in points (measured against an 11-point reference rendered alike).

    python bench/print.py [--png docs/]     # --png: also the first Decisions page of each, 60 dpi

Needs LibreOffice (`soffice`) and poppler-utils (`pdftotext`, `pdftoppm`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORD = re.compile(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>')
FOOTER = re.compile(r"(\S[^\n]*?), page \d+ of \d+")


def render(folder: Path, *books: Path) -> list[Path]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(folder), *map(str, books)],
                   check=True, capture_output=True, timeout=300)
    return [folder / f"{b.stem}.pdf" for b in books]


def words(pdf: Path) -> list[list[tuple[float, str]]]:
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [[(float(b) - float(a), t) for a, b, t in WORD.findall(page)] for page in out.split("<page ")[1:]]


def sheet_of_pages(pdf: Path, n: int) -> list[str]:
    names = []
    for i in range(1, n + 1):
        text = subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        found = FOOTER.findall(text)
        names.append(found[-1].strip() if found else "?")
    return names


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--png", type=Path, help="folder for the first Decisions page of each sample, as PNG")
    args = ap.parse_args()
    from openpyxl import load_workbook

    from bridge.apply.demo import run_demo
    from bridge.cli import _sample_config
    from bridge.config import load_config
    from bridge.workbook.xlsx import Sheet, write_xlsx

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        reference = folder / "reference.xlsx"
        write_xlsx(reference, {"Sheet": Sheet([["Item", "Value"], ["Submissions", 44]])})
        books = {}
        for platform in ("prolific", "mturk"):
            run = run_demo(load_config(_sample_config(platform)), folder / platform)
            books[platform] = run.applied.workbook
        ref_pdf, *pdfs = render(folder, reference, *books.values())
        eleven = max(h for h, _ in words(ref_pdf)[0])
        for (platform, book), pdf in zip(books.items(), pdfs):
            pages = words(pdf)
            smallest = min(h for page in pages for h, _ in page) / eleven * 11
            per_sheet = Counter(sheet_of_pages(pdf, len(pages)))
            wb = load_workbook(book, read_only=False)
            scales = {ws.title: int(ws.page_setup.scale) for ws in wb.worksheets}
            print(f"{platform} sample ({book.name}): {len(pages)} pages; smallest text {smallest:.1f} pt")
            for name, scale in scales.items():
                print(f"  {name}: {per_sheet.get(name, 0)} page(s) at {scale}%")
            if args.png:
                args.png.mkdir(parents=True, exist_ok=True)
                first = 1 + list(sheet_of_pages(pdf, len(pages))).index("Decisions")
                stem = folder / f"{platform}-page"
                subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", str(first), "-l", str(first), "-singlefile",
                                str(pdf), str(stem)], check=True)
                target = args.png / f"{platform}-decisions-printed.png"
                shutil.copy(f"{stem}.png", target)
                print(f"  first Decisions page (page {first}) -> {target}")


if __name__ == "__main__":
    main()
