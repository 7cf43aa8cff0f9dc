"""Operator tools for real tenants and real AWS accounts: `idn-triggers` (tenant_cli) and
`idn-triggers-ops` (ops)."""
