"""The tenancy choke point: the only module that adds tenant criteria to queries.

First lock: every ORM statement that touches a tenant-owned model gets loader criteria for
the acting principal (a session-level hook, so a forgotten helper still filters), and a
``before_flush`` check stamps ``tenant_id`` on new rows and refuses rows outside the scope.
Second lock (PostgreSQL): row-level security reads ``baton.tenant_ids`` / ``baton.system``,
which are set at the start of every transaction from the same principal.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Uuid, and_, event, false, inspect, select, text
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql import ColumnElement

from baton.tenants.context import (
    Principal,
    TenantContextMissing,
    current_principal,
    on_change,
    on_leave_scope,
    require_principal,
)


class CrossTenantWrite(RuntimeError):
    """A flush tried to write a row outside the acting principal's tenants."""


class AppendOnly(RuntimeError):
    """A flush tried to update or delete an append-only row."""


class TenantScoped:
    """Tenant-owned model. ``provider_criteria`` says which rows a provider may see (default none).

    The plain form has a nullable ``tenant_id`` (rows outside any district, e.g. a provider's
    sign-in in the audit log); most models use TenantKeyed.
    """

    __append_only__ = False

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID | None]:
        return mapped_column(Uuid, ForeignKey("tenants.id"), nullable=True)

    @classmethod
    def provider_criteria(cls, provider_id: uuid.UUID) -> ColumnElement[bool]:
        return false()

    @classmethod
    def single_referral_criteria(cls, referral_id: uuid.UUID) -> ColumnElement[bool]:
        """Rows a one-link principal (bound to one referral) may see: none by default."""
        return false()


