"""The graph IR: a networkx DiGraph built from expanded layers, plus its structural checks."""
