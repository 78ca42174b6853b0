"""Run one client process and measure it: wall time, peak RSS and CPU time.

Peak RSS is ``ru_maxrss`` of the process and of every descendant it waited for (for a shell
script: its biggest ``curl``), in KiB.  It is read by GNU ``/usr/bin/time`` (``%M``), not by
``os.wait4`` here: on Linux a child's ``ru_maxrss`` starts at the resident size of the
process it was forked from (the kernel keeps the high-water mark across ``exec``), so a
child of this ~100 MiB orchestrator would never report less than ~100 MiB.  ``time`` is a
tiny program, so what it reports is the client's own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class ProcessResult:
    argv: list[str]
    returncode: int
    wall_s: float
    maxrss_kib: int
    user_s: float
    sys_s: float
    stdout: str
    stderr: str
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def json_line(self) -> dict[str, Any] | None:
        """The last line of stdout parsed as JSON (the Python runner's report), if any."""
        for line in reversed(self.stdout.strip().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    doc = json.loads(line)
                except ValueError:
                    return None
                return doc if isinstance(doc, dict) else None
        return None

    def error_tail(self, n: int = 600) -> str:
        text = (self.stderr.strip() or self.stdout.strip())
        return ("timed out; " if self.timed_out else "") + text[-n:]


TIME = "/usr/bin/time"
HAVE_TIME = os.access(TIME, os.X_OK)


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 300.0,
    stdout_path: str | os.PathLike[str] | None = None,
) -> ProcessResult:
    """Run ``argv`` to completion; stdout/stderr go to temporary files (or ``stdout_path``)."""
    rusage_file = tempfile.NamedTemporaryFile(prefix="bench-rusage-", delete=False)
    rusage_file.close()
    full = ([TIME, "-f", "%M %U %S", "-o", rusage_file.name, "--", *argv] if HAVE_TIME
            else list(argv))
    with tempfile.TemporaryFile() as err_f, (
        open(stdout_path, "wb") if stdout_path is not None else tempfile.TemporaryFile()
    ) as out_f:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            full, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f,
            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err_f.seek(0)
        stderr = err_f.read().decode("utf-8", "replace")
        stdout = ""
        if stdout_path is None:
            out_f.seek(0)
            stdout = out_f.read().decode("utf-8", "replace")
    maxrss, user, sys_ = int(ru.ru_maxrss), ru.ru_utime, ru.ru_stime
    if HAVE_TIME:
        try:
            last = Path(rusage_file.name).read_text().strip().splitlines()[-1].split()
            maxrss, user, sys_ = int(last[0]), float(last[1]), float(last[2])
        except (OSError, IndexError, ValueError):
            maxrss = -1  # unknown (killed before time could report)
    os.unlink(rusage_file.name)
    return ProcessResult(
        argv=list(argv), returncode=proc.returncode, wall_s=wall, maxrss_kib=maxrss,
        user_s=user, sys_s=sys_, stdout=stdout, stderr=stderr,
        timed_out=timed_out.is_set(),
    )
