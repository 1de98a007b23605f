pytest_plugins = ["solrsync.testing.pytest_plugin"]
