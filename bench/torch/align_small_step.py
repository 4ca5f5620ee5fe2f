#!/usr/bin/env python3
"""One training iteration of the small Align-DETR config in PyTorch, built from the upstream code.

Mirrors projects/align-detr/configs/aligndetr_small_mnist.ts (see bench/torch/README.md) with
IDEA-Research/detrex `projects/align_detr` (model, transformer, criterion, matcher) and
facebookresearch/detectron2 (ResNet), imported in place from the two checkouts given on the command
line. Times what bench/train_step.ts times: forward + weighted losses + backward + gradient clipping
(max_norm 0.1, L2) + AdamW step, the batch being made beforehand (detrex tools/train_net.py
`Trainer.run_step`, without AMP).

  /usr/bin/python3 bench/torch/align_small_step.py --detrex /tmp/upstream/detrex \
      --detectron2 /tmp/upstream/detectron2 --threads 1 --iters 5 --warmup 1
"""
import argparse
import functools
import os
import statistics
import sys
import time
import warnings

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--detrex", required=True, help="detrex checkout (has detrex/ and projects/align_detr/)")
p.add_argument("--detectron2", required=True, help="detectron2 checkout (has detectron2/)")
p.add_argument("--threads", type=int, default=1, help="intra-op threads (torch, OpenMP, OpenBLAS)")
p.add_argument("--iters", type=int, default=3, help="timed iterations (median reported)")
p.add_argument("--warmup", type=int, default=1, help="untimed iterations first")
p.add_argument("--batch", type=int, default=4)
p.add_argument("--size", type=int, default=128)
p.add_argument("--seed", type=int, default=42)
args = p.parse_args()
# Thread pools read these when torch / OpenBLAS load: set them before importing torch.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)
warnings.filterwarnings("ignore", message="torch.meshgrid")  # upstream meshgrid without indexing=


# Shims: tools/parity/upstream_shims.py (only modules this CPU training path never calls).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "parity"))
from upstream_shims import install_detrex_shims  # noqa: E402

install_detrex_shims(os.path.abspath(args.detrex), os.path.abspath(args.detectron2))

from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, ResNet  # noqa: E402
from detectron2.structures import Boxes, Instances  # noqa: E402
from detrex.layers import PositionEmbeddingSine, ShapeSpec  # noqa: E402
from detrex.modeling.neck import ChannelMapper  # noqa: E402
from projects.align_detr.modeling import (  # noqa: E402
    AlignDETR, AlignDETRCriterion, MixedMatcher, Transformer, TransformerDecoder, TransformerEncoder)
from projects.align_detr.modeling import transformer as align_transformer  # noqa: E402

# ------------------------------------------------------------------------------------------------
# The model: projects/align_detr/configs/models/aligndetr_r50.py with the k=2 values of
# aligndetr_k=2_r50_4scale_12ep.py, shrunk as configs/common/small_mnist.ts shrinkDeformableDetr.
EMBED, HEADS, FFN, ENC_LAYERS, DEC_LAYERS, LEVELS = 128, 4, 512, 2, 3, 4
NUM_CLASSES, NUM_QUERIES, DN_NUMBER = 10, 30, 10

