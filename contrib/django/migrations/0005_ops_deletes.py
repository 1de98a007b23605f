from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('solrsync', '0004_reindex_in_the_database'),
    ]

    operations = [
        migrations.CreateModel(
            name='Deleted',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('pipeline', models.CharField(max_length=64)),
                ('doc_id', models.CharField(max_length=255)),
                ('version', models.BigIntegerField()),
            ],
            options={
                'indexes': [models.Index(fields=['pipeline', 'version'], name='solrsync_deleted_version')],
            },
        ),
    ]
