#!/usr/bin/env python3
"""Parity fixture of a tiny DAB-DETR, built from detrex's own code (fixtures/parity/README.md, dab_detr_tiny).

Builds IDEA-Research/detrex `projects/dab_detr/modeling` (DABDETR, DabDetrTransformer, -Encoder, -Decoder
with detrex.layers ConditionalSelfAttention / ConditionalCrossAttention / MultiheadAttention / FFN / MLP /
PositionEmbeddingSine) on a detectron2 ResNet-18-style GroupNorm backbone (32-channel stem and res2, the
widths of the project's small config, cut after res2), imported in place from the two checkouts with
small shims (no build, no pip install). Every parameter and buffer is then overwritten with random values
(also the biases, norm weights, PReLU slopes, anchor boxes and the zero-initialised last bbox_embed layer).

Two forwards of a batch of two raw RGB images of different sizes (so ImageList pads both axes):
  eval/*    model.eval():  detrex's eval path, all-zero padding mask;
  masked/*  model.train(): the same network (dropout 0, GN and PReLU do not depend on the mode) with the
            batch's padding mask (position embedding, encoder key padding mask); the criterion is a stub
            that records the output dict.
  grad/*    the masked forward again, backward of a fixed random linear function of every decoder layer's
            pred_logits / pred_boxes: the loss, every parameter's gradient norm, full gradients of some.
A float64 copy of the run gives each compared tensor's float32 error (config.float64_rel_diff) and the
per-parameter gradient tolerances (config.grad_rtol, grad_zero). Two runs write byte-identical files.

Writes (into --out, default fixtures/parity of the repository):
  dab_detr_tiny.pth          the model's state_dict, a real torch.save file (detrex names; bbox_embed.* and
                             transformer.decoder.bbox_embed.* are one module, stored once with shared storage)
  dab_detr_tiny.safetensors  inputs, outputs and intermediates (float32; bool/int as I64), see README

One change to upstream: detrex's decoder calls get_sine_pos_embed with its default 128 features per
coordinate, which fits ref_point_head (2 * embed_dim inputs) only at embed_dim 256. At the tiny embed_dim it
is called with embed_dim / 2 features (the same numbers as upstream at 256; the port does the same).

  /usr/bin/python3 tools/parity/dab_detr_fixture.py --detrex /tmp/upstream/detrex \
      --detectron2 /tmp/upstream/detectron2
"""
import argparse
import copy
import functools
import json
import math
import os
import platform
import struct
import sys
import warnings
from collections import OrderedDict

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--detrex", required=True, help="detrex checkout (has detrex/ and projects/dab_detr/)")
p.add_argument("--detectron2", required=True, help="detectron2 checkout (has detectron2/)")
p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "parity"))
p.add_argument("--name", default="dab_detr_tiny")
args = p.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
warnings.filterwarnings("ignore", message="torch.meshgrid")

DETREX_COMMIT = "e244e6c3da3e84566728c52c21fb061d23ce0e2f"
DETECTRON2_COMMIT = "70f454304e1a38378200459dd2dbca0f0f4a5ab4"


# ------------------------------------------------------------------------------------------------
# Shims: upstream_shims.py (only modules this CPU forward never calls). detector_postprocess (eval only)
# rescales / clips the Instances; the raw outputs are what is compared.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from upstream_shims import install_detrex_shims  # noqa: E402

install_detrex_shims(os.path.abspath(args.detrex), os.path.abspath(args.detectron2), detector_postprocess=lambda r, h, w: r)

from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, ResNet  # noqa: E402
from detectron2.structures import Boxes, Instances  # noqa: E402
from detrex.layers import PositionEmbeddingSine, get_sine_pos_embed  # noqa: E402
from projects.dab_detr.modeling import (  # noqa: E402
    DABDETR, DabDetrTransformer, DabDetrTransformerDecoder, DabDetrTransformerEncoder)
from projects.dab_detr.modeling import dab_transformer  # noqa: E402

