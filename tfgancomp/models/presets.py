"""Reference configurations as data: architecture, constructor arguments, resolution, published figures."""

from __future__ import annotations

#: name -> {"arch", "kwargs", "height", "width", "published" (figures from the paper, where it gives them)}.
PRESETS: dict[str, dict] = {
    "resnet9-ngf64": {
        "arch": "resnet",
        "kwargs": {"ngf": 64, "n_blocks": 9},
        "height": 256,
        "width": 256,
        "published": {"macs": 56.8e9, "params": 11.4e6},
        "note": "pix2pix / CycleGAN teacher (GAN Compression, Table 1)",
    },
    "mobile-resnet9-ngf64": {
        "arch": "mobile_resnet",
        "kwargs": {"ngf": 64, "n_blocks": 9},
        "height": 256,
        "width": 256,
        "published": {},
        "note": "mobile teacher / once-for-all supernet of the 'channels-64' spaces",
    },
    "cyclegan-horse2zebra-compressed": {
        "arch": "sub_mobile_resnet",
        "kwargs": {"config": "24_24_24_32_20_16", "n_blocks": 9},
        "height": 256,
        "width": 256,
        "published": {"macs": 2.67e9, "params": 0.342e6},
        "note": "GAN Compression's CycleGAN horse→zebra result (legacy 6-entry config), 21.2× fewer MACs",
    },
    "gaugan-cityscapes": {
        "arch": "spade",
        "kwargs": {"ngf": 64, "label_nc": 35, "instance": True},
        "height": 256,
        "width": 512,
        "published": {"macs": 281e9, "params": 93.0e6},
        "reproducible": {"macs": 292.8e9},
        "note": "GauGAN teacher on Cityscapes; the published 281 G MACs is not reproducible from the reference "
        "code, whose profile gives 292.8 G conv MACs",
    },
    "mobile-gaugan-ngf64": {
        "arch": "mobile_spade",
        "kwargs": {"ngf": 64, "label_nc": 35, "instance": True},
        "height": 256,
        "width": 512,
        "published": {},
        "note": "mobile GauGAN supernet of the SPADE 'channels-64' space",
    },
    "pix2pix-patchgan": {
        "arch": "patchgan",
        "kwargs": {"input_nc": 6, "ndf": 64, "n_layers": 3},
        "height": 256,
        "width": 256,
        "published": {},
        "note": "70×70 PatchGAN on concatenated (A, B)",
    },
    "gaugan-multiscale": {
        "arch": "multiscale",
        "kwargs": {"input_nc": 39, "ndf": 64, "n_layers": 4, "num_d": 2},
        "height": 256,
        "width": 512,
        "published": {},
        "note": "GauGAN discriminator on (one-hot labels + instance edge, image)",
    },
}
