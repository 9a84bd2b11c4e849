"""Independent PyTorch references for zoo models, for cnnc's parity tests and reference figures.

Each model is plain torch.nn, written layer for layer from its published definition (torchvision's
source for the torchvision models, the papers otherwise) and checked against the cnnc spec of the
same name in specs/: same layers, same order, same attributes. Module names follow torchvision
where it has the model and the spec's ids otherwise; `state_dict()` lists parameters and BatchNorm
statistics in the order the spec defines them, so weights can be exchanged by position. The
classic CNNs added later (MobileNets, SqueezeNets, ...) live in torch_classics.py, the ResNets
in torch_resnets.py and the U-Nets in torch_unets.py; MODELS has all of them.

`build(name)` returns a fresh model (in training mode, PyTorch's default initialisation). Its
dropouts are `MaskedDropout`s: set `model.dropout_masks = [m1, m2, ...]` to make a training-mode
forward use those masks, consumed in forward order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch_classics import CLASSICS
from torch_dropout import MaskedDropout, share_mask_queue
from torch_resnets import ResNet, ResNet20Cifar
from torch_unets import UNetMilesial, UNetOriginal

# ---------------------------------------------------------------------------------------------
# Small sequential nets


class LeNet5(nn.Sequential):
    """LeNet-5 (LeCun et al. 1998, Proc. IEEE), the course form: full C3 connections, sigmoid,
    max pooling. 1x32x32 -> 10. Ids from specs/lenet5.yaml."""

    def __init__(self) -> None:
        super().__init__(OrderedDict([
            ("c1", nn.Conv2d(1, 6, 5)),
            ("sigmoid_1", nn.Sigmoid()),
            ("s2", nn.MaxPool2d(2)),
            ("c3", nn.Conv2d(6, 16, 5)),
            ("sigmoid_2", nn.Sigmoid()),
            ("s4", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()),
            ("c5", nn.Linear(400, 120)),
            ("sigmoid_3", nn.Sigmoid()),
            ("f6", nn.Linear(120, 84)),
            ("sigmoid_4", nn.Sigmoid()),
            ("output", nn.Linear(84, 10)),
        ]))


class Mnist1dCnn(nn.Sequential):
    """MNIST-1D CNN (Prince, "Understanding Deep Learning", 2023, fig. 10.7): three conv1d layers
    of 15 channels, kernel 3, stride 2, valid, ReLU (lengths 40-19-9-4), fc 60-10."""

    def __init__(self) -> None:
        super().__init__(OrderedDict([
            ("conv1", nn.Conv1d(1, 15, 3, stride=2)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv1d(15, 15, 3, stride=2)),
            ("relu2", nn.ReLU()),
            ("conv3", nn.Conv1d(15, 15, 3, stride=2)),
            ("relu3", nn.ReLU()),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(60, 10)),
        ]))


class AlexNetPaper(nn.Sequential):
    """AlexNet (Krizhevsky et al. 2012, NeurIPS) as one tower: 96/256/384/384/256 channels,
    LRN(5, 1e-4, 0.75, k=2) after the ReLUs of conv1 and conv2, overlapping 3x3/2 max pools,
    fc 9216-4096-4096-1000 with dropout 0.5. Ids follow the Caffe reference model.

    LRN is nn.LocalResponseNorm, which divides alpha by `size` (Caffe's convention); the paper's
    formula does not.
    """

    def __init__(self) -> None:
        def lrn() -> nn.Module:
            return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)

        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(3, 96, 11, stride=4)),
            ("relu1", nn.ReLU()),
            ("norm1", lrn()),
            ("pool1", nn.MaxPool2d(3, stride=2)),
            ("conv2", nn.Conv2d(96, 256, 5, padding=2)),
            ("relu2", nn.ReLU()),
            ("norm2", lrn()),
            ("pool2", nn.MaxPool2d(3, stride=2)),
            ("conv3", nn.Conv2d(256, 384, 3, padding=1)),
            ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 384, 3, padding=1)),
            ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(384, 256, 3, padding=1)),
            ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(3, stride=2)),
            ("flatten", nn.Flatten()),
            ("fc6", nn.Linear(9216, 4096)),
            ("relu6", nn.ReLU()),
            ("drop6", MaskedDropout(0.5)),
            ("fc7", nn.Linear(4096, 4096)),
            ("relu7", nn.ReLU()),
            ("drop7", MaskedDropout(0.5)),
            ("fc8", nn.Linear(4096, 1000)),
        ]))


class VGG11BN(nn.Module):
    """VGG-11 with BatchNorm (Simonyan & Zisserman 2015), as torchvision's vgg11_bn: configuration
    A, each 3x3 conv (pad 1, with bias) followed by BN and ReLU, 2x2 max pools, adaptive avg pool
    to 7x7, classifier 25088-4096-4096-1000 with dropout 0.5."""

    CFG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, stride=2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), MaskedDropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), MaskedDropout(0.5),
            nn.Linear(4096, 1000),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------------------------------------
# GoogLeNet


class BasicConv2d(nn.Module):
    """torchvision's BasicConv2d: conv without bias, BN (eps 1e-3), ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """torchvision's Inception block: 1x1 | 1x1-3x3 | 1x1-3x3 (the "5x5" branch, torchvision's
    quirk) | 3x3/1 ceil-mode max pool-1x1, concatenated on channels in that order."""

    def __init__(self, cin: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, ch3x3red, 1),
                                     BasicConv2d(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, ch5x5red, 1),
                                     BasicConv2d(ch5x5red, ch5x5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(cin, pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([b(x) for b in branches], 1)


class GoogLeNet(nn.Module):
    """GoogLeNet (Szegedy et al. 2015, CVPR) as torchvision's googlenet(aux_logits=False,
    transform_input=False): BasicConv2d everywhere, ceil-mode max pools, dropout 0.2, fc
    1024-1000."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = MaskedDropout(0.2)
        self.fc = nn.Linear(1024, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for block in (self.inception4a, self.inception4b, self.inception4c, self.inception4d,
                      self.inception4e):
            x = block(x)
        x = self.inception5b(self.inception5a(self.maxpool4(x)))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


# ---------------------------------------------------------------------------------------------
# DenseNet


class DenseLayer(nn.Module):
    """torchvision's _DenseLayer (no dropout): BN-ReLU-1x1 conv (bn_size x growth), BN-ReLU-3x3
    conv (growth); returns the input with the new features concatenated after it."""

    def __init__(self, cin: int, growth: int, bn_size: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new = self.conv1(self.relu1(self.norm1(x)))
        new = self.conv2(self.relu2(self.norm2(new)))
        return torch.cat([x, new], 1)


class Transition(nn.Sequential):
    """torchvision's _Transition: BN-ReLU-1x1 conv to `cout` channels, 2x2 avg pool."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(cin)),
            ("relu", nn.ReLU()),
            ("conv", nn.Conv2d(cin, cout, 1, bias=False)),
            ("pool", nn.AvgPool2d(2, stride=2)),
        ]))


class DenseNet121(nn.Module):
    """DenseNet-121 (Huang et al. 2017, CVPR) as torchvision's densenet121 (DenseNet-BC): growth
    32, blocks (6, 12, 24, 16), 64 initial features, bottleneck 4 x growth, compression 0.5, final
    BN + ReLU + global avg pool + fc 1024-1000."""

    def __init__(self, growth: int = 32, blocks: tuple[int, ...] = (6, 12, 24, 16),
                 init: int = 64) -> None:
        super().__init__()
        layers: list[tuple[str, nn.Module]] = [
            ("conv0", nn.Conv2d(3, init, 7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(init)),
            ("relu0", nn.ReLU()),
            ("pool0", nn.MaxPool2d(3, stride=2, padding=1)),
        ]
        c = init
        for b, n in enumerate(blocks, start=1):
            block = OrderedDict((f"denselayer{i + 1}", DenseLayer(c + i * growth, growth))
                                for i in range(n))
            layers.append((f"denseblock{b}", nn.Sequential(block)))
            c += n * growth
            if b < len(blocks):
                layers.append((f"transition{b}", Transition(c, c // 2)))
                c //= 2
        layers.append(("norm5", nn.BatchNorm2d(c)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Linear(c, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return self.classifier(x)


# ---------------------------------------------------------------------------------------------
# Highway MLP


class HighwayLayer(nn.Module):
    """A highway layer (Srivastava et al. 2015): H = relu(W_H x + b_H), T = sigmoid(W_T x + b_T),
    y = H*T + x*(1-T)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.h_fc = nn.Linear(width, width)
        self.t_fc = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.h_fc(x))
        t = torch.sigmoid(self.t_fc(x))
        return h * t + x * (1 - t)


class HighwayMLP(nn.Module):
    """Highway MLP (Srivastava, Greff & Schmidhuber 2015, "Training Very Deep Networks"): fc
    784-50 + ReLU, ten highway layers of width 50, fc 50-10."""

    def __init__(self, width: int = 50, depth: int = 10) -> None:
        super().__init__()
        self.fc_in = nn.Linear(784, width)
        self.highway = nn.Sequential(*[HighwayLayer(width) for _ in range(depth)])
        self.fc_out = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(self.highway(F.relu(self.fc_in(x))))


# ---------------------------------------------------------------------------------------------

MODELS: dict[str, Callable[[], nn.Module]] = {
    "lenet5": LeNet5,
    "mnist1d_cnn": Mnist1dCnn,
    "alexnet_paper": AlexNetPaper,
    "vgg11_bn": VGG11BN,
    "googlenet": GoogLeNet,
    "resnet20_cifar": ResNet20Cifar,
    "resnet18": lambda: ResNet(bottleneck=False, blocks=(2, 2, 2, 2)),
    "resnet50": lambda: ResNet(bottleneck=True, blocks=(3, 4, 6, 3)),
    "densenet121": DenseNet121,
    "unet_milesial": UNetMilesial,
    "unet_original": UNetOriginal,
    "highway_mlp": HighwayMLP,
    **CLASSICS,
}


def build(name: str) -> nn.Module:
    """A fresh reference model for the zoo name `name`, with `dropout_masks = None` (each
    dropout draws its own mask) and the hook that shares a mask list set there."""
    if name not in MODELS:
        raise KeyError(f"no reference model '{name}'; known: {', '.join(MODELS)}")
    model = MODELS[name]()
    model.dropout_masks = None
    model.register_forward_pre_hook(share_mask_queue)
    return model


def state_tensors(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The model's state_dict entries without BatchNorm's step counters: parameters and running
    statistics, in the order of the cnnc spec."""
    return [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
