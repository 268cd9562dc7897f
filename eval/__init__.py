"""edgecv.eval — evaluation: datasets, metrics, speed/accuracy sweeps, plots and the planner's check.

Torch-free like the runtime, which it drives, but not part of what a device needs to run artifacts: the
runtime (``edgecv.runtime``) never imports it. Modules: ``propagate`` (key-frame policies: mIoU, speed-up,
plot), ``colorize`` (PSNR, ab error, temporal consistency, contact sheet), ``plan_check`` (run plans here and
compare with their predictions).
"""
