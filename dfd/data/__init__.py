"""Data: raw layouts → face crops and audio → manifests → datasets and DataModules."""
