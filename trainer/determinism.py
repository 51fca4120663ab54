"""`trainer.deterministic=true`: torch's deterministic algorithms for the span of a run.

torch raises a RuntimeError from any op that has no deterministic implementation
on the device in use; that becomes one line naming the op, because it is a
setting the user chose and can change, not a bug.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from lossbench.errors import UserError

# cuBLAS is deterministic only with a fixed workspace (CUDA >= 10.2); torch's
# reproducibility notes give these two values. It must be set before cuBLAS starts.
CUBLAS_WORKSPACES = (":4096:8", ":16:8")
_NO_DETERMINISTIC = re.compile(r"^(.*?) does not have a deterministic implementation")


@contextmanager
def enforced(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    if os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in CUBLAS_WORKSPACES:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACES[0]
    was_on = torch.are_deterministic_algorithms_enabled()
    cudnn_benchmark = torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False  # benchmarking picks algorithms by timing
    try:
        yield
    except RuntimeError as err:
        if found := _NO_DETERMINISTIC.search(str(err)):
            raise UserError(
                f"trainer.deterministic=true, but {found.group(1)} has no deterministic "
                f"implementation in torch {torch.__version__}; run with "
                "trainer.deterministic=false, or pick a model or loss that avoids it."
            ) from None
        raise
    finally:
        torch.use_deterministic_algorithms(was_on)
        torch.backends.cudnn.benchmark = cudnn_benchmark
