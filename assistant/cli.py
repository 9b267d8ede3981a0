"""The `assistant` command: subcommands mirror the pipeline (ingest, sync, status, search, ask, serve, eval).

Exit codes: 0 success; 1 partial success (some files or sources failed, the rest was indexed);
2 nothing done (bad arguments or sources file, no index, locked or unusable index);
3 `eval --baseline`: a headline metric dropped by more than --max-drop.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from assistant.components import (
    build_cache,
    build_ingest_embedder,
    build_service,
    build_store,
    build_sync_options,
)
from assistant.database import redacted
from assistant.exceptions import AssistantError
from assistant.settings import Settings
from ingest.calibration import Calibration
from ingest.ray_embedder import RayEmbedder
from ingest.sources.base import SourceConfigError
from ingest.store.layout import IndexError_
from ingest.store.manifest import Manifest
from ingest.sync import SourcesReport, sync_folder, sync_sources

if TYPE_CHECKING:
    from assistant.retriever import Mode
    from assistant.schemas import AskOut, SearchOut

# The web service, the answerers and the eval harness are imported by the commands that use them:
# `assistant ingest` of an unchanged folder should take about as long as Python takes to start.
EXIT_OK, EXIT_PARTIAL, EXIT_FAILED, EXIT_REGRESSED = 0, 1, 2, 3
err = Console(stderr=True)


def _progress_bars(quiet: bool) -> Progress:
    """Bars on stderr; off for --json and when stderr is not a terminal."""
    return Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
    )


class RichProgress:
    """Progress bars for files, chunks and embedding on stderr."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def begin(self, stage: str, total: int) -> None:
        self._tasks[stage] = self._progress.add_task(stage, total=total)

    def advance(self, stage: str, n: int = 1) -> None:
        self._progress.advance(self._tasks[stage], n)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    root = Path(args.root)
    if not root.is_dir():
        err.print(f"[red]{root} is not a folder[/red]")
        return EXIT_FAILED
    store = build_store(settings, args.index)
    cache = build_cache(settings)
    embedder = build_ingest_embedder(settings, args.executor)
    bars = _progress_bars(quiet=args.json)
    try:
        with bars:
            report = sync_folder(
                root,
                store,
                embedder,
                cache,
                build_sync_options(settings),
                RichProgress(bars),
            )
    except AssistantError as exc:
        err.print(Text(exc.message, style="red"))
        return EXIT_FAILED
    finally:
        cache.close()
        if isinstance(embedder, RayEmbedder):
            embedder.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        table = Table(title=f"Index {report.index_version}")
        table.add_column("result")
        table.add_column("files", justify="right")
        counts = {
            "added": len(report.added),
            "updated": len(report.updated),
            "unchanged": len(report.unchanged),
            "removed": len(report.removed),
            "failed": len(report.failed),
        }
        for label, count in counts.items():
            table.add_row(label, str(count))
        table.add_row("chunks in index", str(report.chunks))
        table.add_row("chunks embedded", str(report.embedded))
        Console().print(table)
        for failure in report.failed:
            err.print(f"[yellow]failed[/yellow] {failure.source}: {failure.message} ({failure.reason})")
    return EXIT_OK if report.complete else EXIT_PARTIAL


