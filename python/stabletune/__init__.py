"""stabletune from Python: a study's runs and report as Python values, and the command for scripts.

    >>> import stabletune
    >>> runs = stabletune.read_runs("studies/demo")              # a list of dicts, one per run
    >>> df = stabletune.read_runs("studies/demo", as_frame=True)  # a pandas DataFrame (pandas needed)
    >>> report = stabletune.read_report("studies/demo")          # report.json as dicts
    >>> stabletune.run(["study", "status", "studies/demo"])

Only the standard library is imported here; pandas is imported by ``read_runs(..., as_frame=True)``
alone. The runs are listed by the installed ``stabletune`` command (``stabletune export runs``), so
the columns, the configurations' names and every check of the run files are the report's own.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

__all__ = ["StabletuneError", "binary", "read_report", "read_runs", "run", "__version__"]

PathLike = Union[str, "os.PathLike[str]"]
Record = Dict[str, Any]

try:
    from importlib.metadata import PackageNotFoundError, version as _version

    try:
        __version__ = _version("stabletune")
    except PackageNotFoundError:  # imported from a source tree, not installed
        __version__ = "unknown"
except ImportError:  # Python < 3.8 has no importlib.metadata
    __version__ = "unknown"


class StabletuneError(RuntimeError):
    """A study, run or report could not be read, or the command failed; the message names the folder
    or file and says why."""


def binary() -> str:
    """The ``stabletune`` command this module runs: ``$STABLETUNE_BIN`` when set, else the one installed
    beside this Python (the wheel's), else the first on ``PATH``."""
    given = os.environ.get("STABLETUNE_BIN")
    if given:
        if not os.access(given, os.X_OK):
            raise StabletuneError(f"STABLETUNE_BIN={given}: not an executable file")
        return given
    name = "stabletune.exe" if sys.platform == "win32" else "stabletune"
    beside = Path(sysconfig.get_path("scripts")) / name
    if os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("stabletune")
    if found:
        return found
    raise StabletuneError(
        f"the stabletune command is not installed: not in {beside.parent} nor on PATH "
        "(pip install stabletune, or set STABLETUNE_BIN to a built binary)"
    )


def run(
    args: Sequence[str], *, check: bool = True, capture_output: bool = False, **kwargs: Any
) -> "subprocess.CompletedProcess[str]":
    """Runs ``stabletune ARGS...`` and returns the finished process (``subprocess.run``'s result, text
    mode). With ``check`` (the default) a non-zero exit raises :class:`StabletuneError` with the exit
    status and, when captured, the command's last words. Other keyword arguments go to
    ``subprocess.run`` (``cwd``, ``env``, ``timeout``, ...)."""
    argv = [binary(), *[os.fspath(a) for a in args]]
    done = subprocess.run(argv, capture_output=capture_output, text=True, **kwargs)
    if check and done.returncode != 0:
        said = (done.stderr or "").strip().splitlines()
        tail = f": {said[-1]}" if said else ""
        raise StabletuneError(f"`stabletune {' '.join(argv[1:])}` exited with status {done.returncode}{tail}")
    return done


# runs.csv's columns with a known type; the settings that vary between runs are typed by their values.
_INT_COLUMNS = {"init_seed", "data_seed", "best_step", "steps", "total_steps"}
_TEXT_COLUMNS = {"run", "task", "configuration", "status", "dir"}


def _column_type(name: str, values: List[str]) -> str:
    """``int``, ``float``, ``bool`` or ``str`` for a column of runs.csv (an empty cell is a missing value)."""
    if name in _TEXT_COLUMNS:
        return "str"
    if name in _INT_COLUMNS:
        return "int"
    if name == "failed":
        return "bool"
    if name.startswith(("final_", "best_")) or name == "wall_seconds":
        return "float"
    present = [v for v in values if v != ""]
    if present and all(v in ("true", "false") for v in present):
        return "bool"
    for kind, parse in (("int", int), ("float", float)):
        try:
            for v in present:
                parse(v)
        except ValueError:
            continue
        return kind if present else "str"
    return "str"


def _convert(value: str, kind: str) -> Any:
    if value == "":
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return value == "true"
    return value


def read_runs(
    study_or_dir: PathLike, *, group_by: Optional[Sequence[str]] = None, as_frame: bool = False
) -> Any:
    """One record per run of a study folder, a folder of run folders or one run folder: the columns of
    the report's ``runs.csv`` (run, task, configuration, the settings that vary, init_seed, data_seed,
    status, failed, final_<metric> and best_<metric> for every metric, best_step, steps, total_steps,
    wall_seconds, dir), typed: ints, floats, bools, strings, and None where a run has no value (an
    unfinished run has no metrics).

    ``group_by`` names the settings that make a configuration (default: the report's choice). With
    ``as_frame=True``, a pandas DataFrame with nullable dtypes (``Int64``, ``Float64``, ``boolean``,
    ``string``) instead of a list of dicts.

    Raises :class:`StabletuneError` naming the folder or file: no such folder, no runs in it, a run's
    file that cannot be read.
    """
    path = Path(os.fspath(study_or_dir))
    if not path.exists():
        raise StabletuneError(f"{path}: no such folder")
    if not path.is_dir():
        raise StabletuneError(f"{path}: not a folder (give a study folder, a folder of runs, or a run folder)")
    args = ["export", "runs", str(path)]
    if group_by:
        args += ["--group-by", ",".join(group_by)]
    done = run(args, check=False, capture_output=True)
    if done.returncode != 0:
        said = done.stderr.strip()
        said = said[len("error: ") :] if said.startswith("error: ") else said
        raise StabletuneError(f"reading the runs in {path}: {said or f'exit status {done.returncode}'}")
    table = list(csv.reader(io.StringIO(done.stdout, newline="")))
    header, rows = table[0], table[1:]
    kinds = [_column_type(name, [row[i] for row in rows]) for i, name in enumerate(header)]
    records = [{name: _convert(row[i], kinds[i]) for i, name in enumerate(header)} for row in rows]
    if not as_frame:
        return records
    try:
        import pandas as pd
    except ImportError as e:
        raise StabletuneError("read_runs(..., as_frame=True) needs pandas: pip install pandas") from e
    dtypes = {"int": "Int64", "float": "Float64", "bool": "boolean", "str": "string"}
    frame = pd.DataFrame.from_records(records, columns=header)
    return frame.astype({name: dtypes[kind] for name, kind in zip(header, kinds)})


def read_report(study_or_report: PathLike) -> Dict[str, Any]:
    """``report.json`` as Python values (dicts, lists, numbers, strings), from a report folder or a study
    folder (its ``report/`` folder, where ``stabletune report STUDY`` writes it). Raises
    :class:`StabletuneError` naming the file when there is none or it is not valid JSON."""
    path = Path(os.fspath(study_or_report))
    if not path.is_dir():
        raise StabletuneError(f"{path}: no such folder")
    tried = [path / "report.json", path / "report" / "report.json"]
    found = next((p for p in tried if p.is_file()), None)
    if found is None:
        raise StabletuneError(
            f"{path}: no report.json (looked for {tried[0]} and {tried[1]}); "
            f"write one with `stabletune report {path}`"
        )
    try:
        with open(found, encoding="utf-8") as f:
            value = json.load(f)
    except json.JSONDecodeError as e:
        raise StabletuneError(f"{found}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e
    except OSError as e:
        raise StabletuneError(f"{found}: cannot be read: {e.strerror}") from e
    if not isinstance(value, dict):
        raise StabletuneError(f"{found}: expected a JSON object at the top, found {type(value).__name__}")
    return value
