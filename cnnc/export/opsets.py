"""The ONNX opsets cnnc writes: LayerNormalization needs 17; the nodes emitted mean the same up
to 21 (tests check both ends). Apart from onnx.py so the compiler names the default without
importing onnx."""

DEFAULT_OPSET = 17
OPSETS = range(17, 22)
