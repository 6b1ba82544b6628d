"""The SimSiam network and loss of src/simsiam/model.h and src/nn/loss.h in PyTorch.

Dev-only (python3-torch; never used by the C program): the one definition that
the references bench_train_ref.py (speed) and ref_step.py (parity of a step) share.
  encoder    resnet: conv3x3(C->w) BN ReLU; BasicBlocks (w, s1), (2w, s2), (4w, s2),
             each conv3x3 BN ReLU conv3x3 BN (+ shortcut) ReLU, the shortcut a 1x1
             conv (stride s, no padding) + BN when the shape changes; global average
             pool -> 4w features.
             mlp: flatten, Linear(C*H*W->16w) BN ReLU, Linear(16w->16w) BN ReLU.
  projector  Linear(F->P) BN ReLU, Linear(P->P) BN ReLU, Linear(P->z_dim) BN(affine=False)
  predictor  Linear(z_dim->H) BN ReLU, Linear(H->z_dim, bias)
Every conv and Linear is without bias except the predictor's last Linear; every
BN is affine except the projector's last.

SimSiam.parameters() lists the tensors in the order of the C model's flat
parameter array (each module registers its weight before its bias, the modules
in forward order, a block's shortcut after its second conv), and
batchnorms(model) the BN layers in the order of its running statistics.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LOG_2PI_E = math.log(2 * math.pi) + 1


def conv_bn(c_in, c_out, k, stride):
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.a = conv_bn(c_in, c_out, 3, stride)
        self.b = conv_bn(c_out, c_out, 3, 1)
        changes = stride != 1 or c_out != c_in
        self.shortcut = conv_bn(c_in, c_out, 1, stride) if changes else nn.Identity()

    def forward(self, x):
        return F.relu(self.b(F.relu(self.a(x))) + self.shortcut(x))


def linear_bn_relu(n_in, n_out):
    return [nn.Linear(n_in, n_out, bias=False), nn.BatchNorm1d(n_out), nn.ReLU()]


def encoder(arch, width, image, stem_stride=1):
    if arch == "mlp":
        hidden = 16 * width
        return nn.Sequential(nn.Flatten(), *linear_bn_relu(math.prod(image), hidden),
                             *linear_bn_relu(hidden, hidden)), hidden
    return nn.Sequential(
        conv_bn(image[0], width, 3, stem_stride), nn.ReLU(),
        BasicBlock(width, width, 1), BasicBlock(width, 2 * width, 2), BasicBlock(2 * width, 4 * width, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten()), 4 * width


class SimSiam(nn.Module):
    def __init__(self, arch, width, proj_hidden, z_dim, pred_hidden, image, stem_stride=1):
        super().__init__()
        self.encoder, features = encoder(arch, width, image, stem_stride)
        self.projector = nn.Sequential(
            *linear_bn_relu(features, proj_hidden), *linear_bn_relu(proj_hidden, proj_hidden),
            nn.Linear(proj_hidden, z_dim, bias=False), nn.BatchNorm1d(z_dim, affine=False))
        self.predictor = nn.Sequential(*linear_bn_relu(z_dim, pred_hidden), nn.Linear(pred_hidden, z_dim))

    def forward(self, x):
        z = self.projector(self.encoder(x))
        return z, self.predictor(z)


def batchnorms(model):
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def distance(kind, p, z):
    """D(p, z) of src/nn/loss.h, a mean over the batch (z is a constant there)."""
    if kind == "cosine":
        return -F.cosine_similarity(p, z, dim=1).mean()
    if kind == "l2":
        return 0.5 * ((p - z) ** 2).sum(dim=1).mean()
    if kind == "gauss":  # the NLL of z under N(p, s2 I), s2 fitted on the batch
        return 0.5 * p.shape[1] * (LOG_2PI_E + torch.log(((p - z) ** 2).mean()))
    raise ValueError(f"unknown loss {kind!r}")


def symmetric_loss(kind, p1, p2, z1, z2):
    """L = 1/2 D(p1, sg(z2)) + 1/2 D(p2, sg(z1)), sg = detach."""
    return 0.5 * distance(kind, p1, z2.detach()) + 0.5 * distance(kind, p2, z1.detach())
