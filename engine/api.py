"""The engine's front door: one ``Duban`` per database, every command one transaction.

A thin facade: every write, permission check and trail record is the ``Writer``'s
(engine/core/writer.py); the reads here and the look-back commands call downwards.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engine.core import keys as trail_keys
from engine.core import signoffs
from engine.core import trail
from engine.core.errors import DubanError, PermissionDenied, UnknownUser, VerificationFailed
from engine.core.views import (
    CampaignView,
    ExtensionRequestView,
    LookbackPlanView,
    LookbackRecordResult,
    ProblemView,
    TrailView,
    UserView,
)
from engine.core.writer import SELECT_USER, Writer, campaign_view, user_view
from storage import tables as T
from workflows.access import SUPERVISING_ROLES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["Duban"]


class Duban(Writer):
    """A ledger: the Writer's writes, the reads people ask for and the look-back commands."""

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """An ORM session over one read-only snapshot: no write lock on SQLite, so readers (a web
        front's pages) never wait for writers nor hold them up. Inside a batch, the batch's session."""
        from sqlalchemy.orm import Session  # the ORM only for callers that work with the models

        if self._batch_connection() is not None:
            with self.transaction() as s:
                yield s.orm
            return
        with self.reading() as conn, Session(bind=conn, expire_on_commit=False) as s:
            yield s

    def deny_extension(self, actor: str, request_id: int, reason: str, *,
                       answer: Any = None) -> "ExtensionRequestView":
        """Denies a pending extension request; the unit is answered through its channel (a reminder of
        rule ``extension_denied``, claimed in the same transaction)."""
        from engine.supervision import reminders

        return super().deny_extension(actor, request_id, reason, answer=answer or (
            lambda s, task, request: reminders.answer_denied(self, s, task, request)))

    # ------------------------------------------------------------------ reading
    def list_users(self) -> list[UserView]:
        with self.reading() as conn:
            return [user_view(u) for u in conn.execute(sa.select(T.users).order_by(T.users.c.name))]

    def get_user(self, name: str) -> UserView:
        with self.reading() as conn:
            row = conn.execute(SELECT_USER, {"name": name}).first()
        if row is None:
            raise UnknownUser(name)
        return user_view(row)

    def list_campaigns(self) -> list[CampaignView]:
        with self.reading() as conn:
            return [campaign_view(c) for c in conn.execute(sa.select(T.campaigns).order_by(T.campaigns.c.id))]

    def list_problems(self, campaign: str | None = None) -> list[ProblemView]:
        problem, tasks = T.problems, T.tasks
        with self.reading() as conn:
            parent = problem.alias("parent")
            counts = (
                sa.select(tasks.c.problem_id, sa.func.count().label("n")).group_by(tasks.c.problem_id).subquery()
            )
            stmt = (
                sa.select(problem.c.id, problem.c.code, problem.c.title, T.campaigns.c.name,
                          parent.c.code.label("parent_code"), sa.func.coalesce(counts.c.n, 0).label("n"))
                .join(T.campaigns, T.campaigns.c.id == problem.c.campaign_id)
                .outerjoin(parent, parent.c.id == problem.c.parent_id)
                .outerjoin(counts, counts.c.problem_id == problem.c.id)
                .order_by(T.campaigns.c.id, problem.c.id)
            )
            if campaign:
                stmt = stmt.where(T.campaigns.c.id == self.campaign_id(conn, campaign))
            return [ProblemView(r.id, r.name, r.code, r.title, r.parent_code, r.n) for r in conn.execute(stmt)]

    # ------------------------------------------------------------------ reading
    def trail(self) -> list[TrailView]:
        with self.reading() as conn:
            return [TrailView.from_record(r) for r in conn.execute(sa.select(T.trail).order_by(T.trail.c.id))]

    def verify(self, *, checkpoint: Any = None) -> trail.VerifyReport:
        """Raises ``VerificationFailed`` naming every bad record, row, column or file (the first first).

        ``checkpoint``: a statement written by ``checkpoint()`` that the ledger must still extend.
        """
        self._require_whole_view("verify the trail")
        with self.reading() as conn:  # one snapshot, and no write lock: writers carry on meanwhile
            head = trail.current_head(conn)
            keys, path = self.trail_keys(head.ledger_id) if head.ledger_id else (None, None)
            report = trail.verify(conn, keys, key_file=path, blob_path=self.blobs.path_for,
                                  blob_root=self.blobs.root)
            # Sign-off chains replayed from the same records: every step in turn, by whom it allows.
            for problem in signoffs.verify(conn, self._loadable_workflows()):
                report.add(problem)
            if checkpoint is not None:
                report.problems[:0] = self._checkpoint_problems(conn, checkpoint, keys, head.ledger_id)
        if not report.ok:
            raise VerificationFailed(report.problems + ([f"… and {report.more_problems} more"]
                                                        if report.more_problems else []))
        return report

    def _loadable_workflows(self) -> dict[str, Any]:
        """The workflows the ledger knows that load (a broken file elsewhere is not the trail's fault)."""
        found = {}
        for name in self.registry.names():
            try:
                found[name] = self.registry.get(name)
            except DubanError:
                continue
        return found

    def _require_whole_view(self, action: str) -> None:
        """On PostgreSQL, a unit's or leader's login sees only its own rows (row-level security):
        checking the whole chain from there would report the hidden records as deleted."""
        from storage import pg_security

        login = pg_security.login_role(self.engine)
        if login is None:
            return
        with self.reading() as conn:
            row = conn.execute(SELECT_USER, {"name": login}).first()
        if row is not None and row.role not in SUPERVISING_ROLES:
            raise PermissionDenied(login, row.role, action,
                                   "row-level security hides other units' records from this login, so the chain "
                                   "cannot be checked from it; log in as a supervisor or admin (or the ledger's owner)")

    def checkpoint(self) -> dict[str, Any]:
        """A statement of the chain head (records, last id, hash, time) signed with the office's Ed25519 key."""
        self._require_whole_view("write a checkpoint")
        with self.reading() as conn:
            head = trail.current_head(conn)
            keys, path = self.trail_keys(head.ledger_id) if head.ledger_id else (None, None)
            if keys is None:
                raise trail_keys.TrailKeyMissing(path or Path("(none: authentication was never enabled; "
                                                              "run 'duban audit rotate-key')"))
            return trail_keys.sign_checkpoint(keys, {"records": head.count, "last_id": head.last_id,
                                                     "hash": head.last_hash, "at": self.now().isoformat()})

    def _checkpoint_problems(self, conn: sa.Connection, statement: Any, keys: trail_keys.TrailKeys | None,
                             ledger_id: str | None) -> list[str]:
        why = trail_keys.check_checkpoint_signature(statement, keys)
        if why is not None:
            return [f"the checkpoint cannot be trusted: {why}"]
        if statement.get("ledger") != ledger_id:
            return [f"the checkpoint is of ledger {statement.get('ledger')}, not of this one ({ledger_id})"]
        last_id, count, digest = statement["last_id"], statement["records"], statement["hash"]
        if not count:
            return []
        trail_t = T.trail
        found = conn.execute(sa.select(trail_t.c.hash).where(trail_t.c.id == last_id)).first()
        if found is None:
            return [f"the ledger no longer extends the checkpoint of {statement['at']}: its record {last_id} "
                    "is gone (the trail was truncated or rewritten)"]
        if found.hash != digest:
            return [f"the ledger no longer extends the checkpoint of {statement['at']}: record {last_id} now "
                    f"hashes to {found.hash[:16]}…, the checkpoint says {digest[:16]}… (the trail was rewritten)"]
        held = conn.execute(sa.select(sa.func.count()).select_from(trail_t).where(trail_t.c.id <= last_id)).scalar_one()
        if held != count:
            return [f"the ledger no longer extends the checkpoint of {statement['at']}: it holds {held} records "
                    f"up to record {last_id}, the checkpoint {count} (records were removed or inserted)"]
        return []

    # ------------------------------------------------------------------ look-back reviews (engine/supervision/lookback.py)
    def lookback_plan(self, actor: str, campaign: str | None, sample_percent: int, on: date | str,
                      seed: int | None = None, *, dry_run: bool = False) -> LookbackPlanView:
        """A stratified, seeded sample of the campaign's finished items for a look-back on ``on``."""
        from engine.supervision import lookback

        return lookback.plan(self, actor, campaign, sample_percent, on, seed, dry_run=dry_run)

    def lookback_record(self, actor: str, lookback_id: int, passed: bool, note: str, *,
                        due: str | date | None = None) -> LookbackRecordResult:
        """Pass, or rebound: fires the workflow's rebound event with the new deadline, all in one transaction."""
        from engine.supervision import lookback

        return lookback.record(self, actor, lookback_id, passed, note, due=due)
