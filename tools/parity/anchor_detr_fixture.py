#!/usr/bin/env python3
"""Parity fixture for Anchor DETR: the official megvii-research/AnchorDETR code at a tiny size.

Builds the official `models/anchor_detr.py::AnchorDETR` (input_proj) with the official
`models/transformer.py::Transformer` (RCDA encoder / decoder from
`models/row_column_decoupled_attention.py`, learned anchor points x patterns, shared heads), fills
EVERY parameter with seeded random values (nothing left at upstream's zero / constant inits), runs it
in eval mode on a fixed backbone feature map with a padding mask, and writes

  fixtures/parity/anchor_detr_tiny.pth          real torch.save(state_dict) (official key names)
  fixtures/parity/anchor_detr_tiny.safetensors  inputs, outputs per decoder layer, intermediates,
                                                gradients of a fixed scalar (see README section 12)

The backbone is replaced by a stub returning the stored feature map; its mask goes through the
official BackboneBase mask downsampling (F.interpolate nearest, copied verbatim).

Changes to upstream, all sizing only (identical at the official d_model 256 / 91 classes):
  * pos2posemb2d / pos2posemb1d default widths 128 / 256 -> d_model / 2 / d_model (upstream's
    adapt_pos2d / adapt_pos1d take d_model inputs, so they only run at d_model 256 otherwise);
  * class_embed: the hard-coded 91 COCO ids -> NUM_CLASSES (one shared Linear, as upstream).

  /usr/bin/python3 tools/parity/anchor_detr_fixture.py --anchordetr /tmp/upstream/AnchorDETR \
      [--out fixtures/parity]
"""
import argparse
import collections
import json
import math
import os
import struct
import sys

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--anchordetr", required=True, help="megvii-research/AnchorDETR checkout (has models/, util/)")
p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "parity"))
p.add_argument("--commit", default="0b4358a1caacf4b311b8653312e145f1c94de3d3", help="upstream commit (metadata only)")
args = p.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)


# ------------------------------------------------------------------------------------------------
# Shims: only modules that this forward path never calls (torchvision, PIL, packaging are not
# installed here). util/misc.py only compares torchvision.__version__ at import time.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from upstream_shims import module, never_called  # noqa: E402


def _parse_version(s):
    return tuple(int(x) for x in s.split(".")[:3] if x.isdigit())


