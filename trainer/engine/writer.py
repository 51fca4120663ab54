"""Each member's epoch to disk, by a few threads while the population trains on.

A member's checkpoint goes down before its metrics.json, so the record never claims an
epoch a resume could not start after; a member's next epoch waits only for its own last
write. A single run's epoch is written the same way, by the same threads.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from trainer.rundir import checkpoint

if TYPE_CHECKING:
    from trainer.engine.loop import Member

THREADS = 4  # mostly waiting on the disk


class Writer:
    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="member-io")
        self.writing: dict[int, Future] = {}

    def commit(self, member: Member, state: dict[str, Any]) -> None:
        """Save the member's checkpoint `state`, then commit its staged epoch."""
        def write() -> None:
            with member.logs():
                checkpoint.save(member.job.logger.run_dir, state)
                member.job.logger.commit()

        self.writing[id(member)] = self.pool.submit(write)

    def wait(self, member: Member) -> None:
        """The member's last epoch on disk (raising what its write raised)."""
        future = self.writing.pop(id(member), None)
        if future is not None:
            future.result()

    def drain(self, members: list[Member]) -> list[int]:
        """Wait for every write; the positions of members whose write failed (their error
        kept in Member.error)."""
        failed = []
        for i, member in enumerate(members):
            try:
                self.wait(member)
            except Exception as err:
                member.error = err
                failed.append(i)
        return failed

    def close(self) -> None:
        self.pool.shutdown(wait=True)
