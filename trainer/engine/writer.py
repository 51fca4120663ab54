"""Each epoch to disk on a thread while training goes on; a member's next epoch waits only
for its own last write.

Checkpoints go down before the records, so metrics.json never claims an epoch a resume
could not start after. A single run writes its checkpoints/last.pt every epoch. A
population writes every member's checkpoint in one file, checkpoints/population.pt,
hard-linked into each member's run dir (one serialisation and one fsync per epoch, not one
per member), and a member's own last.pt when it leaves: at its end, when it diverges or
fails, and at an interrupt.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from trainer.rundir import checkpoint

if TYPE_CHECKING:
    from trainer.engine.member import Member


class Writer:
    def __init__(self, together: bool) -> None:
        self.together = together  # a population: population.pt per epoch
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="epoch-io")
        self.writing: dict[int, Future] = {}
        self.saved: dict[int, dict[str, Any]] = {}  # each member's last committed checkpoint

    def commit(self, states: list[tuple[Member, dict[str, Any]]]) -> None:
        """Save the members' checkpoints, then commit each one's staged epoch."""
        if not states:
            return

        def write() -> dict[int, BaseException]:
            if self.together:
                checkpoint.save_population({m.job.logger.run_dir: s for m, s in states})
            errors = {}
            for member, state in states:
                try:
                    with member.logs():
                        if not self.together:
                            checkpoint.save(member.job.logger.run_dir, state)
                        member.job.logger.commit()
                except Exception as err:  # this member's record; the others go on
                    errors[id(member)] = err
            return errors

        future = self.pool.submit(write)
        for member, state in states:
            self.writing[id(member)], self.saved[id(member)] = future, state

    def wait(self, member: Member) -> None:
        """The member's last epoch on disk (raising what its write raised)."""
        future = self.writing.pop(id(member), None)
        if future is not None and (err := future.result().get(id(member))) is not None:
            raise err

    def leave(self, member: Member) -> None:
        """The member leaves the population: its last committed epoch into its own last.pt."""
        self.wait(member)
        state = self.saved.pop(id(member), None)
        if self.together and state is not None:
            with member.logs():
                checkpoint.save(member.job.logger.run_dir, state)  # population.pt goes

    def drain(self, members: list[Member], leave: bool = False) -> list[int]:
        """Wait for every write (and with `leave`, each member leaves); the positions of
        members whose write failed (their error kept in Member.error)."""
        failed = []
        for i, member in enumerate(members):
            try:
                self.leave(member) if leave else self.wait(member)
            except Exception as err:
                member.error = err
                failed.append(i)
        return failed

    def close(self) -> None:
        self.pool.shutdown(wait=True)
