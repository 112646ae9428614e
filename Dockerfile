# The Bunnybook web and worker image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY . .
# pyproject.toml lists the dependencies; the code runs from /app.
RUN pip install . \
    && DEBUG=false SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && useradd --system --uid 1000 bunny && mkdir -p /app/var/media && chown -R bunny /app/var

USER bunny
EXPOSE 8000
# Pages by default; docker-compose.yml runs the same image as daphne for the sockets.
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "bunnybook.wsgi:application"]
