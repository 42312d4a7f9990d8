"""A rank leaves without interpreter finalization, its output flushed and its exit code kept."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_leave_flushes_the_streams_and_logs_and_exits_with_the_code() -> None:
    code = textwrap.dedent(
        """
        import atexit, logging, sys
        from training.distributed import leave
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
        atexit.register(lambda: print("finalized", flush=True))  # skipped: no finalization
        sys.stdout.write("no newline, still buffered")
        logging.getLogger("rank").info("logged before leaving")
        leave(3)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "no newline, still buffered"
    assert "logged before leaving" in done.stderr
