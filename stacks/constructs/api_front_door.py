"""ApiFrontDoor: REST API with POST /v1/invoke and POST /v1/feedback, schema validation at the edge, access logs, X-Ray,
stage throttling, JSON error bodies for every response API Gateway itself produces, and one of
three ways to know the caller (`api.auth`):

- `api_key` (default): an API key bound to a usage plan (per-key throttle and daily quota)
- `iam`: SigV4-signed requests; callers need execute-api:Invoke on this method
- `cognito`: a Cognito user pool (admin-created users, MFA required) and its ID token as bearer
"""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from liftoff.foundation.api_routes import FEEDBACK_PATH, INVOKE_PATH
from liftoff.foundation.config import StageConfig, UseCaseConfig
from service.models.feedback import FEEDBACK_REQUEST_SCHEMA
from service.models.invoke import invoke_request_schema
from stacks.lambda_factory import log_retention
from stacks.nag import acknowledge

# One message for every route (a gateway response belongs to the whole API); the local API says the same
# What API Gateway's request validator says of a body that fails the route's model: the route called and what is
# wrong ($context.error.validationErrorString, the validator's own words: the field, or that it is not JSON).
# One text for both routes said the same thing for everything and, on /v1/invoke, described /v1/feedback.
BAD_BODY_MESSAGE = (
    "$context.httpMethod $context.resourcePath: the body does not match the route's request schema "
    "(openapi.yaml): $context.error.validationErrorString"
)

# Bodies for errors raised by API Gateway before the function runs: the same {"error": {...}} shape
# the function uses. Only $context variables are available here; messageString comes pre-quoted.
GATEWAY_ERROR_TEMPLATE = (
    '{"error": {"code": "$context.error.responseType", "message": $context.error.messageString, '
    '"request_id": "$context.requestId"}}'
)
BAD_BODY_TEMPLATE = (
    '{"error": {"code": "BadRequestBody", "message": "' + BAD_BODY_MESSAGE + '", "request_id": "$context.requestId"}}'
)

_SCHEMA_TYPES = {
    "object": apigw.JsonSchemaType.OBJECT,
    "string": apigw.JsonSchemaType.STRING,
    "integer": apigw.JsonSchemaType.INTEGER,
    "number": apigw.JsonSchemaType.NUMBER,
    "boolean": apigw.JsonSchemaType.BOOLEAN,
    "array": apigw.JsonSchemaType.ARRAY,
}
_SCHEMA_KEYS = {
    "title": "title",
    "required": "required",
    "pattern": "pattern",
    "maxLength": "max_length",
    "minLength": "min_length",
    "maxProperties": "max_properties",
    "minimum": "minimum",
    "enum": "enum",
}


def to_json_schema(schema: dict[str, Any]) -> apigw.JsonSchema:
    """Convert a draft-04 schema dict (service.models.invoke) into CDK's typed JsonSchema."""
    kwargs: dict[str, Any] = {_SCHEMA_KEYS[k]: v for k, v in schema.items() if k in _SCHEMA_KEYS}
    if "$schema" in schema:
        kwargs["schema"] = apigw.JsonSchemaVersion.DRAFT4
    if "type" in schema:
        kinds = schema["type"]
        kwargs["type"] = [_SCHEMA_TYPES[k] for k in kinds] if isinstance(kinds, list) else _SCHEMA_TYPES[kinds]
    if "properties" in schema:
        kwargs["properties"] = {k: to_json_schema(v) for k, v in schema["properties"].items()}
    if "not" in schema:
        kwargs["not_"] = to_json_schema(schema["not"])
    extra = schema.get("additionalProperties")
    if isinstance(extra, bool):
        kwargs["additional_properties"] = extra
    elif isinstance(extra, dict):
        kwargs["additional_properties"] = to_json_schema(extra)
    unknown = set(schema) - set(_SCHEMA_KEYS) - {"$schema", "type", "properties", "additionalProperties", "not"}
    if unknown:
        raise ValueError(f"to_json_schema does not translate {sorted(unknown)}")
    return apigw.JsonSchema(**kwargs)


