"""The whole-model parity cases, shared by the PyTorch parity tests (test_parity.py) and the
GPU-against-CPU ones (gpu/test_model_parity.py).

name: (input shape, batch). Fully convolutional and globally pooled nets run on a smaller
input than their spec's to keep the suite quick; the layers are the same. SegNet's 18x24 keeps
odd sizes (9x12 pools to 5x6, 3x3 and 2x2 in ceil mode; the decoder unpools back to them). DeconvNet is
not here: its fc6, a 7x7 valid conv on pool5, needs the full 224x224 (252M parameters).
"""

CASES = {
    "lenet5": (None, 4),
    "mnist1d_cnn": (None, 8),
    "highway_mlp": (None, 8),
    "alexnet_paper": (None, 2),
    "vgg11_bn": ((3, 32, 32), 2),
    "googlenet": ((3, 64, 64), 2),
    "resnet20_cifar": (None, 4),
    "resnet50": ((3, 64, 64), 2),
    "densenet121": ((3, 64, 64), 2),
    "unet_milesial": ((3, 64, 64), 2),
    "unet_original": ((1, 188, 188), 1),
    "wavenet": ((256, 96), 2),
    "segnet": ((3, 18, 24), 2),
    "mobilenet_v3_large": ((3, 64, 64), 2),
    "shufflenet_v2_x1_0": ((3, 64, 64), 2),
    "efficientnet_b0": ((3, 64, 64), 2),
}
