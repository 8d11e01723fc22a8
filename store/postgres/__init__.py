"""The PostgreSQL backend: an MLflow tracking database read directly with psycopg 3.

Nothing is imported here, so that recognising a URI (`connect.is_postgres_uri`) costs nothing at
start-up; psycopg itself is imported only when a PostgreSQL URI is opened (`connect.connect`).
"""
