"""The public API is pinned: adding or removing a name is a decision, made here in the same change."""

from __future__ import annotations

import tfgancomp
import tfgancomp.pipeline

PUBLIC = {
    # models and their cost
    "PRESETS", "MobileResNetGenerator", "MobileSPADEGenerator", "MultiscaleDiscriminator", "PatchGANDiscriminator",
    "ResNetGenerator", "SPADEGenerator", "SubMobileResNetGenerator", "SubMobileSPADEGenerator", "build_model",
    "build_preset", "Profile", "ProfileSpec", "profile",
    # data
    "ReaderSettings", "SynthSettings", "synthesize",
    # one verb per stage, with its settings, and reading a run's generator back
    "TeacherSettings", "train_teacher", "DistillSettings", "distill", "SupernetSettings", "train_supernet", "search",
    "extract", "QATSettings", "export_generator", "load_generator", "CompressSettings", "compress",
    "__version__",
}  # fmt: skip


def test_the_public_api_is_what_it_says():
    assert set(tfgancomp.__all__) == PUBLIC
    assert len(tfgancomp.__all__) == len(PUBLIC)  # no name twice
    assert all(hasattr(tfgancomp, name) for name in tfgancomp.__all__)


def test_the_stage_verbs_are_the_pipeline_s():
    for name in ("train_teacher", "distill", "train_supernet", "search", "extract", "export_generator", "compress"):
        verb = getattr(tfgancomp, name)
        assert verb is getattr(tfgancomp.pipeline, name)
        assert verb.__module__.startswith("tfgancomp.pipeline.")
        assert verb.__doc__, f"{name} has no docstring"
    assert set(tfgancomp.pipeline.__all__) <= set(dir(tfgancomp.pipeline))
