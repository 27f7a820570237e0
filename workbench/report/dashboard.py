"""optuna-dashboard on an experiment's storage, with the profile and the verdict as study notes."""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Callable

import optuna_dashboard

from workbench.study.evaluate import ATTR_VERDICT, Verdict
from workbench.study.runner import Experiment, validation_lines


def experiment_note(exp: Experiment) -> str:
    """Markdown: what the profile found, how trials are validated, and the verdict."""
    lines = [f"# Experiment `{exp.config.name}`", "", f"data `{exp.config.data}` · metric `{exp.metric}`", ""]
    if exp.profile is not None:
        rec = exp.profile.recommendation
        lines += [f"## Profile: recommends **{rec.family}** ({rec.confidence_label} confidence)", ""]
        lines += [f"- {r}" for r in rec.reasons] + [f"- ⚠ {w}" for w in rec.warnings] + [""]
    lines += ["## Validation", "", *[f"    {line}" for line in validation_lines(exp)], ""]
    meta = exp.meta().user_attrs
    if ATTR_VERDICT in meta:
        verdict = Verdict.from_dict(meta[ATTR_VERDICT])
        lines += ["## Verdict", "", verdict.statement, ""] + [f"- {n}" for n in verdict.notes]
    else:
        lines += ["## Verdict", "", f"not evaluated yet: `workbench evaluate {exp.config.name}`"]
    return "\n".join(lines)


def save_notes(exp: Experiment) -> None:
    """Write the experiment note onto every family's study, where the dashboard shows it."""
    note = experiment_note(exp)
    for family in exp.families:
        optuna_dashboard.save_note(exp.study(family), note)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(exp: Experiment, *, host: str = "127.0.0.1", port: int = 8080, echo: Callable[[str], object] = print) -> None:
    """Start optuna-dashboard on the experiment's storage; blocks until interrupted."""
    if not is_loopback(host):
        warnings.warn(
            f"optuna-dashboard has no authentication: anyone who can reach {host}:{port} can read and edit "
            "this storage. Prefer the default 127.0.0.1 with an SSH tunnel.",
            stacklevel=2,
        )
    save_notes(exp)
    echo(f"optuna-dashboard for {exp.config.name!r}: http://{host}:{port}/dashboard/ (Ctrl-C stops it)")
    optuna_dashboard.run_server(exp.storage, host=host, port=port)
