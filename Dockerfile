# judge_app's web app (`judge-app serve`), for docker-compose.yml: one image, any number of
# app containers against one PostgreSQL (JUDGE_APP_DB). Not built by this repository's tests
# (they need no docker daemon); docs/deployment.md says where it was built and started, and how.
# PYTHON_IMAGE: any Debian-based image with Python 3.11+ and pip on PATH; without Docker Hub,
# deploy/local-images/ builds one from Debian's packages.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/judge-app

# Editable install: the bundled demo tasks (tasks/) are read from beside the package.
COPY pyproject.toml README.md ./
COPY judge_app ./judge_app
COPY tasks ./tasks
COPY .streamlit ./.streamlit
RUN pip install -e . \
    && useradd --system --create-home --shell /usr/sbin/nologin judge \
    && mkdir -p db exports \
    && chown judge:judge db exports

USER judge
EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["judge-app", "serve", "--host", "0.0.0.0", "--port", "8501"]
