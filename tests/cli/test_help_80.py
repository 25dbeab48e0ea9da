"""``supplynet --help`` and every subcommand's ``--help`` read at 80 columns: no line wider, no description
cut with "...", no reST marks or Typer type labels, and a command that has no subcommands does not ask for one."""

from __future__ import annotations

import typer.main
from typer.testing import CliRunner

from supplynet.cli import app

runner = CliRunner()


def _paths(cmd, prefix=()):
    yield prefix
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _paths(sub, (*prefix, name))


def test_every_help_reads_at_80_columns():
    root = typer.main.get_command(app)
    paths = list(_paths(root))
    assert len(paths) > 40  # every group and every command under it
    for path in paths:
        r = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert r.exit_code == 0, (path, r.output)
        lines = r.output.splitlines()
        assert max(map(len, lines)) <= 80, (path, max(lines, key=len))
        text = r.output
        for bad in ("``", "<list[", "<int", "<str>", "<bool>", "<path>", "╭"):
            assert bad not in text, (path, bad, text)
        node = root
        for name in path:
            node = node.commands[name]
        if not getattr(node, "commands", None):
            assert "COMMAND [ARGS]" not in lines[0], (path, lines[0])
        flat = "".join(text.split())  # wrapping may break a line after a hyphen: compare without spaces
        for name, sub in getattr(node, "commands", {}).items():  # each listed with its first paragraph whole
            first = "".join((sub.help or "").partition("\n\n")[0].split())
            assert first and name + first in flat, (path, name, first)


def test_the_command_list_gives_each_first_paragraph_whole():
    r = runner.invoke(app, ["outbox", "--help"], env={"COLUMNS": "80"})
    flat = " ".join(r.output.split())
    assert "Deliver the outbox to the sinks until Ctrl-C or SIGTERM ('supplynet run' hosts the same)." in flat
    r = runner.invoke(app, ["simulate", "--help"], env={"COLUMNS": "80"})
    assert "-r, --replications N" in r.output and "--store TEXT" in r.output
