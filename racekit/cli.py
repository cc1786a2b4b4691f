"""The ``racekit`` command: one module per subcommand in :mod:`racekit.commands`.

Thin on purpose: every command parses its options, calls the engine layer,
and prints.  A user error (unknown system, bad file, wrong option) is one
line on stderr and exit status 2 - never a traceback; Ctrl-C is exit 130.
"""

from __future__ import annotations

import importlib

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="racekit")
def main() -> None:
    """racekit: break concurrent and distributed code before production does."""


for _module, _attr in (
    ("racekit.commands.catalogue_list", "list_cmd"),
    ("racekit.commands.check", "check"),
    ("racekit.commands.explore", "explore"),
    ("racekit.commands.replay", "replay"),
    ("racekit.commands.new", "new"),
    ("racekit.commands.show", "show"),
    ("racekit.commands.gallery", "gallery"),
    ("racekit.commands.lincheck", "lincheck"),
    ("racekit.commands.txncheck", "txncheck"),
    ("racekit.commands.mutate", "mutate"),
):
    main.add_command(getattr(importlib.import_module(_module), _attr))
