"""Data: the DataModules and datasets over crop manifests (frames, image lists, audio-visual
clips), the samplers and transforms, log-mel features, and the generated data
(:mod:`dfd.data.synthetic`)."""