def _print_sources(report: SourcesReport) -> None:
    table = Table(title=f"Index {report.index_version}")
    for column in ("source", "added", "updated", "unchanged", "removed", "failed", "embedded", "seconds"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for part in report.sources:
        counts = [len(part.added), len(part.updated), len(part.unchanged), len(part.removed), len(part.failed)]
        table.add_row(part.name, *map(str, counts), str(part.embedded), f"{part.seconds:.1f}")
    Console().print(table)
    for part in report.sources:
        if part.error is not None:
            err.print(Text(f"{part.name}: {part.error.message} ({part.error.reason}); its last good items stay"))
        for failure in part.failed:
            err.print(Text(f"{part.name} failed {failure.source}: {failure.message} ({failure.reason})"))


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.sources.registry import load_sources, pick

    path = args.sources or settings.sources_file
    if path is None:
        err.print("[red]give --sources FILE or set ASSISTANT_SOURCES_FILE (see docs/sources.md)[/red]")
        return EXIT_FAILED
    try:
        configured = load_sources(Path(path))
        chosen = pick(configured, args.source)
    except SourceConfigError as exc:
        err.print(Text(exc.message, style="red"))
        return EXIT_FAILED
    store = build_store(settings, args.index)
    cache = build_cache(settings)
    embedder = build_ingest_embedder(settings)
    bars = _progress_bars(quiet=args.json)
    try:
        with bars:
            report = sync_sources(
                [c.source for c in chosen],
                store,
                embedder,
                cache,
                build_sync_options(settings),
                RichProgress(bars),
                # All sources ran: documents of a source no longer in the file are removed.
                configured=[c.name for c in configured] if args.source is None else None,
            )
    except IndexError_ as exc:
        err.print(f"[red]{exc}[/red]")
        return EXIT_FAILED
    finally:
        cache.close()
        if isinstance(embedder, RayEmbedder):
            embedder.close()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_sources(report)
    return EXIT_OK if report.complete else EXIT_PARTIAL


def abstention_status(manifest: Manifest, settings: Settings) -> dict[str, Any]:
    """How this index decides "not found": the rule, its threshold, and the null per question language."""
    from assistant.answer import UNCALIBRATED_MIN_DENSE_SCORE

    if settings.min_dense_score is not None:
        return {"rule": "fixed", "min_dense_score": settings.min_dense_score}
    calibration = Calibration.from_dict(manifest.calibration)
    if calibration is None:
        return {"rule": "fixed", "min_dense_score": UNCALIBRATED_MIN_DENSE_SCORE, "why": "index has no calibration"}
    return {
        "rule": "adaptive",
        "min_confidence": settings.min_confidence,
        "bank": calibration.bank,
        "pooled": None if calibration.pooled is None else asdict(calibration.pooled),
        "null": {
            lang: {"questions": n.questions, "mean": n.mean, "std": n.std}
            for lang, n in sorted(calibration.languages.items())
        },
    }


def abstention_line(status: dict[str, Any]) -> str:
    if status["rule"] == "fixed":
        return f"fixed: evidence score >= {status['min_dense_score']}" + (
            f" ({status['why']})" if "why" in status else ""
        )
    pooled = status["pooled"]
    mean = f"{pooled['mean']['dense_top']:.2f} ± {pooled['std']['dense_top']:.2f}" if pooled else "none"
    return f"adaptive: {status['min_confidence']} spreads above the off-topic null (best similarity {mean})"


def backends_status(manifest: Manifest, settings: Settings, root: Path) -> dict[str, Any]:
    """Which backends built the live version, where its vectors are, and what the next ingest uses."""
    built = manifest.backends or {"vectors": {"name": "faiss"}, "keywords": {"name": "bm25"}}
    vectors = built.get("vectors", {})
    status: dict[str, Any] = {
        "vectors": vectors.get("name", "faiss"),
        "keywords": built.get("keywords", {}).get("name", "bm25"),
        "next_ingest": settings.vector_backend,
    }
    if vectors.get("name") == "qdrant":
        status["collection"] = vectors.get("params", {}).get("collection")
        status["alias"] = settings.qdrant_collection
        status["qdrant"] = settings.qdrant_url or f"local mode in {root / 'qdrant'}"
    elif vectors.get("kind"):
        status["vectors"] += f" ({vectors['kind']})"
    return status


def backends_line(status: dict[str, Any]) -> str:
    line = f"vectors {status['vectors']}, keywords {status['keywords']}"
    if "collection" in status:
        line += f"; collection {status['collection']} (alias {status['alias']}) on {status['qdrant']}"
    if status["next_ingest"] != status["vectors"].split(" ")[0]:
        line += f"; the next ingest moves the vectors to {status['next_ingest']}"
    return line


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    store = build_store(settings, args.index)
    manifest = store.current_manifest()
    if manifest is None:
        err.print(f"[red]no index at {store.root}; run `assistant ingest FOLDER` first[/red]")
        return EXIT_FAILED
    languages: dict[str, int] = {}
    for record in manifest.documents.values():
        languages[record.language] = languages.get(record.language, 0) + 1
    status = {
        "index_version": manifest.index_version,
        "documents": len(manifest.documents),
        "chunks": manifest.chunk_count,
        "languages": dict(sorted(languages.items())),
        "model": manifest.model,
        "dimensions": manifest.dimensions,
        "size_bytes": store.size_on_disk(),
        "last_ingest": manifest.created_at,
        "failures": [f.__dict__ for f in manifest.failures],
        "state_database": redacted(settings.database_url) if settings.database_url else "sqlite",
        "embed_executor": settings.embed_executor + (f" at {settings.ray_address}" if settings.ray_address else ""),
    }
    backends = backends_status(manifest, settings, store.root)
    status["backends"] = backends
    abstention = abstention_status(manifest, settings)
    status["abstention"] = abstention
    if args.json:
        print(json.dumps(status, ensure_ascii=False))
        return EXIT_OK
    table = Table(title=f"Index at {store.root}", show_header=False)
    for key, value in status.items():
        if key not in ("failures", "abstention", "backends"):
            table.add_row(key, str(value))
    table.add_row("backends", backends_line(backends))
    table.add_row("failed files", str(len(manifest.failures)))
    table.add_row("abstention", abstention_line(abstention))
    Console().print(table)
    return EXIT_OK


def _answer_console(response: AskOut | SearchOut) -> None:
    from assistant.schemas import AskOut, SearchOut

    console = Console()
    items = response.hits if isinstance(response, SearchOut) else response.citations + response.related
    if isinstance(response, AskOut):
        style = "bold" if response.found else "bold yellow"
        console.print(Text(response.answer, style=style))
        console.print()
    for item in items:
        where = ", ".join(
            x for x in [item.title or item.source, f"page {item.page}" if item.page else None, item.section] if x
        )
        console.print(f"[cyan][{item.n}][/cyan] {where}  [dim]{item.source} · {item.score:.3f}[/dim]")
        text = Text(item.text)
        if item.highlight:
            text.stylize("bold yellow", *item.highlight)
        console.print(text, style="dim" if not item.highlight else None)
        console.print()


def _query_command(args: argparse.Namespace, settings: Settings, run) -> int:  # type: ignore[no-untyped-def]
    service = build_service(settings, args.index)
    try:
        response = run(service)
    except AssistantError as exc:
        err.print(Text(exc.message, style="red"))
        return EXIT_FAILED
    if args.json:
        print(response.model_dump_json())
    else:
        _answer_console(response)
    return EXIT_OK


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.api import run_ask
    from assistant.schemas import AskIn

    body = AskIn(question=args.question, top_k=args.top_k)
    return _query_command(args, settings, lambda service: run_ask(service, settings, body))


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.api import run_search
    from assistant.schemas import SearchIn

    body = SearchIn(query=args.query, top_k=args.top_k)
    return _query_command(args, settings, lambda service: run_search(service, settings, body))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from assistant.api import create_app
    from assistant.auth import check_security

    if args.sources:
        settings = settings.model_copy(update={"sources_file": Path(args.sources)})
    try:
        check_security(settings)
        service = build_service(settings, args.index)
        service.load()
        # Load the model and each language's analyzers now, so the first agent does not wait for them.
        service.warm_up()
    except AssistantError as exc:
        err.print(Text(exc.message, style="red"))
        return EXIT_FAILED
    try:
        app = create_app(service, settings)
    except SourceConfigError as exc:
        err.print(Text(exc.message, style="red"))
        return EXIT_FAILED
    # Scheduled syncs run in a background thread; answers never wait for them.
    app.state.sources.start_schedules()
    try:
        uvicorn.run(app, host=args.host or settings.host, port=args.port or settings.port, log_level="warning")
    finally:
        app.state.sources.stop()
    return EXIT_OK


def _modes(values: list[str] | None) -> list[Mode]:
    """`--mode dense,bm25 --mode hybrid` -> ["dense", "bm25", "hybrid"]; hybrid when none is given."""
    from eval.runner import MODES

    names = [n.strip() for v in values or ["hybrid"] for n in v.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MODES))
    if unknown:
        raise ValueError(f"unknown mode {', '.join(unknown)}; choose from {', '.join(MODES)}")
    return [m for m in MODES if m in names] if names else ["hybrid"]


