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
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "bunnybook.asgi:application"]
