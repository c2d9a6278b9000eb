"""The command line loads a command group only to run it: `--help` imports none of the heavy modules."""

from __future__ import annotations

import subprocess
import sys

from cybercrisis.cli.main import COMMANDS, load_command

HEAVY = ("stix2", "fastapi", "sqlalchemy", "typst", "pymisp", "cybercrisis.app", "cybercrisis.demo")


def test_the_command_list_shows_each_command_s_own_help() -> None:
    for name, (_module, _attr, listed) in COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        assert (command.help or "").strip().splitlines()[0] == listed, name


def test_help_imports_no_heavy_module() -> None:
    probe = (
        "import sys\n"
        "from cybercrisis.cli.main import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('heavy:', ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert "serve" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "heavy:"
