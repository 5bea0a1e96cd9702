# Stand-in for python:3.11-slim-bookworm, from Debian's packages: Python 3.11 with pip in a
# venv that is first on PATH, so the project's Dockerfile runs unchanged on top of it.
ARG BASE_IMAGE=local/debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/python
ENV PATH=/opt/python/bin:$PATH LANG=C.UTF-8
