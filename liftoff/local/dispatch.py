"""Local mode's execution environments serve both functions of a use case's stack: the route picks the
handler, as API Gateway picks the function (POST /v1/invoke -> invoke, POST /v1/feedback -> feedback)."""

from service.handlers.feedback import lambda_handler as feedback_handler
from service.handlers.invoke import lambda_handler as invoke_handler

FEEDBACK_ROUTE = "/v1/feedback"


def lambda_handler(event: dict, context) -> dict:
    if (event.get("resource") or event.get("path")) == FEEDBACK_ROUTE:
        return feedback_handler(event, context)
    return invoke_handler(event, context)
