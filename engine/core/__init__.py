"""The BPMN core: SpiffWorkflow adapter, repository (deploy, validate), runtime loop, scripts,
timers and the scheduler, forms, tracing."""
