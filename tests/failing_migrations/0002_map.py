import importlib

Migration = importlib.import_module("layers.migrations.0002_map").Migration
