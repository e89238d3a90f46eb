"""AWS's deploy-time rules, checked on the synthesized template.

cfn-lint, cdk-nag and checkov all passed a template that `cdk deploy` would have refused, or that
would have deployed and then denied every call. Each test here encodes one such rule, with the AWS
documentation it comes from; infra/aws_rules.py holds the tables the constructs use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Environment
from aws_cdk.assertions import Template

from infra.aws_rules import (
    SAGEMAKER_NAME_ATTRIBUTES,
    SOURCE_CONDITION_KEYS,
    WAF_CRS_BODY_LIMIT_BYTES,
    WAF_CRS_BODY_RULES,
    has_instance_storage,
)
from infra.images import image_uri, sdk_regions
from sluice.config import DEFAULT_PYTORCH_IMAGE, DeploymentConfig, FrameworkImage
from tests.infra.conftest import ROOT, make_app


def _synth(
    tmp_path: Path, *, region: str | None = None, **overrides: Any
) -> tuple[Template, DeploymentConfig]:
    from infra.config import load_config
    from infra.stack import SluiceStack

    app = make_app(tmp_path, **overrides)
    config = load_config(app)
    stack = SluiceStack(app, "Sluice", config=config, env=Environment(region=region))
    return Template.from_stack(stack), config


@pytest.fixture(scope="module")
def config() -> DeploymentConfig:
    import json

    return DeploymentConfig.model_validate(json.loads((ROOT / "cdk.json").read_text())["context"]["sluice"])


def _resources(template: Template, kind: str) -> dict[str, Any]:
    return dict(template.find_resources(kind))


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy statement in the template: identity policies, roles, and resource policies."""
    documents = {
        "AWS::IAM::Policy": "PolicyDocument",
        "AWS::IAM::ManagedPolicy": "PolicyDocument",
        "AWS::KMS::Key": "KeyPolicy",
        "AWS::SQS::QueuePolicy": "PolicyDocument",
        "AWS::SNS::TopicPolicy": "PolicyDocument",
        "AWS::S3::BucketPolicy": "PolicyDocument",
    }
    for kind, field in documents.items():
        for name, resource in _resources(template, kind).items():
            for statement in resource["Properties"][field]["Statement"]:
                yield name, statement
    for name, role in _resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement


# --- SageMaker -----------------------------------------------------------------------------------


def test_no_endpoint_config_sets_a_kms_key_for_instances_with_local_storage(template: Template) -> None:
    # CreateEndpointConfig: "If you specify a value for KmsKeyId when using any nitro-based instances
    # with local storage, the call to CreateEndpointConfig fails."
    # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html
    configs = _resources(template, "AWS::SageMaker::EndpointConfig")
    assert configs
    for name, config in configs.items():
        properties = config["Properties"]
        local = any(has_instance_storage(v["InstanceType"]) for v in properties["ProductionVariants"])
        assert ("KmsKeyId" in properties) is not local, name
        # The async output is S3, which takes the customer key whatever the instance.
        if "AsyncInferenceConfig" in properties:
            assert "KmsKeyId" in properties["AsyncInferenceConfig"]["OutputConfig"], name


