"""PyTorch generators written for the tests, with the module layout and state-dict keys of the published code.

pytorch-CycleGAN-and-pix2pix (``ResnetGenerator``, ``UnetGenerator``), GAN Compression (``MobileResnetGenerator``,
``SubMobileResnetGenerator``, ``MobileSPADEGenerator``, ``SubMobileSPADEGenerator``) and GauGAN (``SPADEGenerator``
with spectral norm): the same ``nn.Sequential`` indices and attribute names, so their ``state_dict()`` keys are
those of real checkpoints. In-place activations are kept where the reference has them: the U-Net's skip carries
its LeakyReLU because of one.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm


def norm_layer(kind: str):
    if kind == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


def _use_bias(norm):
    return norm.func == nn.InstanceNorm2d


class ResnetBlock(nn.Module):
    def __init__(self, dim, norm, use_dropout, use_bias):
        super().__init__()
        block = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm(dim), nn.ReLU(True)]
        if use_dropout:
            block += [nn.Dropout(0.5)]
        block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc=3, output_nc=3, ngf=64, norm="instance", use_dropout=False, n_blocks=9):
        super().__init__()
        norm = norm_layer(norm)
        bias = _use_bias(norm)
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), norm(ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2**i
            model += [nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1, bias=bias), norm(ngf * m * 2),
                      nn.ReLU(True)]  # fmt: skip
        model += [ResnetBlock(ngf * 4, norm, use_dropout, bias) for _ in range(n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                      norm(ngf * m // 2), nn.ReLU(True)]  # fmt: skip
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm=None, use_dropout=False):  # fmt: skip
        super().__init__()
        self.outermost = outermost
        bias = _use_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        downrelu, downnorm = nn.LeakyReLU(0.2, True), norm(inner_nc)
        uprelu, upnorm = nn.ReLU(True), norm(outer_nc)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=bias)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=bias)
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                model += [nn.Dropout(0.5)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    def __init__(self, input_nc=3, output_nc=3, num_downs=8, ngf=64, norm="batch", use_dropout=False):
        super().__init__()
        norm = norm_layer(norm)
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm=norm, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm=norm)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                             norm=norm)  # fmt: skip

    def forward(self, x):
        return self.model(x)


class SeparableConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, norm=nn.InstanceNorm2d):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=padding, groups=in_channels),
            norm(in_channels),
            nn.Conv2d(in_channels, out_channels, 1),
        )

    def forward(self, x):
        return self.conv(x)


class MobileResnetBlock(nn.Module):
    def __init__(self, ic, oc, norm, dropout_rate):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), SeparableConv2d(ic, oc, 3), norm(oc), nn.ReLU(True), nn.Dropout(dropout_rate),
            nn.ReflectionPad2d(1), SeparableConv2d(oc, ic, 3), norm(ic),
        )  # fmt: skip

    def forward(self, x):
        return x + self.conv_block(x)


class SubMobileResnetGenerator(nn.Module):
    """GAN Compression's sub-mobile ResNet; ``channels`` of 8 (or legacy 6) entries; 9 blocks in three groups."""

    def __init__(self, channels, input_nc=3, output_nc=3, n_blocks=9, norm="instance"):
        super().__init__()
        norm = norm_layer(norm)
        c = list(channels)
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, c[0], 7), norm(c[0]), nn.ReLU(True)]
        for i in range(2):
            m = 2**i
            model += [nn.Conv2d(c[i] * m, c[i + 1] * m * 2, 3, stride=2, padding=1), norm(c[i + 1] * m * 2),
                      nn.ReLU(True)]  # fmt: skip
        ic = c[2]
        for i in range(n_blocks):
            oc = c[3 + (0 if len(c) == 6 else i // 3)]
            model += [MobileResnetBlock(ic * 4, oc * 4, norm, 0.0)]
        offset = 4 if len(c) == 6 else 6
        for i in range(2):
            oc, m = c[offset + i], 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ic * m, oc * m // 2, 3, stride=2, padding=1, output_padding=1),
                      norm(oc * m // 2), nn.ReLU(True)]  # fmt: skip
            ic = oc
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ic, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


def MobileResnetGenerator(input_nc=3, output_nc=3, ngf=64, n_blocks=9):  # noqa: N802 - the reference's class name
    """GAN Compression's mobile ResNet: the sub-mobile one with every width at ``ngf`` (same modules and keys)."""
    return SubMobileResnetGenerator([ngf] * 8, input_nc, output_nc, n_blocks)


# ---------------------------------------------------------------------------------------------------- SPADE


class SPADE(nn.Module):
    def __init__(self, norm_nc, label_nc, nhidden=128, param_free="batch", mobile=False, oc=None):
        super().__init__()
        if param_free == "batch":
            self.param_free_norm = nn.BatchNorm2d(norm_nc, affine=False)
        else:
            self.param_free_norm = nn.InstanceNorm2d(norm_nc, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, nhidden, 3, padding=1), nn.ReLU())
        oc = norm_nc if oc is None else oc
        if mobile:
            self.mlp_gamma = SeparableConv2d(nhidden, oc, 3, padding=1)
            self.mlp_beta = SeparableConv2d(nhidden, oc, 3, padding=1)
        else:
            self.mlp_gamma = nn.Conv2d(nhidden, oc, 3, padding=1)
            self.mlp_beta = nn.Conv2d(nhidden, oc, 3, padding=1)

    def forward(self, x, seg):
        c = x.shape[1]
        if c < self.param_free_norm.num_features:  # GAN Compression's sub-mobile: the first c statistics
            pf = self.param_free_norm
            normalized = F.batch_norm(x, pf.running_mean[:c], pf.running_var[:c], training=False, eps=pf.eps)
        else:
            normalized = self.param_free_norm(x)
        seg = F.interpolate(seg, size=x.size()[2:], mode="nearest")
        actv = self.mlp_shared(seg)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResnetBlock(nn.Module):
    """GauGAN's block (``fin``/``fout``); GAN Compression's sub-mobile one when ``ic``/``channel`` are given."""

    def __init__(self, fin, fout, label_nc, nhidden, spectral=True, mobile=False, param_free="batch", ic=None,
                 channel=None):  # fmt: skip
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        ic = fin if ic is None else ic
        channel = fmiddle if channel is None else channel
        out = channel if self.learned_shortcut else (fout if ic == fin else ic)
        self.conv_0 = nn.Conv2d(ic, channel, 3, padding=1)
        self.conv_1 = nn.Conv2d(channel, out, 3, padding=1)
        if self.learned_shortcut:
            self.conv_s = nn.Conv2d(ic, out, 1, bias=False)
        if spectral:
            self.conv_0 = spectral_norm(self.conv_0)
            self.conv_1 = spectral_norm(self.conv_1)
            if self.learned_shortcut:
                self.conv_s = spectral_norm(self.conv_s)
        spade = functools.partial(SPADE, label_nc=label_nc, nhidden=nhidden, param_free=param_free, mobile=mobile)
        self.norm_0 = spade(fin, oc=ic)
        self.norm_1 = spade(fmiddle, oc=channel)
        if self.learned_shortcut:
            self.norm_s = spade(fin, oc=ic)

    def forward(self, x, seg):
        x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 0.2))
        return x_s + dx


