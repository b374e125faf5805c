"""An account id is exactly 12 ASCII digits: no other Unicode digits, no trailing newline."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0005_image_bulk_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="account",
            name="account_id",
            field=models.CharField(
                max_length=12,
                unique=True,
                validators=[
                    django.core.validators.RegexValidator(
                        "\\A[0-9]{12}\\Z",
                        "An AWS account id is exactly 12 digits.",
                        code="invalid_account",
                    )
                ],
            ),
        ),
    ]
