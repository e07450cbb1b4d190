"""``livc federation``: the federation's commands.

``livc federation link LEFT.csv RIGHT.csv`` is the evaluation contract that benchmarks rely on:
it reads two CSV files (header ``id,given_names,family_name,date_of_birth,national_number``),
runs the production path (match keys, OPRF tokens from an ephemeral in-process custodian, the
equi-join, the decision rule) and prints the pairs it would alert on as CSV
``left_id,right_id,score`` (a header line, then one pair a line, the score with 3 decimals).
A problem with the input is told on stderr with exit status 2, without a traceback.
"""

from __future__ import annotations

import csv
import os
import sys

import click

from livc.federation.as_enrolled import link_as_enrolled
from livc.federation.linkage import InputError, ephemeral_custodian, matches, read_csv
from livc.platform.commands import current_app_factory

EXIT_INPUT = 2


@click.group("federation")
def federation_group() -> None:
    """Federation between cells: match keys, OPRF tokens, links."""


@federation_group.command("link")
@click.argument("left", type=click.Path(dir_okay=True))
@click.argument("right", type=click.Path(dir_okay=True))
@click.option(
    "--explain", is_flag=True,
    help="Add a column with the key types that agreed (and the fields one side lacked).",
)  # fmt: skip
@click.option(
    "--as-enrolled", "as_enrolled", is_flag=True,
    help="Enrol LEFT in one cell, then RIGHT in a linked one, through production's matcher in a "
    "throw-away database; print the alerts coordinators would see (open or confirmed).",
)  # fmt: skip
def link_command(left: str, right: str, explain: bool, as_enrolled: bool) -> None:
    """Link the people of LEFT and RIGHT; print left_id,right_id,score per alert.

    Both are UTF-8 CSV files with this header:

    \b
        id,given_names,family_name,date_of_birth,national_number

    A date is YYYY-MM-DD, YYYY-MM or YYYY; the national number may be empty. The tokens come
    from an ephemeral key custodian in this process, forgotten when the command ends.

    With --as-enrolled the records are not linked as two sets: LEFT's are enrolled as cases of
    one cell in file order, then RIGHT's as cases of a linked cell, each matched on arrival by
    the production matcher, in a temporary database deleted at the end.
    """
    try:
        left_records = read_csv(left)
        right_records = read_csv(right)
    except InputError as error:
        click.echo(f"livc federation link: {error}", err=True)
        sys.exit(EXIT_INPUT)
    if as_enrolled:
        found = link_as_enrolled(left_records, right_records, current_app_factory())
    else:
        found = matches(left_records, right_records, ephemeral_custodian())
    out = csv.writer(sys.stdout, lineterminator="\n")
    try:
        out.writerow(["left_id", "right_id", "score"] + (["agreeing"] if explain else []))
        for match in found:
            row = [match.left_id, match.right_id, f"{match.score:.3f}"]
            if explain:
                row.append(" ".join([*match.agreeing, *(f"{field}?" for field in match.unknown)]))
            out.writerow(row)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
