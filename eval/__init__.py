"""Evaluation: the question set on the sources, the RAGAS suite, citation metrics and benchmarks."""
