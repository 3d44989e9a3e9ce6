"""The pipeline: plan, push and report, the one place that knows the order of the stages."""
