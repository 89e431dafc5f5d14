FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic never connects; the URL only keeps settings from starting an embedded PostgreSQL.
RUN DATABASE_URL=postgres://build@localhost/build DJANGO_SECRET_KEY=build \
    python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "pms_project.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
