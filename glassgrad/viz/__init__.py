"""See the computation: graph views, step-by-step animations, expressions, plots."""

from glassgrad.viz.graph import Graph, GraphNode, describe, format_number, graph, local_derivatives, trace

__all__ = ["Graph", "GraphNode", "describe", "format_number", "graph", "local_derivatives", "trace"]
