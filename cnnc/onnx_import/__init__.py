"""Front end that turns an ONNX model into a readable cnnc spec and a checkpoint.

`cnnc import-onnx model.onnx -o net.yaml [--weights net.safetensors]` (command.py). reader.py
resolves the ONNX graph (constants, shapes), ops.py maps each node to a spec entry, convert.py
walks the graph (patterns of several nodes, aliases, what is unsupported), writer.py writes the
YAML. It needs pip install 'cnnc[onnx]'; nothing imports this package for `cnnc compile`.
"""
