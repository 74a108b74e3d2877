"""See the computation: graph views, step-by-step animations, expressions, plots."""

from glassgrad.viz import animate
from glassgrad.viz.graph import Graph, GraphNode, describe, format_number, graph, local_derivatives, trace

__all__ = ["Graph", "GraphNode", "animate", "describe", "format_number", "graph", "local_derivatives", "trace"]