def _print_eval(report: dict[str, Any]) -> None:
    from eval.console import answers_table, calibration_lines, mode_table

    console = Console()
    for mode, run in report["modes"].items():
        console.print(mode_table(mode, run))
        answers = answers_table(mode, run)
        if answers is not None:
            console.print(answers)
    for line in calibration_lines(report):
        console.print(Text(line))
    notes = report.get("notes", [])
    for note in notes[:10]:
        err.print(Text.assemble(("note ", "yellow"), note))
    if len(notes) > 10:
        err.print(f"... and {len(notes) - 10} more notes (see --json or --report)")


def cmd_conversation_eval(args: argparse.Namespace, settings: Settings) -> int:
    """A conversation set: hit@5 of the resolution vs the follow-up alone vs plain concatenation."""
    from eval.console import conversation_tables
    from eval.conversations import evaluate_conversations

    try:
        report = evaluate_conversations(Path(args.target), settings, args.index)
    except AssistantError as exc:
        err.print(Text(exc.message, style="red"))
        return EXIT_FAILED
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return EXIT_OK
    console = Console()
    for table in conversation_tables(report):
        console.print(table)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval.compare import regressions
    from eval.console import regression_lines
    from eval.conversation_sets import is_conversation_set
    from eval.html_report import render
    from eval.workbench import EvalRequest, evaluate

    target = Path(args.target)
    if target.is_file() and target.suffix == ".jsonl" and is_conversation_set(target):
        return cmd_conversation_eval(args, settings)
    try:
        modes = _modes(args.mode)
        baseline = json.loads(Path(args.baseline).read_text(encoding="utf-8")) if args.baseline else None
    except (ValueError, OSError) as exc:
        err.print(f"[red]{exc}[/red]")
        return EXIT_FAILED
    bars = _progress_bars(quiet=args.json)
    request = EvalRequest(
        Path(args.target),
        modes,
        args.index,
        args.limit,
        args.lang,
        tuple(args.negatives or ()),
        withhold=args.withhold,
    )
    try:
        with bars:
            report = evaluate(request, settings, RichProgress(bars))
    except AssistantError as exc:
        err.print(Text(exc.message, style="red"))
        return EXIT_FAILED
    if args.report:
        Path(args.report).write_text(render(report, baseline, args.max_drop), encoding="utf-8")
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print_eval(report)
    found = regressions(report, baseline, args.max_drop) if baseline is not None else []
    for line in regression_lines(found, args.max_drop):
        err.print(Text(line, style="red"))
    return EXIT_REGRESSED if found else EXIT_OK


