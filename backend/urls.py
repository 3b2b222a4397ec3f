"""URLs: /graphql (GraphiQL in development only), /accounts/ for browser sign-in, /admin/,
/dashboard/ (the analyst dashboard). /healthz and /readyz are answered before any of these, by
backend.health.HealthCheckMiddleware (first in settings.MIDDLEWARE); static files by
WhiteNoise."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from audit.views import export_csv
from backend.dashboard.views import dashboard
from schema import schema
from schema.view import StatisticsCsvView, TipGraphView

urlpatterns = [
    path(
        "graphql",
        TipGraphView.as_view(
            schema=schema,
            # Served only while settings.DEBUG is on, read at each request (not at import):
            # TipGraphView.render_graphql_ide answers 404 otherwise.
            graphql_ide="graphiql",
            multipart_uploads_enabled=True,
        ),
    ),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("dashboard/", dashboard, name="dashboard"),
    path("audit/export.csv", export_csv, name="audit-export"),
    path(
        "statistics/<str:field>.csv",
        StatisticsCsvView.as_view(schema=schema, graphql_ide=None),
        name="statistics-csv",
    ),
]
