"""Tests of dfd.core."""
