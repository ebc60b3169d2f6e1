# syntax=docker/dockerfile:1
# Build stage: install the application and its dependencies into a virtualenv.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/homeward
COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY db ./db
COPY jobs ./jobs
RUN /opt/homeward/bin/pip install .

# Runtime stage: no compilers, no source tree, a non-root user.
FROM python:3.12-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/homeward --create-home homeward
COPY --from=build /opt/homeward /opt/homeward
ENV PATH=/opt/homeward/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    HOMEWARD_DATA_DIR=/var/lib/homeward
USER homeward
WORKDIR /var/lib/homeward
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status != 200)"
# Containers run against a managed PostgreSQL: set DATABASE_URL and JWT_SECRET.
CMD ["homeward", "api"]
