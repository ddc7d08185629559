"""Tests of dfd.config."""
