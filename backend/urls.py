"""URLs: /graphql (GraphiQL in development only), /accounts/ for browser sign-in, /admin/,
/dashboard/ (the analyst dashboard), the CSV downloads (/audit/export.csv,
/statistics/<field>.csv, /disclosures/<record id>.csv). /healthz and /readyz are answered
before any of these, by backend.health.HealthCheckMiddleware (first in settings.MIDDLEWARE);
static files by WhiteNoise."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from audit.accounting import accounting_csv
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
    # A global id is base64 and may hold "/": the path converter takes it whole.
    path("disclosures/<path:record_id>.csv", accounting_csv, name="disclosure-accounting"),
    path(
        "statistics/<str:field>.csv",
        StatisticsCsvView.as_view(schema=schema, graphql_ide=None),
        name="statistics-csv",
    ),
]
