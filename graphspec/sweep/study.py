"""The Optuna study behind a sweep: its storage, sampler and pruner, and the claiming of trials.

Embedded by default: the study is an Optuna journal file in the sweep folder (file-locked, so
several worker processes of one machine share it). `--storage URL` puts it in any database
Optuna supports (PostgreSQL for workers on several machines); there, trials whose worker stopped
sending heartbeats are failed by Optuna's own `fail_stale_trials`.

A trial that was running when its worker died (SIGKILL, a lost machine) is marked FAIL, and its
parameters are queued again so that the sweep still ends with exactly N finished trials.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from graphspec.core.errors import Pos, fail
from graphspec.language.search_space import Space
from graphspec.sweep.definition import Definition

JOURNAL = "study.journal"
CLAIM_LOCK = "claim.lock"
HEARTBEAT_S = 30
SCHEMA_TRIES = 5
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def open_study(defn: Definition, folder: Path, storage_url: str | None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # graphspec prints its own lines
    return optuna.create_study(
        study_name=f"graphspec-{Path(defn.spec).stem}-{defn.key}",
        storage=_storage(folder, storage_url),
        sampler=_sampler(defn),
        pruner=_pruner(defn),
        direction="maximize" if defn.direction == "maximize" else "minimize",
        load_if_exists=True,
    )


def _storage(folder: Path, url: str | None) -> Any:
    if url is None:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(str(folder / JOURNAL)))
    try:
        return _rdb_storage(url)
    except ImportError as err:  # the URL's database driver is not installed
        raise fail(
            "E-INSTALL",
            f"--storage {_safe(url)}: {err} ({err.__cause__})",
            Pos(f"--storage {_safe(url)}", 1, 1),
            hint="for postgresql://: pip install 'graphspec[sweep]' (psycopg)",
        ) from None
    except (ValueError, ArgumentError, OperationalError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise fail(
            "E-IO",
            f"cannot open the study's database {_safe(url)}: {reason}",
            Pos(f"--storage {_safe(url)}", 1, 1),
            hint="check the URL, that the server runs, and that this machine may connect",
        ) from None


def _rdb_storage(url: str) -> Any:
    """Optuna's RDBStorage; workers starting together race to create its tables, and the
    losers see a unique-key violation once the winner has: they simply open it again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats
        for attempt in range(SCHEMA_TRIES):
            try:
                return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S)
            except IntegrityError:
                if attempt == SCHEMA_TRIES - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def _sampler(defn: Definition) -> optuna.samplers.BaseSampler:
    seed = defn.seed
    if defn.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if defn.sampler == "grid":
        return optuna.samplers.GridSampler({s.key: grid(s) for s in defn.spaces}, seed=seed)
    if defn.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def grid(space: Space) -> list[Any]:
    if space.kind == "choice":
        return list(space.choices)
    step = space.step or 1
    count = int(round((space.high - space.low) / step)) + 1
    values = [space.low + i * step for i in range(count)]
    return [int(v) for v in values] if space.kind == "int" else values


def _pruner(defn: Definition) -> optuna.pruners.BasePruner:
    if defn.pruner == "none":
        return optuna.pruners.NopPruner()
    if defn.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    # a short sweep should prune too: Optuna's default waits for 5 finished trials
    return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, defn.trials // 4)))


def suggest(trial: Trial, space: Space) -> Any:
    if space.kind == "choice":
        return trial.suggest_categorical(space.key, list(space.choices))
    if space.kind == "int":
        step = 1 if space.log else int(space.step or 1)
        return trial.suggest_int(
            space.key, int(space.low), int(space.high), step=step, log=space.log
        )
    return trial.suggest_float(space.key, space.low, space.high, step=space.step, log=space.log)


def counts(study: optuna.Study) -> dict[TrialState, int]:
    found = {state: 0 for state in TrialState}
    for t in study.get_trials(deepcopy=False):
        found[t.state] += 1
    return found


@contextlib.contextmanager
def claiming(study: optuna.Study, folder: Path) -> Iterator[None]:
    """One worker at a time counts the trials and asks for the next: a file lock among this
    machine's workers, and in PostgreSQL an advisory lock among every machine's."""
    with open(folder / CLAIM_LOCK, "a") as f, _database_lock(study):
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def _database_lock(study: optuna.Study) -> Iterator[None]:
    engine = getattr(study._storage, "engine", None)  # RDBStorage's SQLAlchemy engine
    if engine is None or engine.dialect.name != "postgresql":
        yield  # a journal file is one machine's: the file lock is enough
        return
    from sqlalchemy import text

    key = int(hashlib.sha256(study.study_name.encode()).hexdigest()[:15], 16)  # a bigint
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def claim(study: optuna.Study, defn: Definition, folder: Path) -> Trial | None:
    """The next trial to run, or None once N trials are finished or running."""
    with claiming(study, folder):
        found = counts(study)
        if found[TrialState.COMPLETE] + found[TrialState.PRUNED] + found[TrialState.RUNNING] >= (
            defn.trials
        ):
            return None
        trial = study.ask()
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", os.getpid())
    return trial


def heartbeat(study: optuna.Study, trial: Trial) -> Any:
    """A database study's heartbeat for the trial while it runs (study.optimize() starts one;
    ask-and-tell must do it itself), so that other machines can tell when it stopped."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    return get_heartbeat_thread(trial._trial_id, study._storage)


def fail_dead_trials(study: optuna.Study, folder: Path, storage_url: str | None) -> list[int]:
    """Trials left RUNNING by a worker that is gone: FAIL them and queue their values again.

    On this machine a worker is gone when its pid is; a database's trials go stale when their
    heartbeat stops (Optuna decides). Returns the failed trials' numbers."""
    failed: list[int] = []
    with claiming(study, folder):
        if storage_url is not None:
            before = {t.number for t in study.get_trials(states=(TrialState.FAIL,))}
            optuna.storages.fail_stale_trials(study)
            stale = [
                t for t in study.get_trials(states=(TrialState.FAIL,)) if t.number not in before
            ]
        else:
            stale = [t for t in study.get_trials(states=(TrialState.RUNNING,)) if _dead(t)]
            for t in stale:
                study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        for t in stale:
            study.enqueue_trial(t.params, user_attrs={"redo_of": t.number})
            failed.append(t.number)
    return failed


def _dead(trial: FrozenTrial) -> bool:
    if trial.user_attrs.get("host") != socket.gethostname():
        return False  # another machine's: its own heartbeat decides
    pid = trial.user_attrs.get("pid")
    if not isinstance(pid, int):
        return True  # asked but never started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return pid == os.getpid()  # this very process is starting again: not running it now
