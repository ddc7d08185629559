"""Training a detector: ``dfd train``'s task (:mod:`~dfd.training.tasks`), which builds the data,
model, callbacks, loggers and trainer from the composed config and fits, selects and tests."""
