"""Usage of SSM parameters and Image Builder recipes (DescribeImageReferences)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0012_allowed_images"),
    ]

    operations = [
        migrations.AlterField(
            model_name="imageusage",
            name="usage_type",
            field=models.CharField(
                choices=[
                    ("instance", "Instance"),
                    ("launch_template", "Launch template"),
                    ("autoscaling_group", "Auto Scaling group"),
                    ("launch_configuration", "Launch configuration"),
                    ("ssm_parameter", "SSM parameter"),
                    ("image_recipe", "Image Builder image recipe"),
                    ("container_recipe", "Image Builder container recipe"),
                    ("other", "Other reference"),
                ],
                max_length=32,
            ),
        ),
    ]
