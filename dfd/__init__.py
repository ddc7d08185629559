"""dfd: deepfake detection experiments."""