BLOCKS = (("head_0", 16, 16), ("G_middle_0", 16, 16), ("G_middle_1", 16, 16), ("up_0", 16, 8), ("up_1", 8, 4),
          ("up_2", 4, 2), ("up_3", 2, 1))  # fmt: skip


class SPADEGenerator(nn.Module):
    """GauGAN's generator (``mobile=True``: GAN Compression's mobile one, hidden ``2·ngf``); ``config``: sub-mobile.

    'normal' upsampling (5 doublings) or 'more' (6); no VAE.
    """

    def __init__(self, semantic_nc, ngf=64, nhidden=128, spectral=True, mobile=False, param_free="batch",
                 config=None, num_upsampling_layers="normal"):  # fmt: skip
        super().__init__()
        self.more = num_upsampling_layers == "more"
        self.ups = 6 if self.more else 5
        nf = ngf
        trunk = 16 * (config[0] if config else nf)
        self.fc = nn.Conv2d(semantic_nc, trunk, 3, padding=1)
        ic = trunk
        for i, (name, fin, fout) in enumerate(BLOCKS):
            if config:
                channel = fout * config[i + 1]
                block = SPADEResnetBlock(fin * nf, fout * nf, semantic_nc, 2 * config[i + 1], spectral=False,
                                         mobile=True, param_free=param_free, ic=ic, channel=channel)  # fmt: skip
                if fin != fout:
                    ic = channel
            else:
                block = SPADEResnetBlock(fin * nf, fout * nf, semantic_nc, 2 * nf if mobile else nhidden, spectral,
                                         mobile, param_free)  # fmt: skip
            setattr(self, name, block)
        self.conv_img = nn.Conv2d(ic if config else nf, 3, 3, padding=1)

    def forward(self, seg):
        h, w = seg.shape[2] // 2**self.ups, seg.shape[3] // 2**self.ups
        x = self.fc(F.interpolate(seg, size=(h, w)))
        for name, _, _ in BLOCKS:
            if name in ("G_middle_0", "up_0", "up_1", "up_2", "up_3") or (name == "G_middle_1" and self.more):
                x = F.interpolate(x, scale_factor=2)
            x = getattr(self, name)(x, seg)
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))


# -------------------------------------------------------------------------------------------- random weights


def randomize(model: nn.Module, seed: int = 0, spectral_steps: int = 3, example=None) -> nn.Module:
    """Random non-trivial weights and batch-norm statistics; spectral-norm ``u``/``v`` from a few power iterations.

    Returns the model in eval mode (what a checkpoint is imported for).
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if p.dim() > 1 else 0.2))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
    if example is not None and spectral_steps:
        # train-mode forwards run the power iteration (u, v change); the batch-norm statistics are restored after
        stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
        model.train()
        with torch.no_grad():
            for _ in range(spectral_steps):
                model(example)
        state = model.state_dict()
        with torch.no_grad():
            for k, v in stats.items():
                state[k].copy_(v)
    return model.eval()