class TenantKeyed(TenantScoped):
    """Tenant-owned model whose primary key leads with ``tenant_id`` (shardable by tenant)."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(Uuid, ForeignKey("tenants.id"), primary_key=True, sort_order=-10)


def _criteria_options(principal: Principal | None) -> list:
    """Loader-criteria options for the principal; none for a system scope."""
    if principal is not None and principal.unbound_system:
        return []
    if principal is None or principal.kind == "county":
        return [with_loader_criteria(TenantScoped, lambda cls: false(), include_aliases=True)]
    if principal.kind == "district" or principal.bound_system:
        tenant_id = principal.tenant_id
        return [
            with_loader_criteria(
                TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True
            )
        ]
    # Providers: per-model rules (provider_criteria) inside the partner districts. Built as
    # plain expressions per class because the rules differ in shape from model to model.
    tenant_ids = sorted(principal.visible_tenant_ids)
    return [
        with_loader_criteria(cls, _provider_rule(cls, principal, tenant_ids), include_aliases=True)
        for cls in _tenant_models()
    ]


def _provider_rule(cls, principal: Principal, tenant_ids: list) -> ColumnElement[bool]:
    rule = and_(cls.tenant_id.in_(tenant_ids), cls.provider_criteria(principal.provider_id))
    if principal.referral_id is not None:  # a one-link principal: narrower still
        rule = and_(rule, cls.single_referral_criteria(principal.referral_id))
    return rule


def _tenant_models() -> list[type]:
    """Every mapped tenant-owned class (subclasses of TenantScoped that have a mapper)."""
    found, pending = [], [TenantScoped]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "__mapper__" in cls.__dict__ or getattr(cls, "__table__", None) is not None:
            found.append(cls)
    return found


def _touches_tenant_tables(state: ORMExecuteState) -> bool:
    return any(issubclass(m.class_, TenantScoped) for m in state.all_mappers)


def _add_tenant_criteria(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    principal = current_principal()
    if principal is None and _touches_tenant_tables(state):
        raise TenantContextMissing("tenant-owned table queried with no acting principal")
    options = _criteria_options(principal)
    if options:
        state.statement = state.statement.options(*options)


def _check_flush(session: Session, flush_context, instances) -> None:
    touched = [o for o in (*session.new, *session.dirty, *session.deleted)]
    if not any(isinstance(o, TenantScoped) for o in touched):
        return
    principal = require_principal()
    for obj in session.new:
        if isinstance(obj, TenantScoped):
            _stamp_or_check(obj, principal)
    for obj in (*session.dirty, *session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        if obj.__append_only__ and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnly(f"{type(obj).__name__} rows are append-only")
        _check_tenant(obj.tenant_id, principal)
        history = inspect(obj).attrs.tenant_id.history
        if history.deleted and any(old != obj.tenant_id for old in history.deleted):
            raise CrossTenantWrite("tenant_id of an existing row cannot change")


def _stamp_or_check(obj: TenantScoped, principal: Principal) -> None:
    if obj.tenant_id is None and (principal.kind == "district" or principal.bound_system):
        obj.tenant_id = principal.tenant_id
    if obj.tenant_id is None and not _nullable_tenant(obj):
        raise CrossTenantWrite(f"{type(obj).__name__} needs a tenant_id")
    if obj.tenant_id is not None:
        _check_tenant(obj.tenant_id, principal)


def _nullable_tenant(obj: TenantScoped) -> bool:
    return inspect(type(obj)).columns["tenant_id"].nullable


def _check_tenant(tenant_id: uuid.UUID | None, principal: Principal) -> None:
    if principal.unbound_system or tenant_id is None:
        return
    if tenant_id not in principal.visible_tenant_ids:
        raise CrossTenantWrite("row belongs to another tenant")


def _rls_settings(principal: Principal | None) -> dict[str, str]:
    ids = ",".join(str(t) for t in sorted(principal.visible_tenant_ids)) if principal else ""
    system = "on" if principal is not None and principal.unbound_system else "off"
    return {"tenant_ids": ids, "system": system}


_SET_RLS = text(
    "SELECT set_config('baton.tenant_ids', :tenant_ids, true), "
    "set_config('baton.system', :system, true)"
)


def _after_begin(session: Session, transaction, connection) -> None:
    # The settings are transaction-local, so with no principal there is nothing to clear:
    # unset, the policies show no tenant rows.
    principal = current_principal()
    if principal is not None and connection.dialect.name == "postgresql":
        connection.execute(_SET_RLS, _rls_settings(principal))


def install(session_registry) -> None:
    """Attach the choke point to every ORM session and keep the RLS settings in step.

    ``session_registry`` is the app's scoped session; when the principal changes inside an
    open transaction (a system scope within a request), the RLS settings are re-applied.
    """
    event.listen(Session, "do_orm_execute", _add_tenant_criteria)
    event.listen(Session, "before_flush", _check_flush)
    event.listen(Session, "after_begin", _after_begin)

    def reapply(principal: Principal | None) -> None:
        try:
            session = session_registry()
        except RuntimeError:  # outside an application context: nothing open to update
            return
        if session.in_transaction() and session.get_bind().dialect.name == "postgresql":
            session.connection().execute(_SET_RLS, _rls_settings(principal))

    on_change(reapply)

    def flush_inside_scope(principal: Principal) -> None:
        try:
            session = session_registry()
        except RuntimeError:
            return
        if session.new or session.dirty or session.deleted:
            session.flush()

    on_leave_scope(flush_inside_scope)


def scoped(model):
    """A select of ``model`` for the acting principal (criteria come from the session hook)."""
    require_principal()
    return select(model)


def access(session: Session, model, object_id: uuid.UUID | str | None):
    """Load one tenant-owned row by id for the acting principal, or None (foreign = missing)."""
    principal = require_principal()
    try:
        object_id = object_id if isinstance(object_id, uuid.UUID) else uuid.UUID(str(object_id))
    except (TypeError, ValueError):
        return None
    if (principal.kind == "district" or principal.bound_system) and issubclass(model, TenantKeyed):
        # The identity key is (tenant, id): answered from the identity map when loaded.
        return session.get(model, (principal.tenant_id, object_id))
    return session.scalars(select(model).where(model.id == object_id)).one_or_none()


def model_for_arg(name: str):
    """The tenant-owned model a route argument names (``referral_id`` -> Referral), or None.

    Routes name id arguments after their model, so visibility can be checked generically.
    """
    if not name.endswith("_id"):
        return None
    wanted = name.removesuffix("_id").replace("_", "")
    return next((cls for cls in _tenant_models() if cls.__name__.lower() == wanted), None)
