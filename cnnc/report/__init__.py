"""Report writers over a compiled network: terminal table, versioned JSON, notebook HTML, and
diagrams (DOT text, drawn as SVG, PNG or PDF through Graphviz)."""
