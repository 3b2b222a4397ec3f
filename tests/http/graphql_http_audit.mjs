// The GraphQL-over-HTTP audit suite of graphql-http (its auditServer) against a running
// server of the platform; prints the results as JSON on stdout, one object per audit:
// {id, name, status: "ok" | "notice" | "warn" | "error", reason, httpStatus}.
//
//   TIPGRAPH_AUDIT_TOKEN=tg_... node tests/http/graphql_http_audit.mjs http://127.0.0.1:8000/graphql
//
// Every request carries the bearer token, since /graphql answers nobody anonymous. Run by
// tests/http/test_graphql_over_http.py against pytest-django's live server.
import { auditServer } from "graphql-http";

const url = process.argv[2];
const token = process.env.TIPGRAPH_AUDIT_TOKEN;
if (!url || !token) {
  console.error("usage: TIPGRAPH_AUDIT_TOKEN=<token> node graphql_http_audit.mjs <url>");
  process.exit(2);
}

/** fetch, with the bearer token on every request. */
function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers || {});
  headers.set("Authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithToken });
const report = results.map((result) => ({
  id: result.id,
  name: result.name,
  status: result.status,
  reason: result.status === "ok" ? null : result.reason,
  httpStatus: result.status === "ok" ? null : result.response?.status ?? null,
}));
process.stdout.write(JSON.stringify(report, null, 2) + "\n");
