from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("fieldtypes", "0001_initial")]
    operations = [migrations.CreateModel(name="LongKey", fields=[
        ("key", models.CharField(max_length=500, primary_key=True, serialize=False)),
        ("doc", models.TextField()),
        ("title", models.CharField(max_length=100)),
    ])]
