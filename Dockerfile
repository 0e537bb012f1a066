# The call center server. Settings: config/callcenter.yaml baked in, overridden by CALLCENTER__* variables.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY callcenter ./callcenter
COPY cti ./cti
COPY acd ./acd
COPY ivr ./ivr
COPY recordings ./recordings
COPY config ./config
RUN pip install --no-cache-dir . \
    && groupadd --gid 2000 ccrec \
    && useradd --system --uid 1000 --gid users --groups ccrec --home-dir /app callcenter \
    && install -d -o callcenter /app/var

USER callcenter
EXPOSE 8080 4573
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/api/health', timeout=2)" || exit 1
CMD ["callcenter", "serve"]
