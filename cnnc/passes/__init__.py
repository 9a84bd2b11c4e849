"""Analysis passes: each reads the graph, writes node attributes (cnnc/ir/keys.py), and collects
every error of its phase before raising."""
