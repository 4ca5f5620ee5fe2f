"""Times pycocotools on a ground-truth / detections pair (used by bench/cocoeval.ts --pycocotools DIR).

    PYTHONPATH=.../cocoapi/PythonAPI python3 time_pycocotools.py GT.json DT.json

Prints one JSON line: seconds for COCO(gt), loadRes(dt), evaluate, accumulate, summarize, the CPU times of
loadRes and evaluate+accumulate, and the stats.
Only USES pycocotools; the numpy-2 compatibility names are the same as in test/fixtures/make_reference.py.
"""
import contextlib
import io
import json
import sys
import time
import types

import numpy as np

np.float = float
np.NPY_OWNDATA = 4
try:
    import matplotlib  # noqa: F401
except ImportError:
    for mod in ('matplotlib', 'matplotlib.pyplot', 'matplotlib.collections', 'matplotlib.patches'):
        sys.modules[mod] = types.ModuleType(mod)
    sys.modules['matplotlib.collections'].PatchCollection = None
    sys.modules['matplotlib.patches'].Polygon = None

from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402


def main(gt_path, dt_path):
    t = {}
    with contextlib.redirect_stdout(io.StringIO()):
        tic = time.perf_counter(); gt = COCO(gt_path); t['load_gt'] = time.perf_counter() - tic
        cpu = time.process_time()
        tic = time.perf_counter(); dt = gt.loadRes(dt_path); t['load_res'] = time.perf_counter() - tic
        t['cpu_load_res'] = time.process_time() - cpu
        E = COCOeval(gt, dt, 'bbox')
        cpu = time.process_time()
        tic = time.perf_counter(); E.evaluate(); t['evaluate'] = time.perf_counter() - tic
        tic = time.perf_counter(); E.accumulate(); t['accumulate'] = time.perf_counter() - tic
        t['cpu_evaluate_accumulate'] = time.process_time() - cpu
        tic = time.perf_counter(); E.summarize(); t['summarize'] = time.perf_counter() - tic
    t['stats'] = [float(x) for x in E.stats]
    print(json.dumps(t))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
