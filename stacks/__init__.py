"""CDK code only: one stack per (use case, stage), composed of the constructs in stacks/constructs/."""
