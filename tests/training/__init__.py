"""Tests of dfd.training."""
