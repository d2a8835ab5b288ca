"""The one error hierarchy of the service. Each error knows its HTTP status and public code;
handlers map them to `{"error": {"code", "message"}}` in one place (handlers/http_errors.py)."""

from __future__ import annotations


class ServiceError(Exception):
    status = 500
    code = "InternalError"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    status = 400
    code = "BadRequest"


class MissingVariable(BadRequest):
    code = "MissingVariable"


class UnknownVariable(BadRequest):
    code = "UnknownVariable"


class VariableTooLong(BadRequest):
    code = "VariableTooLong"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "PayloadTooLarge"


class PromptNotFound(ServiceError):
    status = 404
    code = "PromptNotFound"


class ModelThrottled(ServiceError):
    status = 429
    code = "ModelThrottled"


class ModelError(ServiceError):
    status = 502
    code = "ModelError"


class ModelTimeout(ServiceError):
    status = 504
    code = "ModelTimeout"


class RegistryUnavailable(ServiceError):
    status = 503
    code = "PromptRegistryUnavailable"


class Misconfigured(ServiceError):
    status = 500
    code = "Misconfigured"
