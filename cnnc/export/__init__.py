"""Back ends that write a compiled network in another framework's format (ONNX)."""
