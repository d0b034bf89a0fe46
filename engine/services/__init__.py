"""Application services: one module per use-case family between HTTP (api/) and the engine.
Each takes typed input, checks the policy, owns its transaction and returns plain data."""