# The decoder calls get_sine_pos_embed with its default 128 features per coordinate, which fits
# ref_point_head's 2 * embed_dim input only at embed_dim 256 (transformer.py TransformerDecoder.forward).
# Ours uses embed_dim / 2 (packages/transformers/src/dino/dino_decoder.ts): the one change to upstream.
align_transformer.get_sine_pos_embed = functools.partial(
    align_transformer.get_sine_pos_embed, num_pos_feats=EMBED // 2)


def small_resnet18():
    """detectron2 R18 with GN, 32-channel stem and res2 (res3/4/5: 64/128/256), freeze_at 0.

    detectron2's build_resnet_backbone asserts RES2_OUT_CHANNELS == 64 for R18, so its loop is
    written out here (detectron2/modeling/backbone/resnet.py build_resnet_backbone).
    """
    stem = BasicStem(in_channels=3, out_channels=32, norm="GN")
    stages, in_ch, out_ch = [], 32, 32
    for idx in range(4):  # res2..res5, 2 BasicBlocks each; first block strided from res3 on
        stages.append(ResNet.make_stage(BasicBlock, 2, in_channels=in_ch, out_channels=out_ch,
                                        stride_per_block=[1 if idx == 0 else 2, 1], norm="GN"))
        in_ch, out_ch = out_ch, out_ch * 2
    return ResNet(stem, stages, out_features=["res3", "res4", "res5"], freeze_at=0)


def build_model():
    base = {"loss_class": 1, "loss_bbox": 5.0, "loss_giou": 2.0,
            "loss_class_dn": 1, "loss_bbox_dn": 5.0, "loss_giou_dn": 2.0}
    weight_dict = dict(base)  # aligndetr_r50.py: `_enc` and `_0.._{L-2}` copies of every key
    weight_dict.update({k + "_enc": v for k, v in base.items()})
    for i in range(DEC_LAYERS - 1):
        weight_dict.update({k + f"_{i}": v for k, v in base.items()})
    return AlignDETR(
        backbone=small_resnet18(),
        position_embedding=PositionEmbeddingSine(num_pos_feats=EMBED // 2, temperature=10000,
                                                 normalize=True, offset=-0.5),
        neck=ChannelMapper(
            input_shapes={"res3": ShapeSpec(channels=64), "res4": ShapeSpec(channels=128),
                          "res5": ShapeSpec(channels=256)},
            in_features=["res3", "res4", "res5"], out_channels=EMBED, num_outs=LEVELS,
            kernel_size=1, norm_layer=nn.GroupNorm(num_groups=32, num_channels=EMBED)),
        transformer=Transformer(
            encoder=TransformerEncoder(embed_dim=EMBED, num_heads=HEADS, feedforward_dim=FFN,
                                       attn_dropout=0.0, ffn_dropout=0.0, num_layers=ENC_LAYERS,
                                       post_norm=False, num_feature_levels=LEVELS),
            decoder=TransformerDecoder(embed_dim=EMBED, num_heads=HEADS, feedforward_dim=FFN,
                                       attn_dropout=0.0, ffn_dropout=0.0, num_layers=DEC_LAYERS,
                                       return_intermediate=True, num_feature_levels=LEVELS,
                                       look_forward_twice=True),
            num_feature_levels=LEVELS, two_stage_num_proposals=NUM_QUERIES),
        embed_dim=EMBED, num_classes=NUM_CLASSES, num_queries=NUM_QUERIES, aux_loss=True,
        criterion=AlignDETRCriterion(
            num_classes=NUM_CLASSES,
            matcher=MixedMatcher(cost_class=2.0, cost_bbox=5.0, cost_giou=2.0,
                                 cost_class_type="focal_loss_cost", alpha=0.25, gamma=2.0),
            weight_dict=weight_dict,
            match_num=[2] * DEC_LAYERS + [1],  # [encoder, decoder 0, 1, last] = [2, 2, 2, 1]
            alpha=0.25, gamma=2.0, tau=1.5, two_stage_binary_cls=False),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375],
        select_box_nums_for_evaluation=100, device="cpu", dn_number=DN_NUMBER,
        label_noise_ratio=0.5, box_noise_scale=1.0, prior_init=0.01)


def adamw(model, lr=2e-4, weight_decay=1e-4):
    """detrex configs/common/optim.py AdamW over detectron2 get_default_optimizer_params
    (detectron2/solver/build.py) with weight_decay_norm 0: no decay on norm-layer parameters."""
    norm_types = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm,
                  nn.LayerNorm, nn.LocalResponseNorm)
    decay, no_decay, seen = [], [], set()
    for m in model.modules():
        for prm in m.parameters(recurse=False):
            if prm.requires_grad and prm not in seen:
                seen.add(prm)
                (no_decay if isinstance(m, norm_types) else decay).append(prm)
    return torch.optim.AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)


