"""RQ jobs and the cron schedule (contact clocks, escalations, delivery, rollups).

Jobs take ids and re-enter a tenant scope with ``baton.tenants.context.acting_as`` or a named
``system_scope``; the rules they apply live in ``baton.platform.services``.
"""
