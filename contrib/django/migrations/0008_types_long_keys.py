"""Any key the user's tables hold fits the change log (issue 19): object_pk and doc_id become text.
A primary key over 64 characters or a document id over 255 made the trigger's insert fail with
"value too long", and the user's save with it. PostgreSQL (and any database that enforces a
varchar's length): ALTER ... TYPE text, binary coercible there -- no table rewrite, no index
rebuild. SQLite never enforced the lengths, and Django would rebuild its tables for the change,
dropping the index 0006 made in raw SQL: its schema stays as it is."""
from django.db import migrations, models

FIELDS = [("change", "object_pk", False), ("change", "doc_id", True), ("failure", "object_pk", False),
          ("failure", "doc_id", True), ("deleted", "doc_id", False)]


def _alter(apps, schema_editor, to_text):
    if schema_editor.connection.vendor == "sqlite":
        return
    for model_name, name, blank in FIELDS:
        model = apps.get_model("solrsync", model_name)
        text = models.TextField(blank=blank)
        text.set_attributes_from_name(name)
        text.model = model
        varchar = model._meta.get_field(name)
        schema_editor.alter_field(model, varchar, text) if to_text else schema_editor.alter_field(model, text, varchar)


class Migration(migrations.Migration):

    dependencies = [
        ('solrsync', '0006_claims_that_do_not_serialise'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(lambda apps, se: _alter(apps, se, True),
                                                      lambda apps, se: _alter(apps, se, False))],
            state_operations=[
                migrations.AlterField(model_name=model_name, name=name, field=models.TextField(blank=blank))
                for model_name, name, blank in FIELDS]),
    ]
