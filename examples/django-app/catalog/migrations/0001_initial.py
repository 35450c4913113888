from django.db import migrations, models


def seed(apps, schema_editor):
    apps.get_model("catalog", "Product").objects.create(name="teapot")


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Product",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=200)),
            ],
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
