"""The whole-model parity cases, shared by the PyTorch parity tests (test_parity.py) and the
GPU-against-CPU ones (gpu/test_model_parity.py).

name: (input shape, batch). Fully convolutional and globally pooled nets run on a smaller
input than their spec's to keep the suite quick; the layers are the same.
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
}