def cmd_hash_key(args: argparse.Namespace, settings: Settings) -> int:
    """Print an ASSISTANT_API_KEYS entry for a key read from stdin, or for a new random key (shown on stderr)."""
    from assistant.auth import generate_key, key_entry

    key = generate_key() if args.generate else sys.stdin.readline().rstrip("\r\n")
    try:
        entry = key_entry(key, args.name, args.role, args.group or [])
    except AssistantError as exc:
        err.print(Text(exc.message, style="red"))
        return EXIT_FAILED
    if args.generate:
        err.print(Text(f"New key for {args.name} (shown once, stored nowhere): {key}"), soft_wrap=True)
    print(json.dumps(entry, ensure_ascii=False))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="make the index match a folder of documents")
    ingest.add_argument("root", help="folder of documents (PDF, DOCX, HTML, Markdown, text)")
    ingest.add_argument("--index", type=Path, help="index folder (default: ASSISTANT_INDEX_DIR)")
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    ingest.add_argument(
        "--executor",
        choices=["local", "ray"],
        help="embed here or through Ray at ASSISTANT_RAY_ADDRESS (default: ASSISTANT_EMBED_EXECUTOR)",
    )
    ingest.set_defaults(func=cmd_ingest)

    sync = sub.add_parser("sync", help="bring the index in line with the configured sources (web, Zendesk, JSON)")
    sync.add_argument("--sources", type=Path, help="sources TOML file (default: ASSISTANT_SOURCES_FILE)")
    sync.add_argument("--source", help="sync only the source with this name")
    sync.add_argument("--index", type=Path, help="index folder (default: ASSISTANT_INDEX_DIR)")
    sync.add_argument("--json", action="store_true", help="print one JSON object")
    sync.set_defaults(func=cmd_sync)

    status = sub.add_parser("status", help="what the index holds")
    status.add_argument("--index", type=Path, help="index folder (default: ASSISTANT_INDEX_DIR)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=cmd_status)

    for name, helptext, field, default_k, func in [
        ("ask", "answer a question with cited passages", "question", 5, cmd_ask),
        ("search", "find the passages that match a query", "query", 10, cmd_search),
    ]:
        command = sub.add_parser(name, help=helptext)
        command.add_argument(field)
        command.add_argument("--top-k", type=int, default=default_k, help=f"passages (default {default_k})")
        command.add_argument("--index", type=Path, help="index folder (default: ASSISTANT_INDEX_DIR)")
        command.add_argument("--json", action="store_true", help="print the HTTP API's response body")
        command.set_defaults(func=func)

    serve = sub.add_parser("serve", help="serve the side panel and the HTTP API")
    serve.add_argument("--index", type=Path, help="index folder (default: ASSISTANT_INDEX_DIR)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--sources", type=Path, help="sources TOML file whose schedules to run (ASSISTANT_SOURCES_FILE)")
    serve.set_defaults(func=cmd_serve)

    evaluation = sub.add_parser("eval", help="score retrieval and answers on an eval set or a BEIR folder")
    evaluation.add_argument("target", help="a .jsonl eval set (scored against --index) or a BEIR folder")
    evaluation.add_argument("--index", type=Path, help="index folder for eval sets (default: ASSISTANT_INDEX_DIR)")
    evaluation.add_argument(
        "--mode", action="append", help="dense, bm25, hybrid; comma-separated or repeated (default hybrid)"
    )
    evaluation.add_argument("--json", action="store_true", help="print one JSON object")
    evaluation.add_argument("--report", type=Path, help="write a self-contained HTML report to this file")
    evaluation.add_argument("--baseline", type=Path, help="a previous --json output to compare with")
    evaluation.add_argument(
        "--max-drop", type=float, default=0.02, help="largest allowed drop of a headline metric (default 0.02)"
    )
    evaluation.add_argument("--limit", type=int, help="only the first N questions (BEIR: judged queries)")
    evaluation.add_argument("--lang", help="language of questions that have none (BEIR default: known per dataset)")
    evaluation.add_argument(
        "--negatives",
        type=Path,
        action="append",
        help="questions written for another collection (.jsonl set or BEIR folder; first 200), which must "
        "abstain here; repeatable",
    )
    evaluation.add_argument(
        "--withhold",
        type=int,
        default=0,
        metavar="N",
        help="also ask the first N answerable questions with the passages that answer them withheld "
        "(searched as if never ingested), which must abstain: near-topic unanswerable questions on any set",
    )
    evaluation.set_defaults(func=cmd_eval)

    hashing = sub.add_parser("hash-key", help="make an ASSISTANT_API_KEYS entry (key read from stdin)")
    hashing.add_argument("--generate", action="store_true", help="make a new random key instead of reading one")
    hashing.add_argument("--name", required=True, help="who holds the key")
    hashing.add_argument("--role", choices=["agent", "manager"], default="agent", help="default agent")
    hashing.add_argument("--group", action="append", help="access group; repeat for several")
    hashing.set_defaults(func=cmd_hash_key)
    return parser


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    return int(args.func(args, settings or Settings()))
