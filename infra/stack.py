"""The Sluice stack: composes one construct per concern and wires least-privilege grants."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, RemovalPolicy, Stack, Tags
from constructs import Construct

from infra.async_endpoint import AsyncInferenceIo
from infra.cost import STACK_TAG, CostAlarms, CostRules, CostTable, StackBudget, grant_cost_controls
from infra.encryption import PlatformKey
from infra.endpoint_scaling import EndpointScaling
from infra.event_bus import PlatformEventBus
from infra.functions import SluiceFunction, SluiceLayer, service_name
from infra.lifecycle import ModelLifecycle
from infra.lifecycle_feedback import FeedbackTable
from infra.model_endpoint import ModelEndpoint
from infra.nag import acknowledge
from infra.observability import AuditTrail, OperationalAlarms, StageDashboard
from infra.operator_alerts import OperatorAlerts
from infra.privacy import PiiKeyMaterial
from infra.rest_api import RestApi
from infra.review import HumanReview
from infra.route_config import LiveRouteTable
from infra.route_queue import RouteQueue
from infra.state import StateTables
from infra.sweeper import SweeperSchedule
from infra.uploads import Uploads
from infra.worker import subscribe_worker
from sluice.config import DeploymentConfig
from sluice.cost.pricing import PriceList
from sluice.routing.table import RouteTable, RouteTarget
from sluice.runtime import api as api_runtime
from sluice.runtime import async_result as async_result_runtime
from sluice.runtime import audit as audit_runtime
from sluice.runtime import budget as budget_runtime
from sluice.runtime import ingest as ingest_runtime
from sluice.runtime import review_intake as review_intake_runtime
from sluice.runtime import reviews as reviews_runtime
from sluice.runtime import sweeper as sweeper_runtime
from sluice.runtime import worker as worker_runtime


class SluiceStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        removal = RemovalPolicy.RETAIN if config.stage == "prod" else RemovalPolicy.DESTROY
        key = PlatformKey(self, "Encryption", removal_policy=removal).key
        tables = StateTables(self, "State", key=key, removal_policy=removal)
        bus = PlatformEventBus(self, "Events", key=key)
        layer = SluiceLayer(self, "SluiceLayer").layer

        queues = {
            route.name: RouteQueue(
                self,
                f"Queue-{route.name}",
                route=route,
                key=key,
                visibility_timeout_seconds=config.worker_visibility_timeout_seconds,
            )
            for route in config.routes
        }
        # Asynchronous routes share one bucket (S3 in and out), two topics and a results queue.
        async_io = (
            AsyncInferenceIo(
                self,
                "AsyncInference",
                key=key,
                removal_policy=removal,
                visibility_timeout_seconds=config.worker_visibility_timeout_seconds,
                max_receive_count=config.async_results_max_receive_count,
                failure_services=(service_name("async_result"), service_name("sweeper")),
            )
            if any(route.endpoint.mode == "async" for route in config.routes)
            else None
        )
        endpoints = {
            route.name: ModelEndpoint(self, f"Model-{route.name}", route=route, key=key, async_io=async_io)
            for route in config.routes
        }
        for route in config.routes:
            EndpointScaling(
                self,
                f"Scaling-{route.name}",
                route=route,
                endpoint_name=endpoints[route.name].endpoint_name,
                endpoint=endpoints[route.name].endpoint,
            )
        common = {
            "layer": layer,
            "key": key,
            "log_retention_days": config.log_retention_days,
            "removal_policy": removal,
        }
        # The functions first, their environments last (`configure`): each function's settings
        # model names resources made in between (the API's keys, the route table parameter).
        api_function = SluiceFunction(
            self,
            "ApiFunction",
            handler_folder="api",
            description="Sluice REST API: validate, redact, route",
            config=config.api_function,
            **common,
        )
        worker = SluiceFunction(
            self,
            "WorkerFunction",
            handler_folder="worker",
            description="Sluice worker: serve queued jobs in micro-batches",
            config=config.worker_function,
            **common,
        )
        ingest = SluiceFunction(
            self,
            "IngestFunction",
            handler_folder="ingest",
            description="Sluice ingest: stream uploaded files of records into route queues",
            config=config.ingest.function,
            **common,
        )
        async_result = (
            SluiceFunction(
                self,
                "AsyncResultFunction",
                handler_folder="async_result",
                description="Sluice async_result: finish jobs from SageMaker async notifications",
                config=config.worker_function,
                **common,
            )
            if async_io is not None
            else None
        )
        sweeper = (
            SluiceFunction(
                self,
                "SweeperFunction",
                handler_folder="sweeper",
                description="Sluice sweeper: finish async jobs whose notification was lost",
                config=config.worker_function,
                **common,
            )
            if async_io is not None
            else None
        )

        tables.jobs.grant_read_write_data(api_function.role)
        tables.idempotency.grant_read_write_data(api_function.role)
        feedback = FeedbackTable(self, "Feedback", key=key, removal_policy=removal)
        feedback.grant_read_write(api_function.role)
        tables.jobs.grant_read_write_data(worker.role)
        bus.bus.grant_put_events_to(worker.role)
        for route in config.routes:
            queues[route.name].queue.grant_send_messages(api_function.role)
            endpoints[route.name].grant_invoke(api_function.role)
            endpoints[route.name].grant_invoke(worker.role)
            subscribe_worker(worker, route, queues[route.name])

        # S3 batch ingestion: uploads bucket → SQS → ingest → route queues; the worker accounts
        # for batch jobs (results, counters, BatchCompleted).
        uploads = Uploads(self, "Uploads", config=config, key=key, removal_policy=removal)
        uploads.subscribe(ingest)
        uploads.grant_ingest(ingest)
        tables.jobs.grant_write_data(ingest.role)
        bus.bus.grant_put_events_to(ingest.role)
        for route in config.routes:
            queues[route.name].queue.grant_send_messages(ingest.role)
        uploads.grant_outputs(worker)
        uploads.batches.grant_read_write_data(worker.role)

        api = RestApi(self, "RestApi", config=config, handler=api_function.function, key=key)

        # Uploaded records are redacted with the same keys and vault as API requests.
        pii_keys = PiiKeyMaterial(self, "PiiKeys", key=key, removal_policy=removal)
        pii_keys.grant_redact_and_reveal(api_function.role)
        pii_keys.grant_redact_and_reveal(ingest.role)

        if async_io is not None and async_result is not None and sweeper is not None:
            async_io.subscribe(async_result)
            SweeperSchedule(self, "Sweep", function=sweeper)
            # Both finish async jobs, from a notification or from the output the sweeper finds.
            for finisher in (async_result, sweeper):
                async_io.grant_read_objects(finisher.role)
                tables.jobs.grant_read_write_data(finisher.role)
                bus.bus.grant_put_events_to(finisher.role)
                uploads.batches.grant_read_write_data(finisher.role)
                uploads.grant_outputs(finisher)
            async_io.grant_put_objects(worker.role)

        # Routing: one route table, with tenant overrides keyed by API key id, both the live
        # parameter and every function's deployed fallback; shared breakers for the callers.
        route_table = RouteTable(
            routes={
                route.name: RouteTarget.from_config(
                    route,
                    queue_url=queues[route.name].queue.queue_url,
                    endpoint_name=endpoints[route.name].endpoint_name,
                    tenant_ids={tenant: api_key.key_id for tenant, api_key in api.api_keys.items()},
                )
                for route in config.routes
            }
        )
        live_routes = LiveRouteTable(self, "RouteTable", table=route_table)
        readers = [api_function, worker, ingest] + [f for f in (async_result, sweeper) if f is not None]
        for function in readers:
            live_routes.grant_read(function)
        # Only the functions that call endpoints keep breakers.
        for function in (api_function, worker):
            tables.breakers.grant_read_write_data(function.role)

        jobs = {
            "jobs_table": tables.jobs.table_name,
            "job_ttl_days": config.job_ttl_days,
            "routes": route_table,
            "route_table_parameter": live_routes.parameter.parameter_name,
            "route_table_max_age_seconds": config.route_table_max_age_seconds,
        }
        breakers = {
            "breakers_table": tables.breakers.table_name,
            "breaker": config.breaker,
            "retry": config.retry,
        }
        pii = {
            "pii_key_secret_arn": pii_keys.hmac_key.secret_arn,
            "pii_vault_table": pii_keys.vault.table_name,
        }
        # Output guardrails and human review (infra/review.py): the functions that return or
        # store outputs scan them with the inputs' redactor and queue review items.
        review_intake = SluiceFunction(
            self,
            "ReviewIntakeFunction",
            handler_folder="review_intake",
            description="Sluice review_intake: file queued review items in the review table",
            config=config.worker_function,
            **common,
        )
        reviews_function = SluiceFunction(
            self,
            "ReviewsFunction",
            handler_folder="reviews",
            description="Sluice reviews: the operator API of human review (AWS_IAM)",
            config=config.api_function,
            **common,
        )
        review = HumanReview(
            self,
            "Review",
            key=key,
            removal_policy=removal,
            intake=review_intake,
            operator=reviews_function,
            visibility_timeout_seconds=config.worker_visibility_timeout_seconds,
        )
        guarding = [api_function, worker] + [f for f in (async_result, sweeper) if f is not None]
        for function in guarding:
            review.grant_submit(function.role)
        for function in [*guarding[1:], reviews_function]:
            pii_keys.grant_redact_and_reveal(function.role)
        guarded = {**pii, "review_queue_url": review.inbox.queue.queue_url}
        feedback.grant_read_write(reviews_function.role)
        operator_policy = review.add_operator_routes(api.api, api.v1)
        review_intake.configure(
            review_intake_runtime.Settings(
                service_name=review_intake.service_name, review_table=review.table.table_name
            )
        )
        reveal_key_ids = [api.api_keys[tenant].key_id for tenant in config.api.reveal_tenants]
        # Tenant usage and metering (sluice.cost): budgets are held on the request path.
        cost_table = CostTable(self, "CostTable", key=key, removal_policy=removal).table
        tenant_ids = {tenant: api_key.key_id for tenant, api_key in api.api_keys.items()}
        # The functions that hold the tenants' budgets and meter: the same settings, made once.
        metering = {
            "cost_table": cost_table.table_name,
            "cost_policy": PriceList.from_config(config).policy(tenant_ids),
        }
        # The audit trail (infra/observability.py): the api appends each request's record, the
        # `audit` function files the bus's administrative events and job outcomes.
        audit_function = SluiceFunction(
            self,
            "AuditFunction",
            handler_folder="audit",
            description="Sluice audit: file administrative actions and job outcomes in the audit trail",
            config=config.worker_function,
            **common,
        )
        audit = AuditTrail(
            self,
            "Audit",
            key=key,
            bus=bus.bus,
            function=audit_function,
            visibility_timeout_seconds=config.worker_visibility_timeout_seconds,
        )
        audit.grant_append(api_function.role)
        audit.grant_append(reviews_function.role)
        reviews_function.configure(
            reviews_runtime.Settings(
                service_name=reviews_function.service_name,
                audit_table=audit.table.table_name,
                review_table=review.table.table_name,
                feedback_table=feedback.table.table_name,
                **pii,
            )
        )
        audit_function.configure(
            audit_runtime.Settings(
                service_name=audit_function.service_name, audit_table=audit.table.table_name
            )
        )
        api_function.configure(
            api_runtime.Settings(
                audit_table=audit.table.table_name,
                service_name=api_function.service_name,
                **jobs,
                **breakers,
                **guarded,
                idempotency_table=tables.idempotency.table_name,
                max_request_bytes=config.max_request_bytes,
                idempotency_ttl_seconds=config.api.idempotency_ttl_seconds,
                reveal_tenants=Fn.join(",", reveal_key_ids) if reveal_key_ids else None,
                feedback_table=feedback.table.table_name,
                feedback_routes=",".join(config.lifecycle.routes) or None,
                **metering,
            )
        )
        cost_table.grant_read_write_data(api_function.role)
        worker.configure(
            worker_runtime.Settings(
                service_name=worker.service_name,
                **jobs,
                **breakers,
                **guarded,
                event_bus_name=bus.bus.event_bus_name,
                lease_seconds=config.worker_visibility_timeout_seconds,
                batches_table=uploads.batches.table_name,
                async_bucket=async_io.bucket.bucket_name if async_io is not None else None,
                **metering,
            )
        )
        cost_table.grant_read_write_data(worker.role)
        ingest.configure(
            ingest_runtime.Settings(
                service_name=ingest.service_name,
                **jobs,
                **pii,
                event_bus_name=bus.bus.event_bus_name,
                batches_table=uploads.batches.table_name,
                ingest_queue_url=uploads.queue.queue_url,
                limits=config.ingest,
                **metering,
            )
        )
        # Uploaded records are reserved against the upload tenant's budget as they are queued.
        cost_table.grant_read_write_data(ingest.role)
        # Both finish async jobs, so both read the same settings.
        finishers = ((async_result, async_result_runtime.Settings), (sweeper, sweeper_runtime.Settings))
        for finisher, finisher_settings in finishers:
            if finisher is not None:
                finisher.configure(
                    finisher_settings(
                        service_name=finisher.service_name,
                        **jobs,
                        **guarded,
                        event_bus_name=bus.bus.event_bus_name,
                        batches_table=uploads.batches.table_name,
                        **metering,
                    )
                )
                # They meter the async jobs they finish and settle their reservations.
                cost_table.grant_read_write_data(finisher.role)

        for function in readers:
            acknowledge(
                function.role,
                tables.index_grant_finding,
                "Grants on the jobs table include its one index (AsyncPending, async jobs only)",
            )

        # Drift monitoring and retraining of the routes config.lifecycle names.
        lifecycle = ModelLifecycle(
            self,
            "Lifecycle",
            config=config,
            endpoints=endpoints,
            key=key,
            bus=bus.bus,
            layer=layer,
            removal_policy=removal,
            feedback=feedback,
            route_table=live_routes.parameter,
        )
        CfnOutput(self, "FeedbackTableName", value=feedback.table.table_name)
        if lifecycle.rollout is not None:
            CfnOutput(self, "DeployFunctionName", value=lifecycle.rollout.function.function.function_name)
        CfnOutput(self, "LifecycleBucket", value=lifecycle.data.bucket.bucket_name)

        # Cost governance: the cost table, the stack's AWS budget, cost alarms and the `budget`
        # function that acts on them (infra/cost.py).
        Tags.of(self).add(STACK_TAG, self.stack_name)  # what the AWS budget filters on
        stack_budget = StackBudget(self, "StackBudget", config=config, key=key)
        cost_alarms = CostAlarms(self, "CostAlarms", config=config, tenant_ids=tenant_ids)
        budget_function = SluiceFunction(
            self,
            "BudgetFunction",
            handler_folder="budget",
            description="Sluice budget: apply and revert cost actions when cost alarms change state",
            config=config.worker_function,
            **common,
        )
        budget_function.configure(
            budget_runtime.Settings(
                service_name=budget_function.service_name,
                cost_table=cost_table.table_name,
                event_bus_name=bus.bus.event_bus_name,
                route_table_parameter=live_routes.parameter.parameter_name,
                actions=config.cost.alarms.actions,
                alarm_triggers=cost_alarms.triggers,
                endpoints={name: endpoint.endpoint_name for name, endpoint in endpoints.items()},
                variants={
                    r.name: tuple(v.name for v in r.endpoint.production_variants) for r in config.routes
                },
            )
        )
        cost_table.grant_read_write_data(budget_function.role)
        bus.bus.grant_put_events_to(budget_function.role)
        live_routes.parameter.grant_read(budget_function.role)
        live_routes.parameter.grant_write(budget_function.role)
        grant_cost_controls(budget_function, endpoints.values())
        CostRules(
            self,
            "CostRules",
            function=budget_function,
            alarms=cost_alarms.alarms,
            budget_topic=stack_budget.topic,
            key=key,
        )

        # The operational alarms and the stage's dashboard (infra/observability.py).
        endpoint_names = {name: endpoint.endpoint_name for name, endpoint in endpoints.items()}
        alarms = OperationalAlarms(
            self,
            "OperationalAlarms",
            config=config,
            endpoint_names=endpoint_names,
            functions={"api": api_function, "worker": worker, "ingest": ingest, "audit": audit_function},
        )
        queue_alarms = [
            alarm for queue in queues.values() for alarm in (queue.dead_letter_alarm, queue.backlog_age_alarm)
        ]
        dashboard = StageDashboard(
            self,
            "Dashboard",
            config=config,
            queues=dict(queues),
            endpoint_names=endpoint_names,
            alarms=[
                *alarms.alarms,
                *queue_alarms,
                audit.inbox.dead_letter_alarm,
                review.inbox.dead_letter_alarm,
                *review.not_queued_alarms([function.service_name for function in guarding]),
            ],
        )
        CfnOutput(self, "AuditTableName", value=audit.table.table_name)
        CfnOutput(self, "ReviewTableName", value=review.table.table_name)
        CfnOutput(self, "ReviewQueueUrl", value=review.inbox.queue.queue_url)
        CfnOutput(self, "ReviewDeadLetterQueueUrl", value=review.inbox.dead_letters.queue_url)
        CfnOutput(self, "OperatorPolicyArn", value=operator_policy.managed_policy_arn)
        CfnOutput(self, "DashboardName", value=dashboard.dashboard.dashboard_name)

        # Last: every alarm made above notifies the operators.
        alerts = OperatorAlerts(self, "OperatorAlerts", key=key, emails=config.alarm_emails)
        alerts.notify_every_alarm()

        CfnOutput(self, "AlertTopicArn", value=alerts.topic.topic_arn)
        CfnOutput(self, "CostTableName", value=cost_table.table_name)
        CfnOutput(self, "BudgetTopicArn", value=stack_budget.topic.topic_arn)
        CfnOutput(self, "ApiUrl", value=api.api.url)
        CfnOutput(self, "RouteTableParameter", value=live_routes.parameter.parameter_name)
        CfnOutput(self, "BreakersTableName", value=tables.breakers.table_name)
        if async_io is not None:
            CfnOutput(self, "AsyncBucket", value=async_io.bucket.bucket_name)
        CfnOutput(self, "JobsTableName", value=tables.jobs.table_name)
        CfnOutput(self, "IdempotencyTableName", value=tables.idempotency.table_name)
        CfnOutput(self, "EventBusName", value=bus.bus.event_bus_name)
        for tenant, api_key in api.api_keys.items():
            CfnOutput(self, f"ApiKeyId{tenant.title().replace('-', '')}", value=api_key.key_id)
        for route in config.routes:
            suffix = route.name.title().replace("-", "")
            CfnOutput(self, f"QueueUrl{suffix}", value=queues[route.name].queue.queue_url)
            CfnOutput(self, f"DeadLetterQueueUrl{suffix}", value=queues[route.name].dead_letters.queue_url)
            CfnOutput(self, f"EndpointName{suffix}", value=endpoints[route.name].endpoint_name)
        CfnOutput(self, "UploadsBucket", value=uploads.bucket.bucket_name)
        CfnOutput(self, "BatchesTableName", value=uploads.batches.table_name)
        CfnOutput(self, "IngestQueueUrl", value=uploads.queue.queue_url)
        CfnOutput(self, "IngestDeadLetterQueueUrl", value=uploads.dead_letters.queue_url)
