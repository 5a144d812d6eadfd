"""Check sok.ingest.meeting against the corpus manifest.

Runs split_documents on every file of the shared corpus, takes the FIRST
logical document of each file as the file's type, organ and date, and compares
them with MANIFEST.tsv (which sok.ingest.meeting itself never reads). Prints the
share of agreement per field over the files where the manifest gives that
field, then every disagreement, then the known KFKS 2019/475-476 case chain.

    python benchmarks/metadata_check.py [corpus folder]
"""

from __future__ import annotations

import csv
import re
import sys
import time
from pathlib import Path

from sok.ingest.clean import clean_pages
from sok.ingest.extract import extract_file
from sok.ingest.linking import DocRef, Handling, handled_at
from sok.ingest.meeting import DOC_TYPES, LogicalDocument, split_documents

CORPUS = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/corpus")

# Manifest type words that are not the vocabulary word itself.
_TYPE_ALIASES = {"sammanträdesprotokoll": "protokoll", "befolkningsprognos": "prognos"}

# The chain a nämndsekreterare follows for Fisksätraskolan: (file name part, case, item or None).
CHAIN = (
    ("37_a_tjskr_fisksatraskolan", "KFKS 2019/475", None),
    ("protokollsutdrag_KS_135", "KFKS 2019/475", "135"),
    ("KS_190603_Protokoll.pdf", "KFKS 2019/475", "176"),
    ("Protokollsbilaga_1__176", "KFKS 2019/475", "176"),
    ("38_a_tjskr_fisksatra_overlatelse", "KFKS 2019/476", None),
    ("protokollsutdrag_KS_136", "KFKS 2019/476", "136"),
    ("KS_190603_Protokoll.pdf", "KFKS 2019/476", "177"),
    ("Protokollsbilaga_2__177", "KFKS 2019/476", "177"),
)


def manifest_type(value: str) -> str | None:
    """'kallelse med bilagor' -> kallelse, 'protokollsutdrag (skannad ...)' ->
    protokollsutdrag, 'bilaga: risk...' -> bilaga, 'sammanträdesprotokoll' -> protokoll."""
    first = re.split(r"[\s:(,]", value.strip().lower(), maxsplit=1)[0]
    first = _TYPE_ALIASES.get(first, first)
    return first if first in DOC_TYPES else None


def manifest_body(value: str) -> tuple[str | None, str | None]:
    """'Nacka kommun – Kommunstyrelsen (KS)' -> ('Nacka kommun', 'kommunstyrelsen')."""
    municipality, _, organ = value.partition(" – ")
    clean = lambda s: re.sub(r"\s*\([^)]*\)", "", s).strip()  # noqa: E731
    organ_name = re.sub(r"\s+", " ", clean(organ)).lower() or None
    return clean(municipality) or None, organ_name


def manifest_date(value: str) -> str | None:
    return value if re.fullmatch(r"\d{4}-\d\d-\d\d", value.strip()) else None


def load_manifest() -> list[dict[str, str]]:
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def documents(relpath: str) -> list[LogicalDocument]:
    f = extract_file(CORPUS / relpath, CORPUS)
    return split_documents(clean_pages(f.pages))


def compare(rows: list[dict[str, str]]) -> tuple[dict[str, list[bool]], list[str], dict[str, list[LogicalDocument]]]:
    results: dict[str, list[bool]] = {"type": [], "organ": [], "date": [], "date (stated)": [], "date (linked)": [],
                                      "municipality": []}
    problems: list[str] = []
    parsed = {row["file"]: documents(row["file"]) for row in rows}
    handled = link_all(parsed)
    for row in rows:
        first = parsed[row["file"]][0]
        link = handled.get((row["file"], 0))
        municipality, organ = manifest_body(row["body"])
        got_date = first.meeting_date or (link.date if link else None) or first.document_date
        expected = {
            "type": (manifest_type(row["document_type"]), first.doc_type),
            "organ": (organ, first.organ or (link.organ if link else None)),
            "date": (manifest_date(row["date"]), got_date),
            # only where the text states a meeting date (a tjänsteskrivelse carries its own)
            "date (stated)": (manifest_date(row["date"]) if first.meeting_date else None, first.meeting_date),
            # where no date is stated but a meeting record links the document through its case number
            "date (linked)": (manifest_date(row["date"]) if link and not first.meeting_date else None,
                              link.date if link else None),
            "municipality": (municipality, first.municipality),
        }
        for name, (want, got) in expected.items():
            if want is None:
                continue
            ok = want == got
            results[name].append(ok)
            if not ok and not name.startswith("date ("):
                note = ""
                if name == "date" and first.meeting_date is None:
                    note = "  (no meeting date in the text, no meeting record lists its case; own date)"
                problems.append(f"{name:12} {row['file']}\n{'':13}manifest={want!r} got={got!r}{note}")
    return results, problems, parsed


def link_all(parsed: dict[str, list[LogicalDocument]]) -> dict[tuple[str, int], Handling]:
    """sok.ingest.linking over the whole corpus, as `sok index` runs it over the whole index."""
    keys = [(path, i) for path, docs in parsed.items() for i in range(len(docs))]
    refs = [
        DocRef(n, d.doc_type, d.organ, d.meeting_date, d.document_date, tuple(d.case_numbers))
        for n, (path, i) in enumerate(keys)
        for d in [parsed[path][i]]
    ]
    return {keys[k]: h for k, h in handled_at(refs).items()}


def check_chain(parsed: dict[str, list[LogicalDocument]]) -> list[str]:
    lines = []
    for part, case, item in CHAIN:
        relpath = next((k for k in parsed if part in k), None)
        if relpath is None:
            lines.append(f"MISSING  {part}")
            continue
        docs = parsed[relpath]
        if item is None:
            ok = any(case in d.case_numbers for d in docs)
        else:
            ok = any(it.number == item and case in it.case_numbers for d in docs for it in d.items)
        where = f"§ {item}" if item else "document"
        lines.append(f"{'ok  ' if ok else 'FAIL'}  {case} {where:9} {relpath.split('/')[-1][:70]}")
    return lines


def main() -> int:
    rows = load_manifest()
    t0 = time.perf_counter()
    results, problems, parsed = compare(rows)
    elapsed = time.perf_counter() - t0
    print(f"{len(rows)} files, {sum(len(d) for d in parsed.values())} logical documents, {elapsed:.1f} s")
    for name, oks in results.items():
        share = sum(oks) / len(oks) if oks else 0.0
        print(f"  {name:12} {sum(oks):3}/{len(oks):3} = {share:.1%}")
    print("\nDisagreements:")
    for p in problems:
        print("  " + p)
    print("\nCase chain:")
    chain = check_chain(parsed)
    for line in chain:
        print("  " + line)
    return 0 if all(line.startswith("ok") for line in chain) else 1


if __name__ == "__main__":
    sys.exit(main())
