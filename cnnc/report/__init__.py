"""Report writers over a compiled network: terminal table, versioned JSON, Graphviz DOT."""
