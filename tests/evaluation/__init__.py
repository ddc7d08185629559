"""Tests of dfd.evaluation."""
