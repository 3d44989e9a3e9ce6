"""The `vendors` and `fields` commands: what vendors there are and what a sheet can fill."""

from __future__ import annotations

import click

from importer.cli.params import contract_for
from importer.contracts.contract import FieldSpec, load_all


@click.command()
def vendors() -> None:
    """List every vendor with its endpoint and the variables that hold its credentials."""
    for contract in load_all():
        variables = ", ".join(contract.credential_vars)
        click.echo(f"{contract.id}\t{contract.method} {contract.path}\t{variables}")
        click.echo(f"  {contract.title}: {contract.description}")


@click.command()
@click.argument("vendor")
def fields(vendor: str) -> None:
    """List VENDOR's fields: what a sheet column, a mapping file or --set can fill.

    Required fields are marked with *; a header matches a field by its name or dotted path
    (any case, spaces or punctuation), by the aliases listed, or by common CRM-export names.
    """
    contract = contract_for(vendor)
    for spec in contract.fields:
        click.echo(f"{'*' if spec.required else ' '} {spec.path}\t{_rules(spec)}")
    if contract.open_object:
        click.echo(f"  {contract.open_object}.KEY\tany text (open object)")


def _rules(spec: FieldSpec) -> str:
    """Describe a field's rules in a few words."""
    words = [spec.type]
    low, high = spec.min_length, spec.max_length
    if low is not None and high is not None:
        words.append(f"{low} to {high} characters")
    elif high is not None:
        words.append(f"at most {high} characters")
    elif low is not None:
        words.append(f"at least {low} characters")
    if spec.enum:
        words.append(f"one of {'|'.join(spec.enum)}")
    if spec.format:
        words.append(spec.format)
    if spec.concept:
        words.append(f"CRM headers for {spec.concept}")
    if spec.aliases:
        words.append(f"aliases: {', '.join(spec.aliases)}")
    return "; ".join(words)
