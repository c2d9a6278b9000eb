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


def test_reading_the_taxonomies_does_not_import_jsonschema() -> None:
    """jsonschema, with rfc3987-syntax installed beside it, compiles 38 grammars at import (about 2 s of CPU): a
    command or server that reads a taxonomy does not pay it (taxonomies._taxonomy_module); the values are read."""
    probe = (
        "import sys\n"
        "from cybercrisis import taxonomies\n"
        "print(len(taxonomies.rsit_classes()), 'jsonschema' in sys.modules)\n"
        "import jsonschema\n"
        "print(jsonschema.Draft202012Validator.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    classes, imported = done.stdout.splitlines()[0].split()
    assert int(classes) >= 10 and imported == "False"
    assert done.stdout.splitlines()[1] == "Draft202012Validator"  # a later import works as usual
