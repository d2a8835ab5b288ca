"""The API's routes: what API Gateway serves (stacks/constructs/api_front_door.py) and local mode serves alike."""

INVOKE_PATH = ("v1", "invoke")
FEEDBACK_PATH = ("v1", "feedback")
