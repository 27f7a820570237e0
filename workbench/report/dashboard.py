"""optuna-dashboard on an experiment's storage, with the profile and the verdict as study notes."""

from __future__ import annotations

import ipaddress
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna_dashboard

from workbench.study.evaluate import stored_verdict
from workbench.study.experiment import StoredExperiment as Experiment
from workbench.study.status import validation_lines


def experiment_note(exp: Experiment) -> str:
    """Markdown: what the profile found, how trials are validated, and the verdict."""
    lines = [f"# Experiment `{exp.config.name}`", "", f"data `{exp.config.data}` · metric `{exp.metric}`", ""]
    if exp.profile is not None:
        rec = exp.profile.recommendation
        lines += [f"## Profile: recommends **{rec.family}** ({rec.confidence_label} confidence)", ""]
        lines += [f"- {r}" for r in rec.reasons] + [f"- ⚠ {w}" for w in rec.warnings] + [""]
    lines += ["## Validation", "", *[f"    {line}" for line in validation_lines(exp)], ""]
    verdict = stored_verdict(exp)
    if verdict is not None:
        lines += ["## Verdict", "", verdict.statement, ""] + [f"- {n}" for n in verdict.notes]
    else:
        lines += ["## Verdict", "", f"not evaluated yet: `workbench evaluate {exp.config.name}`"]
    return "\n".join(lines)


def save_notes(exp: Experiment) -> None:
    """Write the experiment note onto every family's study, where the dashboard shows it, and say
    on the experiment's own study what it is (it holds the record, no trials: the dashboard lists
    it as a study of its own)."""
    note = experiment_note(exp)
    for family in exp.families:
        optuna_dashboard.save_note(exp.study(family), note)
    optuna_dashboard.save_note(
        exp.meta(),
        f"# The record of experiment `{exp.config.name}`\n\nNo trials: this study holds the experiment's config, "
        f"profile, validation and verdict. Its families' studies are `{exp.config.name}/<family>`.\n\n" + note,
    )


@dataclass(frozen=True)
class LabDashboard:
    """The experiment in the Optuna dashboard inside JupyterLab (the ``jupyterlab-optuna``
    extension, installed with the notebooks extra): loaded into the lab's dashboard from the
    kernel where the lab server could be reached (``server``), else the exact steps."""

    storage_url: str
    server: str | None = None  # the lab server the experiment was loaded into

    def __str__(self) -> str:
        if self.server is not None:
            return (
                f"The experiment is loaded into this lab's Optuna dashboard ({self.storage_url}): open the command "
                "palette (Ctrl+Shift+C) and run 'Optuna Dashboard'; each study's note holds the profile and the "
                "verdict."
            )
        return (
            "In JupyterLab: open the command palette (Ctrl+Shift+C), run 'Optuna Dashboard', and paste the storage "
            f"URL {self.storage_url} into its dialog (the notes beside each study hold the profile and the verdict)."
        )

    def _repr_markdown_(self) -> str:
        if self.server is not None:
            return (
                "**Optuna dashboard in JupyterLab:** the experiment is loaded. Command palette (`Ctrl+Shift+C`) → "
                f"*Optuna Dashboard* opens it (`{self.storage_url}`). Each study's note holds the profile and the "
                "verdict."
            )
        return (
            "**Optuna dashboard in JupyterLab:** command palette (`Ctrl+Shift+C`) → *Optuna Dashboard* → paste the "
            f"storage URL `{self.storage_url}` into its dialog. Each study's note holds the profile and the verdict."
        )


def lab_dashboard(exp: Experiment) -> LabDashboard:
    """Write the notes the dashboard shows and load the experiment into the Optuna dashboard of the
    JupyterLab server this kernel runs under (the extension's own API, behind the server's token),
    so that the dashboard opens on it; where no server answers, say how to open it by hand. The
    extension's command takes no storage argument, and its dialog opens on the server's folder: a
    relative SQLite path is made absolute (the lab server resolves it from its own folder)."""
    save_notes(exp)
    url = exp.config.storage_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + str(Path(url.removeprefix("sqlite:///")).resolve())
    return LabDashboard(url, _load_into_lab(url))


