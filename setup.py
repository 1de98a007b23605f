from setuptools import setup

# The repository keeps the engine (solrsync/), the pipelines (pipelines/) and the Django app
# (contrib/django/) apart; installed, they are one package: solrsync, solrsync.pipelines,
# solrsync.contrib.django (the engine itself never imports Django).
setup(
    name="solrsync",
    version="0.1.0",
    description="Keep an Apache Solr index in step with a Django application's data, through huey.",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=["solrsync", "solrsync.testing", "solrsync.testing.emulator", "solrsync.pipelines", "solrsync.contrib",
              "solrsync.contrib.django", "solrsync.contrib.django.migrations",
              "solrsync.contrib.django.management", "solrsync.contrib.django.management.commands"],
    package_dir={"solrsync.pipelines": "pipelines", "solrsync.contrib": "contrib",
                 "solrsync.contrib.django": "contrib/django"},
    package_data={"solrsync": ["configsets/*/conf/*"],
                  "solrsync.contrib.django": ["templates/admin/solrsync/failure/*.html"]},
    install_requires=["huey>=2.5", "pysolr>=3.9", "requests>=2.20", "orjson>=3.6", "prometheus_client>=0.17"],
    extras_require={
        "django": ["django>=4.2"],
        "redis": ["redis>=4"],
        "postgres": ["psycopg[binary]>=3.1"],
        "progress": ["tqdm>=4.60"],
        # the Solr emulator's stemmers (PorterStem/SnowballPorter filters) for users' own tests
        "testing": ["snowballstemmer>=2"],
        "dev": ["django>=4.2", "redis>=4", "psycopg[binary]>=3.1", "tqdm>=4.60", "pytest>=7", "snowballstemmer>=2",
                "hypothesis>=6", "pytest-timeout>=2", "selenium>=4.10",
                "django-taggit>=5", "django-polymorphic>=3.1"],
        # the SpatiaLite tests on a Python whose sqlite3 cannot load extensions (pyenv's default build):
        # install with --no-binary pysqlite3 so it links the system's libsqlite3 (needs libsqlite3-dev)
        "gis": ["pysqlite3>=0.5"],
    },
    entry_points={
        "console_scripts": ["solrsync = solrsync.cli:main_entry"],
        "pytest11": ["solrsync = solrsync.testing.pytest_plugin"],
    },
    classifiers=["Framework :: Django", "Programming Language :: Python :: 3"],
)