module("packaging")
module("packaging.version", parse=_parse_version)
sys.modules["packaging"].version = sys.modules["packaging.version"]
module("torchvision", __version__="0.14.1")
module("torchvision.ops")
# util/box_ops.py imports box_area (copied from torchvision/ops/boxes.py; the criterion only).
module("torchvision.ops.boxes", box_area=lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
module("torchvision.ops.misc")
module("torchvision.models")
module("torchvision.models._utils", IntermediateLayerGetter=never_called("IntermediateLayerGetter (backbone)"))
module("PIL")
module("PIL.Image")  # models/segmentation.py: panoptic post-processing only
sys.modules["torchvision"].ops = sys.modules["torchvision.ops"]
sys.modules["torchvision"].models = sys.modules["torchvision.models"]
sys.modules["PIL"].Image = sys.modules["PIL.Image"]

sys.path.insert(0, os.path.abspath(args.anchordetr))
from models import transformer as official_transformer  # noqa: E402
from models.anchor_detr import AnchorDETR  # noqa: E402
from models.row_column_decoupled_attention import MultiheadRCDA  # noqa: E402
from models.transformer import Transformer, mask2pos  # noqa: E402
from util.misc import NestedTensor  # noqa: E402

# ------------------------------------------------------------------------------------------------
# Sizes
D_MODEL, NHEAD, FFN = 64, 4, 64
ENC_LAYERS, DEC_LAYERS = 2, 2
NUM_POSITION, NUM_PATTERN = 5, 3
NUM_CLASSES = 10
IN_CHANNELS = 32
B, H, W = 2, 6, 8            # feature map (H < W: RCDA contracts W first, upstream's efficient branch)
STRIDE = 8
IMG_H, IMG_W = H * STRIDE, W * STRIDE
VALID_IMG = [(IMG_H, IMG_W), (30, 37)]   # image 1 -> feature valid 4 x 5 (nearest downsampling)
SEED = 20240611

# Sizing change (see docstring): the sine widths follow d_model.
official_transformer.pos2posemb2d.__defaults__ = (D_MODEL // 2, 10000)
official_transformer.pos2posemb1d.__defaults__ = (D_MODEL, 10000)


class FeatureStub(nn.Module):
    """Stands in for Joiner(Backbone): returns the stored feature map, with the official mask
    downsampling of models/backbone.py BackboneBase.forward (verbatim). No parameters."""

    def __init__(self, feature):
        super().__init__()
        self.feature = feature
        self.num_channels = [IN_CHANNELS]
        self.strides = [STRIDE]

    def forward(self, tensor_list):
        x = self.feature
        m = tensor_list.mask
        assert m is not None
        mask = F.interpolate(m[None].float(), size=x.shape[-2:]).to(torch.bool)[0]
        return [NestedTensor(x, mask)]


def build():
    torch.manual_seed(SEED)
    transformer = Transformer(
        d_model=D_MODEL, nhead=NHEAD, num_encoder_layers=ENC_LAYERS, num_decoder_layers=DEC_LAYERS,
        dim_feedforward=FFN, dropout=0.0, activation="relu", num_feature_levels=1,
        num_query_position=NUM_POSITION, num_query_pattern=NUM_PATTERN, spatial_prior="learned",
        attention_type="RCDA")
    # Sizing change (see docstring): NUM_CLASSES instead of 91; still one Linear shared by all layers.
    head = nn.Linear(D_MODEL, NUM_CLASSES)
    transformer.class_embed = nn.ModuleList([head for _ in range(DEC_LAYERS)])
    feature = torch.randn(B, IN_CHANNELS, H, W)
    model = AnchorDETR(FeatureStub(feature), transformer, num_feature_levels=1, aux_loss=True)
    return model, feature


def randomise(model):
    """Seeded values for every parameter (shared heads are filled once)."""
    g = torch.Generator().manual_seed(SEED + 1)

    def u(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    seen = set()
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if id(prm) in seen:
                continue
            seen.add(id(prm))
            leaf = name.split(".")[-1]
            if name == "transformer.position.weight":
                val = u(prm.shape, 0.05, 0.95)           # anchor points (x, y) in [0, 1]
            elif name == "transformer.pattern.weight":
                val = torch.randn(prm.shape, generator=g)
            elif ".norm" in name or name.startswith("input_proj.0.1."):   # LayerNorm / GroupNorm
                val = u(prm.shape, 0.7, 1.3) if leaf == "weight" else u(prm.shape, -0.2, 0.2)
            elif leaf.endswith("bias"):
                val = u(prm.shape, -0.2, 0.2)
            else:
                fan_in = prm.shape[1] * (prm[0, 0].numel() if prm.dim() > 2 else 1)
                bound = 1.5 / math.sqrt(fan_in)
                val = u(prm.shape, -bound, bound)
            prm.copy_(val)


# ------------------------------------------------------------------------------------------------
def capture(model):
    """Forward hooks on the official modules; returns the dict they fill."""
    rec = collections.defaultdict(list)
    tr = model.transformer
    model.input_proj[0].register_forward_hook(lambda m, i, o: rec["src_proj"].append(o))
    for i, layer in enumerate(tr.encoder_layers):
        layer.register_forward_hook(lambda m, inp, o, i=i: rec[f"enc{i}"].append(o))
    for i, layer in enumerate(tr.decoder_layers):
        layer.register_forward_hook(lambda m, inp, o, i=i: rec[f"dec{i}_in"].append(inp[0]) or rec[f"dec{i}"].append(o))
        layer.norm2.register_forward_hook(lambda m, inp, o, i=i: rec[f"dec{i}_self"].append(o))
        layer.cross_attn.register_forward_hook(lambda m, inp, o, i=i: rec[f"dec{i}_cross"].append(o[0]))
    tr.adapt_pos1d.register_forward_hook(lambda m, inp, o: rec["adapt_pos1d"].append(o))
    tr.adapt_pos2d.register_forward_hook(lambda m, inp, o: rec["adapt_pos2d"].append(o))
    tr.register_forward_pre_hook(lambda m, inp: rec["tr_in"].append(inp))
    return rec


def main():
    model, feature = build()
    randomise(model)
    model.eval()

    image_mask = torch.ones(B, IMG_H, IMG_W, dtype=torch.bool)
    for b, (vh, vw) in enumerate(VALID_IMG):
        image_mask[b, :vh, :vw] = False
    images = torch.zeros(B, 3, IMG_H, IMG_W)   # never read (the stub returns `feature`)

    rec = capture(model)
    feature.requires_grad_(True)
    out = model(NestedTensor(images, image_mask))
    tr = model.transformer
    logits = torch.stack([a["pred_logits"] for a in out["aux_outputs"]] + [out["pred_logits"]])
    boxes = torch.stack([a["pred_boxes"] for a in out["aux_outputs"]] + [out["pred_boxes"]])

    # Gradients of a fixed scalar: sum over layers of <logits, G1> + <boxes, G2>.
    g = torch.Generator().manual_seed(SEED + 2)
    up_logits = torch.randn(logits.shape, generator=g)
    up_boxes = torch.randn(boxes.shape, generator=g)
    scalar = (logits * up_logits).sum() + (boxes * up_boxes).sum()
    params = collections.OrderedDict((n, p_) for n, p_ in model.named_parameters())  # tied listed once
    grads = torch.autograd.grad(scalar, [feature] + list(params.values()))

    srcs, masks = rec["tr_in"][0]
    fmask = masks[-1]
    pos_col, pos_row = mask2pos(fmask)
    n_q = NUM_PATTERN * NUM_POSITION
    ref = tr.position.weight.unsqueeze(0).repeat(B, NUM_PATTERN, 1)

    # Standalone RCDA with H > W (the other contraction order) and a padding mask: decoder layer 0's
    # cross_attn weights, random inputs. Output transposed to [B, Nq, E].
    rh, rw, rq = 5, 3, 4
    rmask = torch.zeros(B, rh, rw, dtype=torch.bool)
    rmask[1, 3:, :] = True
    rmask[1, :, 2:] = True
    gi = torch.Generator().manual_seed(SEED + 3)
    rcda_in = {k: torch.randn(shape, generator=gi) for k, shape in [
        ("query_row", (B, rq, D_MODEL)), ("query_col", (B, rq, D_MODEL)), ("key_row", (B, rh, rw, D_MODEL)),
        ("key_col", (B, rh, rw, D_MODEL)), ("value", (B, rh, rw, D_MODEL))]}
    with torch.no_grad():
        rcda_out = tr.decoder_layers[0].cross_attn(rcda_in["query_row"], rcda_in["query_col"], rcda_in["key_row"],
                                                   rcda_in["key_col"], rcda_in["value"], key_padding_mask=rmask)[0]
        rcda_out_nomask = tr.decoder_layers[0].cross_attn(rcda_in["query_row"], rcda_in["query_col"], rcda_in["key_row"],
                                                          rcda_in["key_col"], rcda_in["value"])[0]

    def t(x):
        x = x.detach()
        return x.to(torch.int64) if x.dtype == torch.bool else x.float().contiguous()

    tensors = collections.OrderedDict()
    tensors["feature"] = t(feature)                                  # [B, C_in, H, W]
    tensors["image_mask"] = t(image_mask)                            # [B, IMG_H, IMG_W]
    tensors["pred_logits"] = t(logits)                               # [L, B, Q, classes]
    tensors["pred_boxes"] = t(boxes)                                 # [L, B, Q, 4]
    tensors["inter/feature_mask"] = t(fmask)                         # [B, H, W]
    tensors["inter/src_proj"] = t(rec["src_proj"][0])                # [B, d, H, W]
    tensors["inter/pos_row"] = t(pos_row)                            # [B, W]
    tensors["inter/pos_col"] = t(pos_col)                            # [B, H]
    tensors["inter/posemb_row"] = t(rec["adapt_pos1d"][0])           # [B, W, d]
    tensors["inter/posemb_col"] = t(rec["adapt_pos1d"][1])           # [B, H, d]
    for i in range(ENC_LAYERS):
        tensors[f"inter/encoder_layer{i}"] = t(rec[f"enc{i}"][0])    # [B, d, H, W]
    tensors["inter/reference_points"] = t(ref)                       # [B, Q, 2]
    tensors["inter/tgt"] = t(rec["dec0_in"][0])                      # [B, Q, d]
    tensors["inter/query_pos"] = t(rec["adapt_pos2d"][0])            # [B, Q, d]
    tensors["inter/query_pos_x"] = t(rec["adapt_pos1d"][2])          # [B, Q, d]
    tensors["inter/query_pos_y"] = t(rec["adapt_pos1d"][3])          # [B, Q, d]
    for i in range(DEC_LAYERS):
        tensors[f"inter/decoder_layer{i}_self"] = t(rec[f"dec{i}_self"][0])               # after norm2
        tensors[f"inter/decoder_layer{i}_cross"] = t(rec[f"dec{i}_cross"][0].transpose(0, 1))  # RCDA out [B,Q,d]
        tensors[f"inter/decoder_layer{i}"] = t(rec[f"dec{i}"][0])                         # layer output
    for k, v in rcda_in.items():
        tensors[f"rcda/{k}"] = t(v)
    tensors["rcda/key_padding_mask"] = t(rmask)
    tensors["rcda/output"] = t(rcda_out.transpose(0, 1))
    tensors["rcda/output_nomask"] = t(rcda_out_nomask.transpose(0, 1))
    tensors["grad/upstream_logits"] = t(up_logits)
    tensors["grad/upstream_boxes"] = t(up_boxes)
    tensors["grad/scalar"] = t(scalar)
    tensors["grad/feature"] = t(grads[0])
    for (n, _), gr in zip(params.items(), grads[1:]):
        tensors[f"grad/param/{n}"] = t(gr)

    # Logit-scale sanity: nothing trivially constant.
    for k in ("pred_logits", "pred_boxes"):
        assert tensors[k].std() > 1e-2, k

    config = {
        "d_model": D_MODEL, "nhead": NHEAD, "dim_feedforward": FFN, "num_encoder_layers": ENC_LAYERS,
        "num_decoder_layers": DEC_LAYERS, "num_query_position": NUM_POSITION, "num_query_pattern": NUM_PATTERN,
        "num_queries": n_q, "num_classes": NUM_CLASSES, "in_channels": IN_CHANNELS, "dropout": 0.0,
        "spatial_prior": "learned", "attention_type": "RCDA", "num_feature_levels": 1, "aux_loss": True,
        "B": B, "H": H, "W": W, "stride": STRIDE, "image_hw": [IMG_H, IMG_W], "valid_image_hw": VALID_IMG,
        "valid_feature_hw": [[int((~fmask[b]).any(1).sum()), int((~fmask[b]).any(0).sum())] for b in range(B)],
        "pos2posemb2d_num_pos_feats": D_MODEL // 2, "pos2posemb1d_num_pos_feats": D_MODEL,
        "rcda_case": {"H": rh, "W": rw, "Nq": rq, "weights": "transformer.decoder_layers.0.cross_attn.*"},
        "grad_scalar": "sum(pred_logits * grad/upstream_logits) + sum(pred_boxes * grad/upstream_boxes), all layers",
        "seed": SEED,
    }
    meta = collections.OrderedDict([
        ("fixture", "anchor_detr_tiny"),
        ("description", "Official AnchorDETR (input_proj + RCDA Transformer + shared heads) at a tiny size, eval mode, "
                        "random weights (anchor_detr_tiny.pth), on a fixed backbone feature map with a padding mask."),
        ("config", json.dumps(config)),
        ("source_commits", json.dumps({"megvii-research/AnchorDETR": args.commit})),
        ("source_files", json.dumps(["models/anchor_detr.py", "models/transformer.py",
                                     "models/row_column_decoupled_attention.py", "models/backbone.py (mask interpolate)",
                                     "util/misc.py (NestedTensor, inverse_sigmoid)"])),
        ("versions", json.dumps({"torch": torch.__version__, "numpy": np.__version__, "python": sys.version.split()[0]})),
        ("layout", "row-major; feature maps NCHW; sequences [B, N, C]; pred_* stacked per decoder layer [L, B, Q, *]; "
                   "masks I64 1 = padding; grad/param/<official state-dict key> in torch layout"),
    ])

    os.makedirs(args.out, exist_ok=True)
    sd = model.state_dict()
    torch.save(sd, os.path.join(args.out, "anchor_detr_tiny.pth"))
    write_safetensors(os.path.join(args.out, "anchor_detr_tiny.safetensors"), tensors, meta)
    print(f"state dict: {len(sd)} entries, {sum(v.numel() for v in params.values())} parameters")
    print(f"safetensors: {len(tensors)} tensors")
    for k in ("pred_logits", "pred_boxes"):
        print(k, tuple(tensors[k].shape), float(tensors[k].abs().max()))


def write_safetensors(path, tensors, metadata):
    """safetensors with the header laid out as packages/core serializeSafetensors writes it (compact
    JSON, metadata first, tensors in insertion order, spaces to a multiple of 8), so the file
    round-trips byte-identically through our reader / writer."""
    codes = {torch.float32: "F32", torch.int64: "I64", torch.float64: "F64"}
    parts = ['"__metadata__":{' + ",".join(json.dumps(k) + ":" + json.dumps(v) for k, v in metadata.items()) + "}"]
    blobs, offset = [], 0
    for name, x in tensors.items():
        blob = x.contiguous().numpy().astype(x.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        shape = ",".join(str(s) for s in x.shape)
        parts.append(f'{json.dumps(name)}:{{"dtype":"{codes[x.dtype]}","shape":[{shape}],'
                     f'"data_offsets":[{offset},{offset + len(blob)}]}}')
        blobs.append(blob)
        offset += len(blob)
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    pad = (-len(header)) % 8
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header) + pad))
        f.write(header + b" " * pad)
        for blob in blobs:
            f.write(blob)


if __name__ == "__main__":
    main()
