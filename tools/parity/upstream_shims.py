"""Import shims for running the upstream PyTorch code in place (no build, no pip install), shared by
bench/torch/align_small_step.py and tools/parity/dab_detr_fixture.py: detrex and detectron2 checkouts
become importable with stand-ins only for modules these CPU paths never call (CUDA extensions, logging,
the data pipeline) and two tiny functions copied verbatim (torchvision's box_area, fvcore's weight
fills). tools/parity/anchor_detr_fixture.py uses only `module` and `never_called` (the official
AnchorDETR code needs other stand-ins). torch must be importable; import this module after setting
thread environment variables.
"""
import os
import sys
import types

import torch
import torch.nn as nn


def module(name, path=None, **attrs):
    """A module in sys.modules; with `path`, a package whose __init__.py is NOT run."""
    m = types.ModuleType(name)
    if path is not None:
        m.__path__ = [path]
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def never_called(what):
    def f(*a, **k):
        raise RuntimeError(f"shim: {what} is not on this path")
    return f


def install_detrex_shims(detrex_dir, d2_dir, detector_postprocess=None):
    """detrex + detectron2 importable in place. `detector_postprocess`: what detectron2.modeling exports
    under that name (eval-time rescaling; default: raise if called)."""
    # detrex._C holds the CUDA MSDA kernels; without it detrex replaces MultiScaleDeformableAttention by
    # a dummy class (detrex/layers/multi_scale_deform_attn.py, end of file). On CPU its forward uses
    # multi_scale_deformable_attn_pytorch (grid_sample) and never touches _C.
    module("detrex._C")
    # torchvision is not installed: detrex/layers/box_ops.py imports only box_area (copied from
    # torchvision/ops/boxes.py).
    module("torchvision")
    module("torchvision.ops")
    module("torchvision.ops.boxes",
           box_area=lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
    # fvcore is not installed: weight_init copied from fvcore/nn/weight_init.py (used by detectron2's
    # BasicStem / BasicBlock init); the registry and all_reduce are never called here.
    def c2_msra_fill(m):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)

    def c2_xavier_fill(m):
        nn.init.kaiming_uniform_(m.weight, a=1)
        if m.bias is not None:
            nn.init.constant_(m.bias, 0)

    class Registry:  # fvcore.common.registry.Registry: only `.register()` runs (at import)
        def __init__(self, name):
            self.name = name

        def register(self, obj=None):
            return obj if obj is not None else (lambda f: f)

    module("fvcore")
    module("fvcore.nn")
    module("fvcore.nn.weight_init", c2_msra_fill=c2_msra_fill, c2_xavier_fill=c2_xavier_fill)
    module("fvcore.nn.distributed", differentiable_all_reduce=never_called("all_reduce"))
    module("fvcore.common")
    module("fvcore.common.registry", Registry=Registry)
    # detrex/utils/events.py (WandbWriter: wandb, omegaconf) is logging only.
    module("detrex.utils.events", WandbWriter=None)

    # Packages whose __init__ would pull in what this path does not use (pycocotools, detectron2._C,
    # omegaconf, timm, the data pipeline): registered without running __init__.py, then given the
    # names the modules below import from them.
    sys.path[:0] = [d2_dir, detrex_dir]
    d2 = os.path.join(d2_dir, "detectron2")
    module("detectron2", path=d2)
    layers = module("detectron2.layers", path=os.path.join(d2, "layers"))
    structures = module("detectron2.structures", path=os.path.join(d2, "structures"))
    module("detectron2.modeling", path=os.path.join(d2, "modeling"),
           detector_postprocess=detector_postprocess or never_called("detector_postprocess (eval only)"))
    module("detectron2.modeling.backbone", path=os.path.join(d2, "modeling", "backbone"))
    module("detrex", path=os.path.join(detrex_dir, "detrex"))
    module("detrex.modeling", path=os.path.join(detrex_dir, "detrex", "modeling"))

    from detectron2.layers import wrappers, batch_norm, blocks, shape_spec
    layers.__dict__.update(Conv2d=wrappers.Conv2d, get_norm=batch_norm.get_norm,
                           CNNBlockBase=blocks.CNNBlockBase, ShapeSpec=shape_spec.ShapeSpec,
                           DeformConv=None, ModulatedDeformConv=None)  # deformable stages only
    from detectron2.structures import boxes, image_list, instances
    structures.__dict__.update(Boxes=boxes.Boxes, ImageList=image_list.ImageList,
                               Instances=instances.Instances)

    # Upstream Align-DETR / DINO hard-code CUDA in prepare_for_cdn and compute_dn_loss
    # (`.cuda()`, `.to("cuda")`): keep those tensors on the CPU.
    to = torch.Tensor.to
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.Tensor.to = lambda self, *a, **k: to(
        self, *["cpu" if isinstance(x, str) and x.startswith("cuda") else x for x in a], **k)
