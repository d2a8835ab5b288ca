"""Local mode's execution environments serve every function of a use case's stack: the event picks
the handler, as AWS picks the function: API Gateway by route (POST /v1/invoke -> invoke, POST
/v1/feedback -> feedback), EventBridge Scheduler's golden-canary input -> the canary, a CloudWatch
alarm's state change -> the canary rollback."""

from service.handlers.canary import lambda_handler as canary_handler
from service.handlers.canary_rollback import lambda_handler as rollback_handler
from service.handlers.feedback import lambda_handler as feedback_handler
from service.handlers.invoke import lambda_handler as invoke_handler

FEEDBACK_ROUTE = "/v1/feedback"
ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"


def lambda_handler(event: dict, context) -> dict:
    if "golden_canary" in event:
        # local mode's context tells the API function's 29 s; the canary keeps to its own timeout (the payload's)
        return canary_handler(event, None)
    if event.get("detail-type") == ALARM_STATE_CHANGE:
        return rollback_handler(event, context)
    if (event.get("resource") or event.get("path")) == FEEDBACK_ROUTE:
        return feedback_handler(event, context)
    return invoke_handler(event, context)
