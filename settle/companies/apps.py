from django.apps import AppConfig


class CompaniesConfig(AppConfig):
    name = "settle.companies"
    label = "companies"