def test_an_ebs_only_fleet_keeps_its_volume_encrypted_with_the_customer_key(tmp_path: Path) -> None:
    # Given a route on ml.p3 (EBS only, no instance storage)
    template, _ = _synth(
        tmp_path, routes=[{"name": "intent", "endpoint": {"instance_type": "ml.p3.2xlarge"}}]
    )
    # Then its endpoint config encrypts the volume with the platform key
    (config,) = _resources(template, "AWS::SageMaker::EndpointConfig").values()
    assert config["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [_platform_key(template), "Arn"]}


def test_an_instance_family_in_neither_storage_table_is_refused_not_guessed() -> None:
    assert has_instance_storage("ml.g5.xlarge")
    assert not has_instance_storage("ml.c5.xlarge")
    with pytest.raises(ValueError, match="neither storage table"):
        has_instance_storage("ml.zz9.xlarge")


def test_iam_names_sagemaker_resources_by_their_lower_case_arn(template: Template) -> None:
    # SageMaker authorizes calls against lower-case ARNs; a resource built from the mixed-case name
    # CloudFormation generates (GetAtt EndpointName) never matches (infra/aws_rules.py).
    sagemaker = {
        name
        for name, resource in template.to_json()["Resources"].items()
        if resource["Type"].startswith("AWS::SageMaker::")
    }
    invoking = 0
    for name, statement in _statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if not any(action.startswith("sagemaker:") for action in actions):
            continue
        invoking += 1
        for node in _walk(statement.get("Resource")):
            if isinstance(node, dict) and "Fn::GetAtt" in node:
                target, attribute = node["Fn::GetAtt"]
                assert not (target in sagemaker and attribute in SAGEMAKER_NAME_ATTRIBUTES), (name, node)
            if isinstance(node, str) and ":sagemaker:" in node:
                assert node == node.lower(), (name, node)
    assert invoking >= 2  # the api and worker invoke the endpoints


def test_endpoint_invoke_grants_use_the_endpoint_ref(template: Template) -> None:
    endpoints = set(_resources(template, "AWS::SageMaker::Endpoint"))
    granted = {
        node["Ref"]
        for _, statement in _statements(template)
        if "sagemaker:InvokeEndpoint" in str(statement["Action"])
        for node in _walk(statement["Resource"])
        if isinstance(node, dict) and "Ref" in node
    }
    assert granted == endpoints


# --- Images per region ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image", [DEFAULT_PYTORCH_IMAGE, FrameworkImage(framework="huggingface-llm", version="3.0.1")]
)
def test_every_region_the_sdk_lists_maps_to_the_sdks_own_image_uri(
    tmp_path: Path, image: FrameworkImage
) -> None:
    # AWS Deep Learning Containers are in other registry accounts in some regions
    # (https://github.com/aws/deep-learning-containers/blob/master/available_images.md): the
    # stack's mapping must give, for every region, exactly what the sagemaker SDK would deploy.
    template, _ = _synth(tmp_path)
    mapping = next(
        rows
        for name, rows in template.to_json()["Mappings"].items()
        if name.startswith("Image" + image.framework.title().replace("-", ""))
    )
    regions = sdk_regions(image)
    assert set(mapping) == set(regions)
    for region in regions:
        assert mapping[region]["Uri"] == image_uri(image, region, "ml.g5.xlarge"), region


@pytest.mark.parametrize(
    ("region", "account"),
    [
        ("us-east-1", "763104351884"),
        ("eu-west-1", "763104351884"),
        ("ap-east-1", "871362719292"),
        ("il-central-1", "780543022126"),
    ],
)
def test_a_stack_for_one_region_pulls_from_that_regions_registry(
    tmp_path: Path, config: DeploymentConfig, region: str, account: str
) -> None:
    template, _ = _synth(tmp_path, region=region)
    models = {
        m["Properties"]["PrimaryContainer"]["Image"]
        for m in _resources(template, "AWS::SageMaker::Model").values()
    }
    assert models == {
        image_uri(route.endpoint.image, region, route.endpoint.instance_type) for route in config.routes
    }
    assert all(uri.startswith(f"{account}.dkr.ecr.{region}.amazonaws.com/") for uri in models)
    # And the execution role may pull from that registry, not from another region's
    pulls = [
        statement["Resource"]
        for _, statement in _statements(template)
        if "ecr:BatchGetImage" in str(statement["Action"])
    ]
    assert pulls
    assert all(f":{account}:repository/" in str(resource) for resource in pulls)


def test_the_llm_containers_tag_is_one_the_sdk_table_has(config: DeploymentConfig) -> None:
    chat = config.route("chat").endpoint
    uri = image_uri(chat.image, "us-east-1", chat.instance_type)
    assert re.search(r"huggingface-pytorch-tgi-inference:[0-9.]+-tgi3\.0\.1-gpu-py311-", uri), uri
    with pytest.raises(ValueError, match="has no huggingface-llm inference image"):
        sdk_regions(FrameworkImage(framework="huggingface-llm", version="0.0.1"))


# --- Edge: WAF and API Gateway -------------------------------------------------------------------


