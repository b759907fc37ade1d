"""Two training steps while an epoch-end checkpoint is written beside them, the writer thread at nice 0 against
nice 19 (what leuknet's checkpoint writer uses), alternating; then two steps alone (bf16, batch 128, LeukNet 224):

    python scripts/ab_checkpoint.py [PAIRS]   (default 4; about 3 minutes; writes a 1 GB file in /tmp)"""
import os, sys, tempfile, time; os.environ["TF_CPP_MIN_LOG_LEVEL"]="3"
import numpy as np
from leuknet.profiles import apply_profile, resolve_profile
from leuknet.bench import random_batch
from leuknet import models
from leuknet.matlab import trainingOptions
from leuknet.train import Trainer, TrainingInfo
from leuknet.run import write_checkpoint
CK = os.path.join(tempfile.gettempdir(), "leuknet-ab-checkpoint.npz")
pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
profile = resolve_profile("cpu", "bf16", 128, strategy="default"); apply_profile(profile)
x, y = random_batch(128, 224)
model = models.build("leuknet", num_classes=2, image_size=224)
trainer = Trainer(model, trainingOptions("adam", InitialLearnRate=1e-4), jit_solver=profile.xla_solver, jit_step=profile.xla_train_step)
step = lambda: float(trainer.train_step(x, y, 1e-4)[0])
step(); step()
from concurrent.futures import ThreadPoolExecutor
from leuknet.train import _lowest_priority  # what leuknet's checkpoint writer thread runs at
pools = {0: ThreadPoolExecutor(1), 19: ThreadPoolExecutor(1, initializer=_lowest_priority)}
res = {0: [], 19: []}
plain = []
for _ in range(pairs):
    for n in (0, 19):
        state = trainer.get_state(TrainingInfo(), {"iteration": 1})
        t = time.perf_counter()
        job = pools[n].submit(write_checkpoint, CK, state)
        step(); step()
        job.result()
        res[n].append(time.perf_counter() - t)
    t = time.perf_counter(); step(); step(); plain.append(time.perf_counter() - t)
r = [a / b for a, b in zip(res[0], res[19])]
print(f"two steps + checkpoint: nice 0 {np.median(res[0]):.2f} s, nice 19 {np.median(res[19]):.2f} s, ratio {np.median(r):.3f} ({min(r):.3f}-{max(r):.3f}); two steps alone {np.median(plain):.2f} s")
os.remove(CK)