class ApiFrontDoor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        use_case: UseCaseConfig,
        stage: StageConfig,
        handler: lambda_.IFunction,
        feedback_handler: lambda_.IFunction,
    ):
        super().__init__(scope, construct_id)
        self._use_case = use_case
        self._stage = stage
        self.api = self._build_api()
        self._build_gateway_responses()
        self.auth = use_case.api.auth
        self.api_key: apigw.IApiKey | None = None
        self.user_pool: cognito.UserPool | None = None
        self.user_pool_client: cognito.UserPoolClient | None = None
        auth_options = self._auth_options()
        self._validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        self.invoke_method = self._build_route(
            INVOKE_PATH, "InvokeRequest", invoke_request_schema(use_case.api.max_body_bytes), handler, auth_options
        )
        self.feedback_method = self._build_route(
            FEEDBACK_PATH, "FeedbackRequest", FEEDBACK_REQUEST_SCHEMA, feedback_handler, auth_options
        )
        if self.auth == "api_key":
            self.api_key = self._build_usage_plan()
        self._acknowledge_findings()

    def _auth_options(self) -> dict[str, Any]:
        if self.auth == "iam":
            return {"authorization_type": apigw.AuthorizationType.IAM}
        if self.auth == "cognito":
            self.user_pool = cognito.UserPool(
                self,
                "Users",
                user_pool_name=f"liftoff-{self._use_case.name}-{self._stage.name}",
                self_sign_up_enabled=False,
                sign_in_aliases=cognito.SignInAliases(email=True),
                mfa=cognito.Mfa.REQUIRED,
                mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
                password_policy=cognito.PasswordPolicy(
                    min_length=12,
                    require_digits=True,
                    require_lowercase=True,
                    require_uppercase=True,
                    require_symbols=True,
                ),
                account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
                removal_policy=RemovalPolicy.DESTROY if self._stage.destroy_on_delete else RemovalPolicy.RETAIN,
                deletion_protection=self._stage.deletion_protection,
            )
            self.user_pool_client = self.user_pool.add_client(
                "Client", auth_flows=cognito.AuthFlow(user_srp=True), generate_secret=False
            )
            acknowledge(
                self.user_pool,
                "COG8",
                "Cognito threat protection needs the paid Plus feature plan; this pool is closed to self "
                "sign-up and requires MFA. Move to Plus for user-facing production pools.",
            )
            authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[self.user_pool])
            return {"authorization_type": apigw.AuthorizationType.COGNITO, "authorizer": authorizer}
        return {"api_key_required": True}

    def _acknowledge_findings(self) -> None:
        acknowledge(
            self.api.node.find_child("CloudWatchRole"),
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway needs this account-level role to write access and execution logs; the AWS-managed "
            "policy is the one AWS documents for it and only the API Gateway service can assume the role.",
        )
        reasons = {
            "api_key": "Clients are identified by an API key bound to a usage plan (throttle + daily quota), the "
            "template's default for service-to-service POCs; `api.auth: iam` or `cognito` are the upgrade path.",
            "iam": "Callers sign requests with SigV4 (`api.auth: iam`): IAM decides who may call, not a user pool.",
        }
        rules = {"api_key": ("APIG4", "COG4"), "iam": ("COG4",), "cognito": ()}[self.auth]
        for rule in rules:
            for method in (self.invoke_method, self.feedback_method):
                acknowledge(method, rule, reasons[self.auth])

    def _build_api(self) -> apigw.RestApi:
        removal = RemovalPolicy.DESTROY if self._stage.destroy_on_delete else RemovalPolicy.RETAIN
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention(self._stage.log_retention_days),
            removal_policy=removal,
        )
        api_cfg = self._use_case.api
        return apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"liftoff-{self._use_case.name}-{self._stage.name}",
            description=f"Liftoff {self._use_case.name}: {self._use_case.description}",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=self._stage.name,
                tracing_enabled=self._use_case.observability.tracing != "off",
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel[self._stage.api_logging_level],
                data_trace_enabled=False,  # never log request/response bodies at the gateway
                throttling_rate_limit=api_cfg.throttle_rate_per_s,
                throttling_burst_limit=api_cfg.throttle_burst,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )

    def _build_gateway_responses(self) -> None:
        json_type = "application/json"
        self.api.add_gateway_response(
            "BadBody",
            type=apigw.ResponseType.BAD_REQUEST_BODY,
            templates={json_type: BAD_BODY_TEMPLATE},
        )
        for name, kind in (
            ("Default4xx", apigw.ResponseType.DEFAULT_4_XX),
            ("Default5xx", apigw.ResponseType.DEFAULT_5_XX),
        ):
            self.api.add_gateway_response(name, type=kind, templates={json_type: GATEWAY_ERROR_TEMPLATE})

    def _build_route(
        self, path: tuple[str, ...], model_name: str, schema: dict, handler: lambda_.IFunction, auth: dict[str, Any]
    ) -> apigw.Method:
        model = self.api.add_model(
            model_name, content_type="application/json", model_name=model_name, schema=to_json_schema(schema)
        )
        resource = self.api.root.resource_for_path("/" + "/".join(path))
        return resource.add_method(
            "POST",
            apigw.LambdaIntegration(handler, proxy=True),
            request_validator=self._validator,
            request_models={"application/json": model},
            **auth,
        )

    def _build_usage_plan(self) -> apigw.IApiKey:
        api_cfg = self._use_case.api
        key = self.api.add_api_key("ApiKey", description=f"Liftoff {self._use_case.name} {self._stage.name} client key")
        plan = self.api.add_usage_plan(
            "UsagePlan",
            name=f"liftoff-{self._use_case.name}-{self._stage.name}",
            throttle=apigw.ThrottleSettings(rate_limit=api_cfg.throttle_rate_per_s, burst_limit=api_cfg.throttle_burst),
            quota=apigw.QuotaSettings(limit=api_cfg.quota_per_day, period=apigw.Period.DAY),
        )
        plan.add_api_stage(stage=self.api.deployment_stage)
        plan.add_api_key(key)
        return key