def synthetic_batch(gen, b, size):
    """bench/common.ts syntheticBatch: N(0, 1) images after normalisation, 2-6 boxes per image with
    cx, cy ~ U(0.2, 0.8), w, h ~ U(0.05, 0.3), 10 classes, no padding (detectron2 input dicts)."""
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    batch = []
    for _ in range(b):
        n = int(torch.randint(2, 7, (1,), generator=gen))
        cxcy = 0.2 + 0.6 * torch.rand(n, 2, generator=gen)
        wh = 0.05 + 0.25 * torch.rand(n, 2, generator=gen)
        inst = Instances((size, size))
        inst.gt_boxes = Boxes(torch.cat([cxcy - wh / 2, cxcy + wh / 2], 1) * size)
        inst.gt_classes = torch.randint(0, NUM_CLASSES, (n,), generator=gen)
        image = torch.randn(3, size, size, generator=gen) * std + mean
        batch.append({"image": image, "height": size, "width": size, "instances": inst})
    return batch


def train_step(model, optimizer, batch):
    """detrex tools/train_net.py Trainer.run_step (no AMP), split into phases."""
    t0 = time.perf_counter()
    loss_dict = model(batch)  # weighted by the criterion's weight_dict inside AlignDETR.forward
    losses = sum(loss_dict.values())
    t1 = time.perf_counter()
    optimizer.zero_grad()
    losses.backward()
    t2 = time.perf_counter()
    params = [q for q in model.parameters() if q.requires_grad and q.grad is not None]
    torch.nn.utils.clip_grad_norm_(parameters=params, max_norm=0.1, norm_type=2)
    optimizer.step()
    t3 = time.perf_counter()
    return {"fwd": t1 - t0, "bwd": t2 - t1, "opt": t3 - t2, "total": t3 - t0,
            "loss": float(losses.detach())}


def main():
    torch.manual_seed(args.seed)
    model = build_model()
    model.train()
    optimizer = adamw(model)
    n_params = sum(q.numel() for q in model.parameters())
    n_train = sum(q.numel() for q in model.parameters() if q.requires_grad)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"load avg {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"AlignDETR (upstream detrex): {n_params:,} parameters "
          f"({n_train:,} trainable); synthetic batch {args.batch} x {args.size}x{args.size}")
    gen = torch.Generator().manual_seed(7)
    batches = [synthetic_batch(gen, args.batch, args.size) for _ in range(args.warmup + args.iters)]
    for i in range(args.warmup):
        s = train_step(model, optimizer, batches[i])
        print(f"warm-up step {i}: wall {s['total']:.2f} s  loss {s['loss']:.3f}")
    samples = []
    for i in range(args.iters):
        c0 = time.process_time()
        s = train_step(model, optimizer, batches[args.warmup + i])
        s["cpu"] = time.process_time() - c0
        samples.append(s)
        print(f"  #{i}: wall {s['total']:.2f} s  cpu {s['cpu']:.2f} s  (forward+loss {s['fwd']:.2f}, "
              f"backward {s['bwd']:.2f}, clip+adamw {s['opt']:.3f})  loss {s['loss']:.3f}")
    med = {k: statistics.median(s[k] for s in samples) for k in ("total", "cpu", "fwd", "bwd", "opt")}
    print(f"s/iter: wall {med['total']:.3f}  cpu {med['cpu']:.3f}  forward+loss {med['fwd']:.3f}  "
          f"backward {med['bwd']:.3f}  clip+adamw {med['opt']:.3f}  "
          f"(median of {len(samples)}; torch {args.threads}t)")


if __name__ == "__main__":
    main()
