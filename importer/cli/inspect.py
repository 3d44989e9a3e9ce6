"""The `inspect` command: preview an import without sending anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from importer.cli.console import EXIT_ABORTED, fail
from importer.cli.params import limit_options, read_limits, sheet_options
from importer.config import RunConfig
from importer.contracts.contract import load_contract
from importer.errors import ImporterError
from importer.pipeline.inspect import Inspection, inspect_sheet


@click.command()
@click.argument("sheet", type=click.Path(path_type=Path))
@click.option("--vendor", required=True, help="Vendor id (see `importer vendors`).")
@sheet_options
@click.option(
    "--rows",
    "preview_rows",
    type=click.IntRange(0, 100),
    default=3,
    show_default=True,
    help="How many rows to show as the vendor would receive them.",
)
@click.option(
    "--write-mapping",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Write the mapping inferred (with the values the vendor refuses, to fill in) to FILE, "
    "for you to edit and pass back with --mapping.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the preview as one JSON object.")
@limit_options
def inspect(  # noqa: PLR0917 (click passes every option)
    sheet: Path,
    vendor: str,
    mapping_file: Path | None,
    constants: dict[str, str],
    sheet_name: str | None,
    header_row: int | None,
    extras_to_open_object: bool,
    preview_rows: int,
    write_mapping: Path | None,
    as_json: bool,
    **limits: int | None,
) -> None:
    """Preview importing SHEET into VENDOR: nothing is sent and nothing is written.

    Shows how each column maps and why, the columns left unused and what they hold, required
    fields without a column, values the vendor would refuse, the first rows as the vendor
    would receive them, and how many rows would be sent, fail or be duplicates. Exit code 0,
    or 2 when the sheet cannot be read or a required field has no column.
    """
    if write_mapping is not None and write_mapping.exists() and write_mapping != mapping_file:
        fail(f"{write_mapping} already exists; give --write-mapping a new file name")
    config = RunConfig(
        sheet_path=sheet,
        vendor=vendor,
        out_dir=Path(),
        constants=constants,
        mapping_file=mapping_file,
        sheet_name=sheet_name,
        header_row=header_row,
        dry_run=True,
        extras_to_open_object=extras_to_open_object,
        limits=read_limits(limits),
    )
    try:
        found = inspect_sheet(config, preview_rows=preview_rows)
        contract = load_contract(vendor)
    except ImporterError as error:
        fail(str(error))
    if write_mapping is not None:
        try:
            write_mapping.write_text(found.mapping_file(contract), encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {write_mapping}: {error.strerror}")
    if as_json:
        click.echo(json.dumps(_as_dict(found), ensure_ascii=False, indent=2))
    else:
        _render(found)
    if write_mapping is not None:
        click.echo(
            f"\nmapping written to {write_mapping}: edit it, then pass --mapping {write_mapping}"
        )
    if found.plan.missing_required:
        names = ", ".join(found.plan.missing_required)
        click.echo(
            f"importer: error: no column for required field(s) {names}: name it in a mapping "
            f"file (--write-mapping), or give --set {found.plan.missing_required[0]}=VALUE",
            err=True,
        )
        sys.exit(EXIT_ABORTED)


def _as_dict(found: Inspection) -> dict[str, Any]:
    plan = found.plan
    return {
        "vendor": found.vendor,
        "file": str(found.sheet.path),
        "sheet": found.sheet.sheet_name,
        "encoding": found.sheet.encoding,
        "delimiter": found.sheet.delimiter,
        "header_row": found.sheet.header_row,
        "sheet_notes": list(found.sheet.notes),
        "rows": found.rows,
        "mapping": [
            {"field": path, "source": source, "why": plan.why.get(path, "")}
            for path, source in plan.describe().items()
        ],
        "missing_required": list(plan.missing_required),
        "empty_fields": found.empty_fields(load_contract(found.vendor)),
        "columns": [
            {"column": column, "used_by": fate, "values": found.samples.get(column, [])}
            for column, fate in found.used_by().items()
        ],
        "unmapped_columns": list(plan.unmapped),
        "held_back": dict(plan.held_back),
        "refused_values": {path: dict(counts) for path, counts in found.refused_values.items()},
        "predicted": dict(found.statuses),
        "reasons": dict(found.reasons.most_common()),
        "preview": [{"source_row": row, "body": body} for row, body in found.preview],
        "notes": list(plan.notes),
        "stopped": found.stopped,
    }


def _render(found: Inspection) -> None:
    sheet, plan = found.sheet, found.plan
    where = f"sheet {sheet.sheet_name!r}" if sheet.sheet_name else f"{sheet.encoding}"
    delimiter = f", delimiter {sheet.delimiter!r}" if sheet.delimiter else ""
    click.echo(f"{sheet.path.name} ({where}{delimiter}): {found.rows:,} data rows")
    for note in sheet.notes:
        click.echo(f"  {note}")
    click.echo(f"\nHow the columns fill {found.vendor}'s fields:")
    described = plan.describe()
    width = max((len(path) for path in described), default=0)
    for path, source in described.items():
        why = plan.why.get(path)
        click.echo(f"  {path:<{width}}  <- {source}" + (f"   ({why})" if why else ""))
    if plan.missing_required:
        click.echo(f"  required, with no column: {', '.join(plan.missing_required)}")
    empty = found.empty_fields(load_contract(found.vendor))
    if empty:
        click.echo(f"  no column fills: {'; '.join(empty)}")
    _render_columns(found)
    for note in [*plan.notes, *plan.held_back.values()]:
        click.echo(f"\nnote: {note}")
    if found.refused_values:
        click.echo("\nValues the vendor would refuse (map them in a mapping file's values:):")
        for path, counts in found.refused_values.items():
            shown = ", ".join(f"{value!r} x{n}" for value, n in counts.most_common(10))
            click.echo(f"  {path}: {shown}")
    predicted = ", ".join(f"{status} {n:,}" for status, n in found.statuses.items())
    click.echo(f"\nPredicted: {predicted or 'no rows'} (a run skips rows sent before)")
    if found.reasons:
        click.echo("Why rows would fail:")
        for reason, n in found.reasons.most_common(10):
            click.echo(f"  {n:>7,}  {reason}")
    if found.preview:
        click.echo("\nThe first rows as the vendor would receive them:")
        for row, body in found.preview:
            click.echo(f"  row {row}: {json.dumps(body, ensure_ascii=False)}")
    if found.stopped:
        click.echo(f"\nimporter: error: reading stopped: {found.stopped}", err=True)


def _render_columns(found: Inspection) -> None:
    fates = found.used_by()
    lines = [
        (column, fate)
        for column, fate in fates.items()
        if fate == "unused" or fate.startswith(("held back", "left out"))
    ]
    if not lines:
        click.echo("\nEvery column is used.")
        return
    click.echo("\nColumns not sent (what they hold):")
    width = max(len(column) for column, _ in lines)
    for column, fate in lines:
        values = ", ".join(repr(value) for value in found.samples.get(column, [])) or "(empty)"
        label = "" if fate == "unused" else f"  [{fate}]"
        click.echo(f"  {column:<{width}}  {values}{label}")
