import importlib

Migration = importlib.import_module("layers.migrations.0001_initial").Migration