def _load_into_lab(storage_url: str) -> str | None:
    """The URL of the lab server that loaded the storage into its dashboard, or None."""
    import json
    import urllib.request

    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return None
    here = Path.cwd().resolve()
    servers = sorted(
        list_running_servers(), key=lambda s: not str(here).startswith(str(Path(s.get("root_dir", "/")).resolve()))
    )
    for server in servers:
        if server.get("pid") and not _alive(int(server["pid"])):
            continue
        api = server["url"].rstrip("/") + "/jupyterlab-optuna/api/register_dashboard_app"
        body = json.dumps({"storage_url": storage_url, "artifact_path": ""}).encode()
        request = urllib.request.Request(api, data=body, headers={"Authorization": f"token {server.get('token', '')}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                if json.load(answer).get("is_initialized"):
                    return str(server["url"])
        except (OSError, ValueError):
            continue
    return None


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(exp: Experiment, *, host: str = "127.0.0.1", port: int = 8080, echo: Callable[[str], object] = print) -> None:
    """Serve optuna-dashboard on the experiment's storage, read-only (:func:`read_only`); blocks
    until interrupted."""
    _warn_if_exposed(host, port)
    save_notes(exp)
    server = make_server(host, port, read_only(optuna_dashboard.wsgi(exp.storage), host))
    echo(f"optuna-dashboard for {exp.config.name!r}: http://{host}:{port}/dashboard/ (read-only; Ctrl-C stops it)")
    try:
        server.serve_forever()
    finally:
        server.server_close()


READ_METHODS = ("GET", "HEAD")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def read_only(app: Any, host: str) -> Any:
    """optuna-dashboard as a WSGI app that can only read: every method but GET and HEAD is
    refused (the dashboard's API deletes a study, with all its trials, on a DELETE, and edits
    notes and trials on POST/PUT), and so is a request whose ``Host`` header names another
    server than this one, which is how a web page reaches a local server through DNS
    rebinding. Bound to every address (``0.0.0.0``), any host name is accepted (with the
    warning that the server is exposed)."""
    wildcard = host in ("0.0.0.0", "::", "")
    allowed = {host.lower(), *LOOPBACK_NAMES}

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in READ_METHODS:
            return _refuse(
                start_response,
                "405 Method Not Allowed",
                f"{method} refused: workbench serves the dashboard read-only (GET and HEAD), so that nothing stored "
                "can be deleted or changed from a browser. Edit studies with optuna's Python API instead.",
                [("Allow", ", ".join(READ_METHODS))],
            )
        if not wildcard and _host_name(environ.get("HTTP_HOST", "")) not in allowed:
            return _refuse(
                start_response,
                "403 Forbidden",
                f"Host {environ.get('HTTP_HOST', '')!r} refused: this dashboard answers only to "
                f"{', '.join(sorted(allowed))}.",
            )
        return app(environ, start_response)

    return guarded


def _host_name(header: str) -> str:
    """The host of a ``Host`` header, without its port: ``[::1]:8080`` → ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _refuse(
    start_response: Callable[..., Any], status: str, text: str, headers: list[Any] | None = None
) -> list[bytes]:
    body = (text + "\n").encode()
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))] + (headers or [])
    )
    return [body]


@dataclass
class BackgroundDashboard:
    """optuna-dashboard served from a thread of this process (a notebook's kernel)."""

    url: str
    server: WSGIServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __repr__(self) -> str:
        return f"BackgroundDashboard({self.url!r}; .stop() ends it)"


def serve_in_background(exp: Experiment, *, host: str = "127.0.0.1", port: int = 0) -> BackgroundDashboard:
    """Serve optuna-dashboard read-only without blocking, e.g. from a notebook; ``port=0`` takes a free port."""
    _warn_if_exposed(host, port)
    save_notes(exp)
    server = make_server(host, port, read_only(optuna_dashboard.wsgi(exp.storage), host), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="optuna-dashboard", daemon=True)
    thread.start()
    return BackgroundDashboard(f"http://{host}:{server.server_port}/dashboard/", server, thread)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # one stderr line per request would flood a notebook
        pass


def _warn_if_exposed(host: str, port: int) -> None:
    if not is_loopback(host):
        warnings.warn(
            f"optuna-dashboard has no authentication: anyone who can reach {host}:{port} can read this "
            "storage. Prefer the default 127.0.0.1 with an SSH tunnel.",
            stacklevel=3,
        )
