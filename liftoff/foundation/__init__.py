"""The foundation: the facts the CDK app (`stacks/`, `app.py`) and the CLI (the rest of `liftoff/`) both need.

Use-case config and its models, pricing, the function's environment and packaging facts, memory sizing,
resource names, Bedrock model and profile ids, the API's routes, and the eval sets the golden canary's
payload is built from at synth. Layers run one way: `lambdas/service` (the runtime) <- `liftoff.foundation`
<- {`stacks/`, the rest of `liftoff/`}. Nothing here imports `stacks/` or a `liftoff` module outside this
package; tests/unit/test_layers.py holds it (docs/architecture.md, Layers).
"""
