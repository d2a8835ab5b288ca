"""Runtime code of the Liftoff Lambda functions (deployed from lambdas/, imported as `service`)."""