# ------------------------------------------------------------------------------------------------
# Settings: projects/dab_detr/configs/models/dab_detr_r50.py, shrunk.
EMBED, HEADS, FFN, ENC_LAYERS, DEC_LAYERS = 64, 4, 96, 2, 3
NUM_CLASSES, NUM_QUERIES = 10, 10
STEM, RES2 = 32, 32
PIXEL_MEAN = [123.675, 116.280, 103.530]
PIXEL_STD = [58.395, 57.120, 57.375]
IMAGE_HW = [(48, 38), (35, 48)]  # (H, W) of the two images: padded to 48 x 48
POS = dict(num_pos_feats=EMBED // 2, temperature=20, normalize=True)
SEED = 20240611

# The one change to upstream (see the docstring): F = embed_dim / 2 sine features per coordinate.
dab_transformer.get_sine_pos_embed = functools.partial(get_sine_pos_embed, num_pos_feats=EMBED // 2)


class RecordingCriterion(nn.Module):
    """Stands in for SetCriterion in the masked (train-mode) forward: records the output dict."""

    weight_dict = {}

    def forward(self, outputs, targets):
        self.outputs, self.targets = outputs, targets
        return {}


def build():
    torch.manual_seed(SEED)
    backbone = ResNet(
        stem=BasicStem(in_channels=3, out_channels=STEM, norm="GN"),
        stages=[ResNet.make_stage(BasicBlock, 2, in_channels=STEM, out_channels=RES2, stride_per_block=[1, 1], norm="GN")],
        out_features=["res2"],
        freeze_at=0,
    )
    layer = dict(embed_dim=EMBED, num_heads=HEADS, attn_dropout=0.0, feedforward_dim=FFN, ffn_dropout=0.0)
    return DABDETR(
        backbone=backbone,
        in_features=["res2"],
        in_channels=RES2,
        position_embedding=PositionEmbeddingSine(**POS),
        transformer=DabDetrTransformer(
            encoder=DabDetrTransformerEncoder(**layer, activation=nn.PReLU(), num_layers=ENC_LAYERS),
            decoder=DabDetrTransformerDecoder(**layer, activation=nn.PReLU(), num_layers=DEC_LAYERS, modulate_hw_attn=True),
            num_patterns=0,
        ),
        embed_dim=EMBED,
        num_classes=NUM_CLASSES,
        num_queries=NUM_QUERIES,
        criterion=RecordingCriterion(),
        aux_loss=True,
        pixel_mean=PIXEL_MEAN,
        pixel_std=PIXEL_STD,
        freeze_anchor_box_centers=True,
        select_box_nums_for_evaluation=NUM_QUERIES * NUM_CLASSES,
        device="cpu",
    )


def randomise(model):
    """Overwrite every parameter / buffer (state-dict order, shared tensors once) with random values."""
    g = torch.Generator().manual_seed(SEED + 1)

    def u(shape, lo, hi):
        return torch.rand(shape, generator=g, dtype=torch.float64).mul(hi - lo).add(lo).float()

    def logit(x):
        return torch.log(x / (1 - x))

    seen = set()
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if id(t) in seen:
                continue
            seen.add(id(t))
            if name == "anchor_box_embed.weight":
                v = torch.cat([logit(u((NUM_QUERIES, 2), 0.15, 0.85)), logit(u((NUM_QUERIES, 2), 0.08, 0.45))], 1)
            elif "norm" in name and name.endswith(".weight") and t.dim() == 1:  # GroupNorm / LayerNorm gamma
                v = u(t.shape, 0.7, 1.3)
            elif t.dim() == 1 and t.numel() == 1 and name.endswith(".weight"):  # PReLU slope
                v = u(t.shape, 0.1, 0.4)
            elif t.dim() >= 2:  # linear / conv weights: uniform with variance 1 / fan_in
                bound = (3.0 / (t[0].numel())) ** 0.5
                v = u(t.shape, -bound, bound)
            elif name == "class_embed.bias":
                v = u(t.shape, -3.0, -1.0)
            else:  # biases
                v = u(t.shape, -0.2, 0.2)
            t.copy_(v)
    return model


def batch():
    g = torch.Generator().manual_seed(SEED + 2)
    inputs = []
    for i, (h, w) in enumerate(IMAGE_HW):
        img = torch.rand((3, h, w), generator=g, dtype=torch.float64).mul(255).float()
        inst = Instances((h, w))
        inst.gt_boxes = Boxes(torch.tensor([[2.0, 3.0, w / 2, h / 2]]))
        inst.gt_classes = torch.tensor([i])
        inputs.append({"image": img, "height": h, "width": w, "instances": inst})
    return inputs


def run(model, inputs, train):
    """One forward; returns a dict of captured tensors (batch-first, NCHW feature maps)."""
    cap = {"sine": [], "query_pos": [], "self_kpm": [], "cross_kpm": []}
    hooks = []

    def keep(name, fn):
        """A forward hook storing fn(args, output) under `name`; returns None (leaves the output alone)."""
        def hook(m, a, o):
            cap[name] = fn(a, o).detach().clone()
        return hook

    hooks.append(model.backbone.register_forward_pre_hook(lambda m, a: cap.__setitem__("images", a[0].detach().clone())))
    hooks.append(model.backbone.register_forward_hook(keep("res2", lambda a, o: o["res2"])))
    hooks.append(model.position_embedding.register_forward_hook(keep("mask", lambda a, o: a[0])))
    hooks.append(model.transformer.encoder.register_forward_hook(keep("memory", lambda a, o: o.transpose(0, 1))))  # [S,B,C] -> [B,S,C]
    hooks.append(model.transformer.register_forward_hook(keep("hidden", lambda a, o: o[0])))
    hooks.append(model.transformer.register_forward_hook(keep("refs", lambda a, o: o[1])))
    originals = []
    for layer in model.transformer.decoder.layers:
        sa, ca = layer.attentions[0], layer.attentions[1]
        originals.append((sa, sa.forward, ca, ca.forward))

        def self_fwd(*a, _f=sa.forward, **k):
            cap["self_kpm"].append(k.get("key_padding_mask"))
            return _f(*a, **k)

        def cross_fwd(*a, _f=ca.forward, **k):
            cap["sine"].append(k["query_sine_embed"].detach().transpose(0, 1).clone())  # [Q,B,C] -> [B,Q,C]
            cap["query_pos"].append(k["query_pos"].detach().transpose(0, 1).clone())
            cap["cross_kpm"].append(k.get("key_padding_mask"))
            return _f(*a, **k)

        sa.forward, ca.forward = self_fwd, cross_fwd
    orig_aux = model._set_aux_loss

    def aux(outputs_class, outputs_coord):
        cap["all_logits"], cap["all_boxes"] = outputs_class.detach().clone(), outputs_coord.detach().clone()
        return orig_aux(outputs_class, outputs_coord)

    model._set_aux_loss = aux
    try:
        model.train(train)
        with torch.no_grad():
            result = model(inputs)
    finally:
        for h in hooks:
            h.remove()
        for sa, sf, ca, cf in originals:
            sa.forward, ca.forward = sf, cf
        del model._set_aux_loss
        model.eval()
    assert all(m is None for m in cap["self_kpm"] + cap["cross_kpm"]), "the decoder got a padding mask"
    if train:
        out = model.criterion.outputs
        assert torch.equal(out["pred_logits"], cap["all_logits"][-1]) and torch.equal(out["pred_boxes"], cap["all_boxes"][-1])
        assert result == {}
    cap["sine"] = torch.stack(cap["sine"])
    cap["query_pos"] = torch.stack(cap["query_pos"])
    return cap


def grad_run(model, inputs, upstream_logits, upstream_boxes):
    """Train-mode (masked) forward, L = sum(all_logits * G_logits) + sum(all_boxes * G_boxes), backward.

    Returns L and {name: grad} for named_parameters() (tied parameters once, under their first name)."""
    model.train()
    model.zero_grad(set_to_none=True)
    model(inputs)
    out = model.criterion.outputs
    per_layer = out["aux_outputs"] + [{"pred_logits": out["pred_logits"], "pred_boxes": out["pred_boxes"]}]
    logits = torch.stack([o["pred_logits"] for o in per_layer])
    boxes = torch.stack([o["pred_boxes"] for o in per_layer])
    loss = (logits * upstream_logits).sum() + (boxes * upstream_boxes).sum()
    loss.backward()
    model.eval()
    grads = OrderedDict((n, p.grad.detach().clone()) for n, p in model.named_parameters())
    assert all(p.grad is not None for p in model.parameters()), "a parameter the loss does not reach"
    model.zero_grad(set_to_none=True)
    del model.criterion.outputs, model.criterion.targets
    return loss.detach(), grads


# Full gradients stored for these (besides every parameter of at most 1024 elements); the L2 norm of
# every parameter's gradient is stored in grad/norms.
GRAD_FULL = [
    "backbone.stem.conv1.weight",
    "input_proj.weight",
    "anchor_box_embed.weight",
    "class_embed.weight",
    "transformer.decoder.bbox_embed.layers.2.weight",
    "transformer.decoder.ref_anchor_head.layers.0.weight",
    "transformer.decoder.layers.0.attentions.1.query_pos_proj.weight",
    "transformer.decoder.layers.2.attentions.1.query_pos_sine_proj.weight",
    "transformer.encoder.layers.0.attentions.0.attn.out_proj.weight",
]
# How the gradients are compared. Float32 PyTorch against float64 PyTorch (max |f32 - f64| / max |f64| of the
# full gradient, and of its norm against its own float64 value) is within 1e-5 for most parameters: those get
# the README's rtol 1e-4. Others are partly cancelling sums (the self-attention query / key projections of
# decoder layers 1 and 2: 1e-4..2e-3): they get GRAD_RTOL_MARGIN x that error, rounded up to 1, 2 or 5 x 10^k.
# Some are zero in exact arithmetic (float64 norm < 1e-12), float32 noise in practice: every key / query
# projection of decoder layer 0's self-attention (its content queries are zeros, so all values are equal and
# the output does not depend on the attention weights) and the key biases of every conditional attention (a
# constant added to all keys of a query cancels in softmax); they are listed in grad_zero, not stored.
GRAD_RTOL_MARGIN = 10
GRAD_ZERO_NORM = 1e-12


def round_up_125(x):
    """The smallest of 1, 2, 5 x 10^k that is >= x."""
    e = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10.0 ** e >= x * (1 - 1e-12):
            return float(f"{m * 10.0 ** e:.0e}")


def outputs_of(cap, prefix):
    """The tensors stored for one forward (not the position embedding, for size: pos_embed.safetensors covers it)."""
    return OrderedDict([
        (f"{prefix}/mask", cap["mask"].long()),
        (f"{prefix}/encoder_memory", cap["memory"]),
        (f"{prefix}/reference_boxes", cap["refs"]),
        (f"{prefix}/query_pos", cap["query_pos"]),
        (f"{prefix}/query_sine_embed", cap["sine"]),
        (f"{prefix}/hidden_states", cap["hidden"]),
        (f"{prefix}/all_layers/pred_logits", cap["all_logits"]),
        (f"{prefix}/all_layers/pred_boxes", cap["all_boxes"]),
        (f"{prefix}/pred_logits", cap["all_logits"][-1]),
        (f"{prefix}/pred_boxes", cap["all_boxes"][-1]),
    ])


def write_safetensors(path, tensors, metadata):
    codes = {torch.float32: "F32", torch.int64: "I64", torch.float64: "F64"}
    header, blobs, offset = OrderedDict([("__metadata__", metadata)]), [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous().cpu()
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[k] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rel_diff(a, r):
    """max |a - r| / max |r| over a tensor."""
    return float((a.double() - r.double()).abs().max() / r.double().abs().max().clamp_min(1e-30))


def main():
    model = randomise(build()).eval()
    inputs = batch()
    ev = run(model, inputs, train=False)
    mk = run(model, inputs, train=True)
    assert torch.equal(ev["images"], mk["images"]) and torch.equal(ev["res2"], mk["res2"])
    valid = torch.tensor(IMAGE_HW)
    H, W = ev["images"].shape[-2:]
    image_mask = torch.ones(len(IMAGE_HW), H, W, dtype=torch.int64)
    for i, (h, w) in enumerate(IMAGE_HW):
        image_mask[i, :h, :w] = 0
    assert not ev["mask"].any() and mk["mask"].any()

    tensors = OrderedDict([
        ("images", ev["images"]),  # normalised, zero-padded batch: the backbone input
        ("image_sizes", valid.long()),  # (h, w) of the valid region of each image
        ("image_mask", image_mask),  # 1 = padding, [B,H,W]
        ("backbone/res2", ev["res2"]),
    ])
    tensors.update(outputs_of(ev, "eval"))
    tensors.update(outputs_of(mk, "masked"))

    # Gradients of a fixed random linear function of every layer's outputs (masked / train mode).
    g = torch.Generator().manual_seed(SEED + 3)
    up_logits = torch.randn(tuple(mk["all_logits"].shape), generator=g)
    up_boxes = torch.randn(tuple(mk["all_boxes"].shape), generator=g)
    loss, grads = grad_run(model, inputs, up_logits, up_boxes)
    names = list(grads)
    tensors["grad/upstream_logits"] = up_logits
    tensors["grad/upstream_boxes"] = up_boxes
    tensors["grad/loss"] = loss.reshape(())
    tensors["grad/norms"] = torch.stack([grads[n].double().norm().float() for n in names])
    assert all(n in grads for n in GRAD_FULL)

    # float64 run of the same model and inputs: how well conditioned each compared tensor is.
    m64 = copy.deepcopy(model).double()
    in64 = [dict(x, image=x["image"].double()) for x in inputs]
    m64.normalizer = lambda x: (x - torch.tensor(PIXEL_MEAN, dtype=torch.float64).view(3, 1, 1)) / torch.tensor(PIXEL_STD, dtype=torch.float64).view(3, 1, 1)
    # PositionEmbeddingSine computes in float32 (cumsum dtype): its output is cast to float64.
    m64.position_embedding.register_forward_hook(lambda m, a, o: o.double())
    torch.set_default_dtype(torch.float64)  # the decoder's zero content queries (torch.zeros)
    f64 = {"eval": outputs_of(run(m64, in64, train=False), "eval"), "masked": outputs_of(run(m64, in64, train=True), "masked")}
    loss64, grads64 = grad_run(m64, in64, up_logits.double(), up_boxes.double())
    torch.set_default_dtype(torch.float32)
    f64["grad"] = OrderedDict([("grad/loss", loss64.reshape(())), ("grad/norms", torch.stack([grads64[n].norm() for n in names]))])
    # Per parameter: how well float32 reproduces float64 (full gradient and norm), the tolerance that gives.
    norms64 = f64["grad"]["grad/norms"]
    zero = [n for i, n in enumerate(names) if float(norms64[i]) < GRAD_ZERO_NORM]
    grad_rtol, cond = {}, {}
    for i, n in enumerate(names):
        if n in zero:
            continue
        cond[n] = max(rel_diff(grads[n], grads64[n]), abs(float(tensors["grad/norms"][i]) - float(norms64[i])) / float(norms64[i]))
        if cond[n] * GRAD_RTOL_MARGIN > 1e-4:
            grad_rtol[n] = round_up_125(cond[n] * GRAD_RTOL_MARGIN)
        if grads[n].numel() <= 1024 or n in GRAD_FULL:
            tensors[f"grad/param/{n}"] = grads[n]
            f64["grad"][f"grad/param/{n}"] = grads64[n]
    ref64 = {k: v for part in f64.values() for k, v in part.items()}
    conditioning = {k: rel_diff(v, ref64[k]) for k, v in tensors.items() if k in ref64 and v.dtype == torch.float32}
    conditioning["grad (worst parameter with rtol 1e-4: full gradient or norm)"] = max(v for n, v in cond.items() if n not in grad_rtol)

    state = model.state_dict()
    config = {
        "embed": EMBED, "heads": HEADS, "ffn": FFN, "enc_layers": ENC_LAYERS, "dec_layers": DEC_LAYERS,
        "num_classes": NUM_CLASSES, "num_queries": NUM_QUERIES, "modulate_hw_attn": True, "num_patterns": 0,
        "activation": "PReLU (one per FFN)", "attn_dropout": 0.0, "ffn_dropout": 0.0,
        "decoder_post_norm": True, "encoder_post_norm": False,
        "backbone": {"type": "detectron2 ResNet", "stem": "BasicStem(3, %d, norm=GN)" % STEM,
                     "res2": "2 x BasicBlock(%d -> %d, stride 1, norm=GN)" % (STEM, RES2), "norm": "GN (GroupNorm(32, C))",
                     "out_features": ["res2"], "freeze_at": 0, "stride": 4},
        "in_features": ["res2"], "in_channels": RES2,
        "pos_embed": POS,
        "decoder_sine_num_pos_feats": EMBED // 2,
        "pixel_mean": PIXEL_MEAN, "pixel_std": PIXEL_STD,
        "image_hw": [list(x) for x in IMAGE_HW], "padded_hw": [H, W],
        "images": "raw RGB uniform 0..255, normalised by the model ((x - mean) / std), zero-padded bottom/right by ImageList",
        "eval": "model.eval(): all-zero padding mask (detrex), decoder cross-attention without key_padding_mask",
        "masked": "model.train() forward (dropout 0): the batch's padding mask, interpolated (nearest) to the feature map; criterion stubbed",
        "seed": SEED,
        "weights": "every state-dict entry random (uniform, variance 1/fan_in for weights; biases +-0.2; norm gamma 0.7..1.3; PReLU 0.1..0.4; anchor centres logit(U(0.15,0.85)), sizes logit(U(0.08,0.45)); class_embed.bias -3..-1); see dab_detr_tiny.pth",
        "state_dict_entries": len(state),
        "grad": "masked (train-mode) forward; loss = sum(all_layers/pred_logits * grad/upstream_logits) + "
                "sum(all_layers/pred_boxes * grad/upstream_boxes); grad/norms[i] = L2 norm of the gradient of "
                "grad_param_names[i] (named_parameters() order: tied bbox_embed once, as transformer.decoder.bbox_embed.*); "
                "grad/param/<name> = full gradient (torch layout) of every parameter of <= 1024 elements and of grad_full",
        "grad_param_names": names,
        "grad_full": GRAD_FULL,
        "grad_rtol_default": 1e-4,
        "grad_rtol": grad_rtol,
        "grad_zero": zero,
        "grad_zero_note": "zero in exact arithmetic (float64 norm < 1e-12): not stored; float32 PyTorch gives norms up to %.1e" % max(float(tensors["grad/norms"][names.index(n)]) for n in zero),
        "float64_rel_diff": conditioning,
    }
    meta = OrderedDict([
        ("fixture", args.name),
        ("description", "Tiny DAB-DETR (detrex projects/dab_detr) on a GN ResNet-18-style res2 backbone: inputs, eval-mode "
                        "and masked (train-mode, dropout 0) forward outputs and intermediates of a 2-image padded batch. "
                        "Weights: dab_detr_tiny.pth (detrex state-dict names)."),
        ("config", json.dumps(config)),
        ("source_commits", json.dumps({"detrex": DETREX_COMMIT, "detectron2": DETECTRON2_COMMIT})),
        ("source_files", json.dumps(["projects/dab_detr/modeling/dab_detr.py", "projects/dab_detr/modeling/dab_transformer.py",
                                     "projects/dab_detr/configs/models/dab_detr_r50.py", "detrex/layers/*",
                                     "detectron2/modeling/backbone/resnet.py", "tools/parity/dab_detr_fixture.py (generator)"])),
        ("versions", json.dumps({"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__, "device": "cpu"})),
        ("layout", "row-major (C order), little-endian; NCHW for images/feature maps; tokens [B,N,C]; per-layer stacks [L,B,Q,...]; bool tensors stored as I64 0/1"),
    ])
    os.makedirs(args.out, exist_ok=True)
    pth = os.path.join(args.out, f"{args.name}.pth")
    torch.save(state, pth)
    st = os.path.join(args.out, f"{args.name}.safetensors")
    write_safetensors(st, tensors, meta)
    print(f"wrote {pth} ({os.path.getsize(pth)} bytes, {len(state)} entries) and {st} ({os.path.getsize(st)} bytes)")
    for k, v in tensors.items():
        extra = f"  f64 rel {conditioning[k]:.1e}" if k in conditioning else ""
        print(f"  {k:40s} {str(list(v.shape)):20s} max|x| {float(v.double().abs().max()):.4g}{extra}")


if __name__ == "__main__":
    main()
