"""Lightning callbacks: checkpointing with a stable ``best.ckpt`` (:mod:`~dfd.callbacks.checkpoint`),
threshold and temperature calibration (:mod:`~dfd.callbacks.calibration`), the test report
(:mod:`~dfd.callbacks.report`), the training figures and the dataset statistics."""
