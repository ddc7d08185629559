"""Tests of dfd.artifacts."""
