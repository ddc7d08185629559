"""The contracts every stage shares, with no dependency beyond torch: the refusals' base class
(:mod:`~dfd.core.errors`), what a network expects of its input (:mod:`~dfd.core.input_spec`) and
**the** reader of torch files (:mod:`~dfd.core.safe_load`)."""
