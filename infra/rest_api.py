"""The public REST API: API Gateway in front of the `api` function.

API keys identify tenants and each tenant's usage plan caps it; the stage throttles everyone; access logs
carry ids and status codes, never bodies; WAF managed rules sit in front.

The gateway does not validate bodies: the `api` function's pydantic contract is the one contract
(a gateway model drifts from it, refuses routes added to the live route table, and answers a
non-JSON body with the gateway's code instead of MALFORMED_JSON). Nor does WAF decide sizes: each
route's `max_input_bytes` does, in the function, with INPUT_TOO_LARGE.
"""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.aws_rules import WAF_CRS_BODY_RULES
from infra.functions import retention
from infra.nag import acknowledge
from sluice.config import ApiConfig, DeploymentConfig, UsagePlanConfig

_ERROR_TEMPLATE = '{"error": {"code": "%s", "message": "%s"}}'
_GATEWAY_STATUS = {apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN.response_type: "404"}
_GATEWAY_ERRORS = {
    # API Gateway answers these itself; keep our error envelope and stable codes.
    apigw.ResponseType.BAD_REQUEST_BODY: (
        "INVALID_REQUEST",
        "The request body does not match the API schema",
    ),
    apigw.ResponseType.API_CONFIGURATION_ERROR: ("API_CONFIGURATION_ERROR", "The API is misconfigured"),
    # API Gateway's answer for a path or method it does not have; a 404 there, not its default 403.
    apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN: ("NOT_FOUND", "No such resource or method"),
    apigw.ResponseType.INVALID_API_KEY: ("INVALID_API_KEY", "A valid x-api-key header is required"),
    apigw.ResponseType.THROTTLED: ("THROTTLED", "Too many requests; retry with backoff"),
    apigw.ResponseType.QUOTA_EXCEEDED: ("QUOTA_EXCEEDED", "The API key's quota is used up"),
    apigw.ResponseType.REQUEST_TOO_LARGE: ("INPUT_TOO_LARGE", "The request body is too large"),
    apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE: (
        "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type must be application/json",
    ),
    # The operator routes' AWS_IAM authorization (infra/review.py): SigV4 refused or not allowed.
    apigw.ResponseType.ACCESS_DENIED: (
        "ACCESS_DENIED",
        "The caller's IAM identity may not call this operation",
    ),
    apigw.ResponseType.INVALID_SIGNATURE: ("INVALID_SIGNATURE", "The request's SigV4 signature is invalid"),
    apigw.ResponseType.EXPIRED_TOKEN: ("EXPIRED_TOKEN", "The request's credentials have expired"),
    apigw.ResponseType.DEFAULT_4_XX: ("BAD_REQUEST", "The request was rejected"),
    apigw.ResponseType.DEFAULT_5_XX: ("INTERNAL_ERROR", "The service failed; retry later"),
}


BINARY_MEDIA_TYPES = ["*/*"]


class RestApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        handler: lambda_.IFunction,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        api_config = config.api
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=retention(config.log_retention_days), encryption_key=key
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            description="Sluice inference API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Every body reaches the function as the client's bytes, base64-encoded: without a
            # binary media type, API Gateway turns invalid UTF-8 into U+FFFD and the function
            # would accept text the client never sent. The function decodes strictly and answers
            # 400 MALFORMED_JSON. Responses stay text (isBase64Encoded false is passed through).
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html
            binary_media_types=BINARY_MEDIA_TYPES,
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name=config.stage,
                throttling_rate_limit=api_config.throttle_rate_limit,
                throttling_burst_limit=api_config.throttle_burst_limit,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log request bodies, personal data included
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=False,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        # The deployment's logical id hashes methods and gateway responses, not the API's own
        # properties: without this, a stack updated to binary media types would keep serving
        # the old deployment (https://docs.aws.amazon.com/apigateway/latest/developerguide/updating-api.html).
        self.api.latest_deployment.add_to_logical_id({"binaryMediaTypes": BINARY_MEDIA_TYPES})  # type: ignore[union-attr]
        for response_type, (code, message) in _GATEWAY_ERRORS.items():
            self.api.add_gateway_response(
                f"Gateway{code.title().replace('_', '')}{response_type.response_type}",
                type=response_type,
                status_code=_GATEWAY_STATUS.get(response_type.response_type),
                templates={"application/json": _ERROR_TEMPLATE % (code, message)},
            )
        validator = self.api.add_request_validator("ParameterValidator", validate_request_parameters=True)
        integration = apigw.LambdaIntegration(handler, proxy=True)
        keyed = {"api_key_required": True}

        v1 = self.api.root.add_resource("v1")
        # Operator routes (infra/review.py) are added under it with AWS_IAM authorization.
        self.v1 = v1
        inferences = v1.add_resource("inferences")
        inferences.add_method("POST", integration, **keyed)
        job = inferences.add_resource("{id}")
        job.add_method(
            "GET",
            integration,
            request_validator=validator,
            request_parameters={"method.request.path.id": True},
            **keyed,
        )
        # Feedback on an inference (sluice.lifecycle.feedback): leave it, or replace it.
        job.add_resource("feedback").add_method(
            "POST",
            integration,
            request_validator=validator,
            request_parameters={"method.request.path.id": True},
            **keyed,
        )
        # Health and the API description are public so probes and client generators need no key.
        v1.add_resource("health").add_method("GET", integration)
        v1.add_resource("openapi.json").add_method("GET", integration)

        self.api_keys = self._tenants(api_config)
        self._web_acl()
        acknowledge(
            self,
            "AwsSolutions-APIG4",
            "Tenants authenticate with API keys bound to a usage plan; IAM or Cognito authorizers are a separate decision",
        )
        acknowledge(
            self,
            "AwsSolutions-APIG2",
            "Request parameters are validated here; bodies by the api function's pydantic contract, "
            "the one contract, which answers with the platform's stable codes (MALFORMED_JSON, ...)",
        )
        acknowledge(
            self, "AwsSolutions-COG4", "No Cognito user pool: callers are services identified by API keys"
        )
        acknowledge(
            self,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level CloudWatch role uses the AWS managed push-to-logs policy",
        )

    def _tenants(self, api_config: ApiConfig) -> dict[str, apigw.IApiKey]:
        """One API key and one usage plan per tenant: a tenant's throttle and quota are its own,
        so one tenant's burst cannot use up another's (an API key is in one plan per stage)."""
        default = UsagePlanConfig(
            throttle_rate_limit=api_config.throttle_rate_limit,
            throttle_burst_limit=api_config.throttle_burst_limit,
            quota_per_day=api_config.quota_per_day,
        )
        keys: dict[str, apigw.IApiKey] = {}
        for tenant in api_config.tenants:
            plan_config = api_config.plans.get(tenant, default)
            suffix = tenant.title().replace("-", "")
            plan = self.api.add_usage_plan(
                "UsagePlan" if tenant == api_config.tenants[0] else f"UsagePlan{suffix}",
                description=f"Tenant {tenant}: throttling and daily quota",
                throttle=apigw.ThrottleSettings(
                    rate_limit=plan_config.throttle_rate_limit, burst_limit=plan_config.throttle_burst_limit
                ),
                quota=apigw.QuotaSettings(limit=plan_config.quota_per_day, period=apigw.Period.DAY),
            )
            plan.add_api_stage(stage=self.api.deployment_stage)
            # Not `add_api_key`: that binds the key to the stage (StageKeys), and the stage depends
            # on the API function, whose route table and reveal list name the keys: a dependency
            # cycle CloudFormation refuses. The usage plan is what ties a key to the stage.
            api_key = apigw.ApiKey(self.api, f"Tenant{suffix}", description=f"Tenant {tenant}")
            plan.add_api_key(api_key)
            keys[tenant] = api_key
        return keys

    def _web_acl(self) -> None:
        def managed(name: str, priority: int, counted: tuple[str, ...] = ()) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=name,
                        # Counted, not blocked: still visible in WAF's metrics and sampled requests.
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                            )
                            for rule in counted
                        ]
                        or None,
                    )
                ),
                visibility_config=_visibility(name),
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("sluice-api"),
            rules=[
                # The Core rule set blocks every body over 8 KB and bodies that look like code;
                # prompts are data and route limits decide sizes (infra/aws_rules.py).
                managed("AWSManagedRulesCommonRuleSet", 0, counted=WAF_CRS_BODY_RULES),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 1),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=False
    )
