"""Django project and domain of the tip platform: models, services, no GraphQL."""