def test_waf_does_not_block_bodies_the_routes_accept(template: Template, config: DeploymentConfig) -> None:
    # Core rule set, SizeRestrictions_BODY: blocks bodies "over 8 KB (8,192 bytes)".
    # https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
    assert max(route.max_input_bytes for route in config.routes) > WAF_CRS_BODY_LIMIT_BYTES
    (acl,) = _resources(template, "AWS::WAFv2::WebACL").values()
    (crs,) = [
        rule
        for rule in acl["Properties"]["Rules"]
        if rule["Statement"]["ManagedRuleGroupStatement"]["Name"] == "AWSManagedRulesCommonRuleSet"
    ]
    overrides = {
        override["Name"]: override["ActionToUse"]
        for override in crs["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    }
    assert {rule: overrides.get(rule) for rule in WAF_CRS_BODY_RULES} == {
        rule: {"Count": {}} for rule in WAF_CRS_BODY_RULES
    }


def test_the_gateway_leaves_the_body_contract_to_the_function(template: Template) -> None:
    # One contract: a gateway model forbade `variant`, enumerated routes (so a route added to the
    # live table was refused) and answered non-JSON with INVALID_REQUEST instead of MALFORMED_JSON.
    assert not _resources(template, "AWS::ApiGateway::Model")
    for validator in _resources(template, "AWS::ApiGateway::RequestValidator").values():
        assert not validator["Properties"].get("ValidateRequestBody")
    for method in _resources(template, "AWS::ApiGateway::Method").values():
        assert "RequestModels" not in method["Properties"]


def test_the_gateway_hands_over_the_clients_bytes_and_converts_nothing_it_cannot(
    template: Template,
) -> None:
    # Text payloads are UTF-8: API Gateway repairs invalid bytes of a non-binary body before the
    # function sees them, so only a binary media type lets the function refuse them.
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html
    (api,) = _resources(template, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["BinaryMediaTypes"] == ["*/*"]
    # With */* every payload is binary; an integration that transforms text (MOCK, or any with a
    # request template) fails with 500 unless it converts to text first:
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html
    for method in _resources(template, "AWS::ApiGateway::Method").values():
        integration = method["Properties"].get("Integration", {})
        if integration.get("Type") == "MOCK" or integration.get("RequestTemplates"):
            assert integration.get("ContentHandling") == "CONVERT_TO_TEXT"
        else:
            assert integration.get("Type") == "AWS_PROXY"


# API Gateway's default status per response type, for responses the stack does not override:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html
_GATEWAY_DEFAULT_STATUS = {
    "BAD_REQUEST_BODY": 400,
    "API_CONFIGURATION_ERROR": 500,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "INVALID_API_KEY": 403,
    "THROTTLED": 429,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}


def test_gateway_errors_share_the_functions_codes_and_statuses(template: Template) -> None:
    from sluice import errors

    function_codes = {
        cls.code: int(cls.status)
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.SluiceError)
    }
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in _resources(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    for properties in responses.values():
        code = re.search(r'"code": "([A-Z_]+)"', properties["ResponseTemplates"]["application/json"]).group(1)  # type: ignore[union-attr]
        kind = properties["ResponseType"]
        if kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
            # These keep the status of whatever failed; the code must at least be of that class.
            assert code not in function_codes or str(function_codes[code])[0] == kind[8], code
            continue
        status = properties.get("StatusCode") or _GATEWAY_DEFAULT_STATUS.get(kind)
        if code in function_codes:
            assert status is not None, code
            assert int(status) == function_codes[code], code
    # A path or method the API does not have is a 404 NOT_FOUND, not API Gateway's default 403
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert (missing["StatusCode"], '"NOT_FOUND"' in missing["ResponseTemplates"]["application/json"]) == (
        "404",
        True,
    )


# --- Encryption and confused deputies ------------------------------------------------------------


def _platform_key(template: Template) -> str:
    return next(name for name in _resources(template, "AWS::KMS::Key") if name.startswith("Encryption"))


def _customer_key(value: Any, keys: set[str]) -> bool:
    return isinstance(value, dict) and value.get("Fn::GetAtt", [None])[0] in keys


def test_archive_topics_and_queues_use_a_customer_key(template: Template) -> None:
    # EventBridge archives take a customer key (KmsKeyIdentifier); CDK's `archive()` wrote "" (aws-cdk#37847).
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/encryption-archives.html
    keys = set(_resources(template, "AWS::KMS::Key"))
    (archive,) = _resources(template, "AWS::Events::Archive").values()
    assert _customer_key(archive["Properties"]["KmsKeyIdentifier"], keys)
    for topic in _resources(template, "AWS::SNS::Topic").values():
        assert _customer_key(topic["Properties"]["KmsMasterKeyId"], keys)
    for queue in _resources(template, "AWS::SQS::Queue").values():
        assert _customer_key(queue["Properties"]["KmsMasterKeyId"], keys)


def test_eventbridge_may_use_the_key_only_for_this_bus(template: Template) -> None:
    statements = [
        s
        for name, s in _statements(template)
        if name == _platform_key(template) and s.get("Principal", {}).get("Service") == "events.amazonaws.com"
    ]
    assert any("kms:GenerateDataKey" in s["Action"] for s in statements)
    for statement in statements:
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def _services(statement: dict[str, Any]) -> list[Any]:
    principal = statement.get("Principal", {})
    service = principal.get("Service", []) if isinstance(principal, dict) else []
    return service if isinstance(service, list) else [service]


def test_every_service_principal_is_tied_to_this_accounts_resources(template: Template) -> None:
    # The confused-deputy rule: a grant to a service principal names the source account or
    # resource. https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
    # CloudWatch Logs is held by its encryption context instead, which names this account's log
    # groups (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html);
    # Secrets Manager grants go to this account's principals through kms:ViaService.
    unconditioned = []
    for name, statement in _statements(template):
        if statement["Effect"] != "Allow" or not _services(statement):
            continue
        keys = {key for operator in statement.get("Condition", {}).values() for key in operator}
        if not keys & (SOURCE_CONDITION_KEYS | {"kms:EncryptionContext:aws:logs:arn"}):
            unconditioned.append((name, _services(statement), statement["Action"]))
    assert unconditioned == []


def test_lambda_permissions_for_services_name_their_source(template: Template) -> None:
    for name, permission in _resources(template, "AWS::Lambda::Permission").items():
        properties = permission["Properties"]
        if str(properties["Principal"]).endswith(".amazonaws.com"):
            assert "SourceArn" in properties or "SourceAccount" in properties, name


# --- Least privilege and alarms ------------------------------------------------------------------


def test_the_llm_endpoint_reads_its_inputs_and_writes_its_outputs_but_deletes_nothing(
    template: Template,
) -> None:
    (role,) = [
        name for name in _resources(template, "AWS::IAM::Role") if name.startswith("ModelchatExecutionRole")
    ]
    actions = [
        action
        for name, statement in _statements(template)
        if name.startswith("ModelchatExecutionRole")
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    ]
    assert role
    assert "s3:PutObject" in actions
    assert not [action for action in actions if action.startswith("s3:Delete")]


def test_every_alarm_notifies_the_operators(template: Template) -> None:
    topic = next(
        name for name in _resources(template, "AWS::SNS::Topic") if name.startswith("OperatorAlerts")
    )
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    silent = []
    for name, alarm in alarms.items():
        actions = alarm["Properties"].get("AlarmActions", [])
        if {"Ref": topic} in actions:
            continue
        # The one exception: the alarm that starts an async endpoint scaled to zero is a scaling
        # trigger (its action is the scaling policy), not a fault to page anyone about.
        if alarm["Properties"]["MetricName"] == "HasBacklogWithoutCapacity" and actions:
            continue
        silent.append(name)
    assert len(alarms) >= 9
    assert silent == []


def test_cloudwatch_may_publish_to_the_operators_topic(template: Template) -> None:
    # The topic policy that enforce_ssl creates replaces SNS's default policy: without an explicit
    # Allow for cloudwatch.amazonaws.com, alarms fail with "not authorized to perform: SNS:Publish".
    topic = next(
        name for name in _resources(template, "AWS::SNS::Topic") if name.startswith("OperatorAlerts")
    )
    allowed = [
        statement
        for name, statement in _statements(template)
        if name.startswith("OperatorAlerts")
        and statement["Effect"] == "Allow"
        and "cloudwatch.amazonaws.com" in _services(statement)
        and "sns:Publish" in str(statement["Action"])
    ]
    assert [statement["Resource"] for statement in allowed] == [{"Ref": topic}]
    # And the key lets CloudWatch encrypt what it publishes, for this account's alarms only
    key_grants = [
        s
        for name, s in _statements(template)
        if name == _platform_key(template) and "cloudwatch.amazonaws.com" in _services(s)
    ]
    assert [s["Condition"]["StringEquals"]["aws:SourceAccount"] for s in key_grants] == [
        {"Ref": "AWS::AccountId"}
    ]


def test_alarm_email_subscribes_to_the_operators_topic(tmp_path: Path) -> None:
    template, _ = _synth(tmp_path, alarm_emails=["oncall@example.com"])
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_a_function_environment_over_lambdas_4_kb_fails_at_synth_not_at_deploy(tmp_path: Path) -> None:
    # "The total size of all environment variables doesn't exceed 4 KB"
    # (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Every function
    # carries the route table as its fallback, so routes are what fills it.
    routes = [{"name": f"route-{n}", "description": "one of many"} for n in range(8)]

    with pytest.raises(
        Exception, match=r"environment would be about \d+ bytes once deployed; Lambda allows 4096"
    ):
        _synth(tmp_path, routes=routes)
