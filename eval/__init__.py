"""Evaluation workbench: eval sets and BEIR folders scored through the real query path."""
