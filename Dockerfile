# bookworm pinned: the PostgreSQL apt repository line below names the Debian release.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /app
# pg_dump / pg_restore of the server's major version (docker-compose.yml: postgres:16) for
# `manage.py backup` and `restore`: Debian's own client is 15, and pg_dump refuses a newer server.
ARG PG_MAJOR=16
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update && apt-get install -y --no-install-recommends postgresql-client-${PG_MAJOR} \
    && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic never connects; the URL only keeps settings from starting an embedded PostgreSQL.
RUN DATABASE_URL=postgres://build@localhost/build DJANGO_SECRET_KEY=build \
    python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "pms_project.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
