"""A migration that rebuilds the layers table (SQLite does, to alter a column) and then fails."""
from django.db import migrations, models


def fail(apps, schema_editor):
    raise RuntimeError("this migration fails")


class Migration(migrations.Migration):

    dependencies = [("layers", "0002_map")]

    operations = [
        migrations.AlterField(model_name="layer", name="name", field=models.CharField(max_length=200)),
        migrations.RunPython(fail),
    ]
