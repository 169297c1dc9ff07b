"""The first step of benchmarks/gpu_check.sh: stop the run at once, with the reason, if it would test nothing.

NVRTC is checked first (it compiles every fastnn kernel), then whether the cupy engine can
run. Exit status 1 with a line starting "PREFLIGHT FAILED" when either is missing.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    try:
        from cupy_backends.cuda.libs import nvrtc

        print("NVRTC %d.%d found" % nvrtc.getVersion())
    except Exception as error:
        return f"PREFLIGHT FAILED: NVRTC, which compiles fastnn's kernels, was not found: {type(error).__name__}: {error}"
    from fastnn.backends.cupy_engine import CupyEngine

    reason = CupyEngine.unavailable_reason()
    if reason is not None:
        return f"PREFLIGHT FAILED: the cupy engine cannot run here, so every GPU test would skip: {reason}"
    import fastnn
    from fastnn.kernels import cublas

    print("cupy engine available on", fastnn.get_engine("cupy").device)
    print("direct cuBLAS for captured steps:", cublas.library_status())
    return 0


if __name__ == "__main__":
    sys.exit(main())
