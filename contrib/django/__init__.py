"""solrsync for Django: ``INSTALLED_APPS += ["solrsync.contrib.django"]`` and a ``SOLRSYNC`` setting."""
