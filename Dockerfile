# One image for every Sandbank process; the command picks which one runs:
#   docker run sandbank python -m services.accounts
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY shared ./shared
COPY services ./services
COPY gateway ./gateway
# Not run in a container, but the installed `sandbank` command imports it.
COPY tools ./tools
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --no-create-home sandbank

USER sandbank
ENV HTTP_HOST=0.0.0.0 \
    SANDBANK_LOG_JSON=true
EXPOSE 8000 8001 8002 8003 8004

HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HTTP_PORT', '8000') + '/readyz', timeout=2)"]

CMD ["python", "-m", "gateway"]
