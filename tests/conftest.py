import os

# Set before anything imports boto3 or jsii: no real AWS, no Node end-of-life banner.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

import liftoff  # noqa: F401 - before anything imports aws_cdk: it quiets jsii's Node end-of-life banner
