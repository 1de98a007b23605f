from django.apps import AppConfig


class FieldTypesConfig(AppConfig):
    name = "fieldtypes"
    default_auto_field = "django.db.models.BigAutoField"
