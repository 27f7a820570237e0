"""Fixes written in the form of the interface in use (``errors.option``), from one table of
option names that agrees with the command line and the config."""

from __future__ import annotations

import typer.main

from workbench.cli import app
from workbench.config import ExperimentConfig
from workbench.errors import OPTION_NAMES, interface, option, option_everywhere, option_name, options


def test_a_fix_is_written_in_the_form_of_the_interface_in_use() -> None:
    assert options(window=32, step=8) == "window=32, step=8"
    assert option_name("window") == "window="
    with interface("cli"):
        assert options(window=32, step=8) == "--window 32 --step 8"
        assert option("check_layout", False) == "--no-check-layout"
        assert option_name("runs_dir") == "--runs-dir"
    with interface("config"):
        assert options(window=32, step=8) == "window: 32, step: 8"
        assert option("check_layout", False) == "check_layout: false"
        assert option("grace_s", 30) == "--grace 30"  # a run's setting: a config has no key for it
    assert (
        option_everywhere("name", "x-2")
        == "name='x-2' in Python, --name x-2 on the command line, name: x-2 in a config"
    )


def test_every_option_a_fix_names_exists_where_it_is_named() -> None:
    """A hint that names a flag the command line lacks (or a config key the config lacks) sends
    the user to an error of its own."""
    flags = {
        opt
        for command in typer.main.get_command(app).commands.values()  # type: ignore[attr-defined]
        for param in command.params
        for opt in (*param.opts, *param.secondary_opts)
    }
    keys = set(ExperimentConfig.model_fields)
    for name, (flag, key) in OPTION_NAMES.items():
        assert flag in flags, name
        assert key is None or key in keys, name
