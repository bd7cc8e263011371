"""The intake step as an Airflow task: run one step on one batch, fail fast on what a retry cannot fix,
and report the step's real datasets to OpenLineage.

`kakunin_step` is `@task` with `KakuninStepOperator` as its operator: the callable runs the step
and returns the batch reference; the operator remembers that reference so that, once the task
finished, `get_openlineage_facets_on_complete` can read what the step left in the store.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from airflow.providers.common.compat.sdk import task_decorator_factory
from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
from airflow.sdk import Variable, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from kakunin_airflow.actor import run_actor

log = logging.getLogger(__name__)

# Map index shown in the UI for a mapped step: the batch reference (`<dataset>/<batch_id>`).
MAP_INDEX_TEMPLATE = "{{ kakunin_batch }}"


@contextmanager
def failing_fast() -> Iterator[None]:
    """Errors a retry cannot fix (a broken contract, an unusable input) fail the task at once.

    Anything else (a storage hiccup, a lost lease) is raised as it is, so the task's retries apply."""
    from kakunin.errors import ConfigError, InputError

    try:
        yield
    except (ConfigError, InputError) as exc:
        raise AirflowFailException(f"{exc.code}: {exc} (not retried: a retry cannot fix this)") from exc


def intake_context() -> Any:
    from kakunin.intake.context import IntakeContext
    from kakunin.keys import ENV_VAR, parse_hmac_key
    from kakunin_airflow.store import task_store

    configured = os.environ.get(ENV_VAR) or Variable.get("kakunin_hmac_key", default=None)
    context = get_current_context()
    run_id = str(context["run_id"])
    return IntakeContext.from_env(
        hmac_key=parse_hmac_key(configured) if configured else None,
        actor=run_actor(context).id,  # the triggering user, else airflow:kakunin_intake/<run>
        dag_run_id=run_id,
        store=task_store(),
        workers=1,  # the executor runs tasks side by side already; KAKUNIN_WORKERS overrides
    )


def run_step(name: str, batch: str, context_factory: Callable[[], Any] = intake_context) -> Any:
    """Run step `name` on `batch` under its lease; skip the task when the batch was rejected earlier."""
    from kakunin.intake.context import BatchBusy, StepStatus
    from kakunin.intake.steps import run_step as run
    from kakunin.layout import BatchRef

    try:
        with acting_as_run_user(), failing_fast():
            outcome = run(name, BatchRef.parse(batch), context_factory())
    except BatchBusy as busy:
        raise AirflowSkipException(f"{busy}; the next run takes it if that worker does not finish it") from busy
    log.info("%s %s: %s %s", name, batch, outcome.status, outcome.detail)
    if outcome.status is StepStatus.SKIPPED:
        raise AirflowSkipException(f"batch {batch} was rejected earlier; nothing to {name}")
    if outcome.status is StepStatus.AWAITING:  # stays in landing; the next run takes it once approved
        raise AirflowSkipException(f"batch {batch}: {outcome.status.value}")
    return outcome


@contextmanager
def acting_as_run_user() -> Iterator[None]:
    """Run the block as the DAG run's actor (`kakunin_airflow.actor`); outside a task, as the caller."""
    from kakunin.audit import acting_as

    try:
        context = get_current_context()
    except RuntimeError:  # no task context (a unit test calling run_step): nobody to vouch for
        yield
        return
    with acting_as(run_actor(context)):
        yield


class KakuninStepOperator(_PythonDecoratedOperator):
    """A `@task` running one intake step, which tells OpenLineage what that step read and wrote."""

    custom_operator_name = "@kakunin_step"

    def execute(self, context: Any) -> Any:
        self.kakunin_batch = str(self.op_args[0] if self.op_args else self.op_kwargs["batch"])
        context["kakunin_batch"] = self.kakunin_batch  # rendered by MAP_INDEX_TEMPLATE
        try:
            return super().execute(context)
        finally:  # GX costs seconds to import: only the accuracy step should pay for it
            loaded = "great_expectations" in sys.modules
            log.info("kakunin step %s %s: great_expectations loaded: %s", self.step, self.kakunin_batch, loaded)

    @property
    def step(self) -> str:
        return str(self.task_id).rsplit(".", 1)[-1]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from kakunin.intake.lineage_facts import step_facts
        from kakunin.layout import BatchRef
        from kakunin_airflow.lineage import operator_lineage
        from kakunin_airflow.store import task_store

        batch = getattr(self, "kakunin_batch", None)
        if batch is None:
            from airflow.providers.openlineage.extractors import OperatorLineage

            return OperatorLineage()
        return operator_lineage(step_facts(task_store(), BatchRef.parse(batch), self.step))

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        return self.get_openlineage_facets_on_complete(task_instance)


def kakunin_step(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """`@task`, with the step operator and the batch as map index."""
    kwargs.setdefault("map_index_template", MAP_INDEX_TEMPLATE)
    return task_decorator_factory(
        python_callable=python_callable, decorated_operator_class=KakuninStepOperator, **kwargs
    )
