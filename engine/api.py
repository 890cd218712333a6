"""The engine's front door: one ``Duban`` per database, every command one transaction.

A thin facade: every write, permission check and trail record is the ``Writer``'s
(engine/core/writer.py); the reads here and the look-back commands call downwards.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from engine.core import keys as trail_keys
from engine.core import signoffs
from engine.core import trail
from engine.core.errors import DubanError, PermissionDenied, VerificationFailed
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
from engine.supervision import lookback
from storage.models import Campaign, Problem, Task, TrailRecord, User
from workflows.access import SUPERVISING_ROLES

__all__ = ["Duban"]


class Duban(Writer):
    """A ledger: the Writer's writes, the reads people ask for and the look-back commands."""

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """An ORM session over one read-only snapshot: no write lock on SQLite, so readers (a web
        front's pages) never wait for writers nor hold them up. Inside a batch, the batch's session."""
        if self._batch_connection() is not None:
            with self.transaction() as s:
                yield s
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
        with self.read_session() as s:
            return [user_view(u) for u in s.execute(sa.select(User).order_by(User.name)).scalars()]

    def get_user(self, name: str) -> UserView:
        with self.read_session() as s:
            return user_view(self.user_row(s, name))

    def list_campaigns(self) -> list[CampaignView]:
        with self.read_session() as s:
            return [campaign_view(c) for c in s.execute(sa.select(Campaign).order_by(Campaign.id)).scalars()]

    def list_problems(self, campaign: str | None = None) -> list[ProblemView]:
        with self.read_session() as s:
            parent = sa.orm.aliased(Problem)
            counts = (
                sa.select(Task.problem_id, sa.func.count().label("n")).group_by(Task.problem_id).subquery()
            )
            stmt = (
                sa.select(Problem, Campaign.name, parent.code, sa.func.coalesce(counts.c.n, 0))
                .join(Campaign, Campaign.id == Problem.campaign_id)
                .outerjoin(parent, parent.id == Problem.parent_id)
                .outerjoin(counts, counts.c.problem_id == Problem.id)
                .order_by(Campaign.id, Problem.id)
            )
            if campaign:
                stmt = stmt.where(Campaign.id == self.campaign_row(s, campaign).id)
            return [ProblemView(p.id, cname, p.code, p.title, pcode, n) for p, cname, pcode, n in s.execute(stmt)]

    # ------------------------------------------------------------------ reading
    def trail(self) -> list[TrailView]:
        with self.read_session() as s:
            return [TrailView.from_record(r) for r in s.execute(sa.select(TrailRecord).order_by(TrailRecord.id)).scalars()]

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
        trail_t = TrailRecord.__table__
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
    def lookback_plan(self, actor: str, campaign: str | None, sample_percent: int, on: date,
                      seed: int | None = None, *, dry_run: bool = False) -> LookbackPlanView:
        """A stratified, seeded sample of the campaign's finished items for a look-back on ``on``."""
        return lookback.plan(self, actor, campaign, sample_percent, on, seed, dry_run=dry_run)

    def lookback_record(self, actor: str, lookback_id: int, passed: bool, note: str, *,
                        due: str | date | None = None) -> LookbackRecordResult:
        """Pass, or rebound: fires the workflow's rebound event with the new deadline, all in one transaction."""
        return lookback.record(self, actor, lookback_id, passed, note, due=due)
