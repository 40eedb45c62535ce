# One image for every process type (web, worker, beat, release); heroku.yml names their commands.
# The base is a build argument so the image also builds from a Debian-packaged Python stand-in
# on machines that cannot reach Docker Hub (see tests/ops/test_container.py).
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the locked runtime requirements, nothing else ------------------
FROM ${BASE_IMAGE} AS build
# Only for machines whose TLS goes through a local CA: a path to a bundle mounted for the
# build. pip reads PIP_CERT from the environment; an ARG is never part of the image's env.
ARG PIP_CERT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv /venv
COPY requirements.lock /tmp/requirements.lock
# Every package, the transitive ones too, at its locked version and checked against its hashes.
# Then drop what the image never runs: imageio-ffmpeg's bundled static ffmpeg (165 MB; Debian's
# ffmpeg is on PATH and workers/ffmpeg.py prefers it), and pip itself.
RUN /venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock \
    && rm -f /venv/lib/python3*/site-packages/imageio_ffmpeg/binaries/ffmpeg-* \
    && /venv/bin/pip uninstall --yes pip setuptools

# --- final: Python, Debian's ffmpeg, the venv and the code; no compilers, no pip cache -------
FROM ${BASE_IMAGE}
# Debian's ffmpeg at one version, so every build transcodes alike. Debian drops a version from its
# mirrors when a point release or a security update replaces it: the build then fails here, and
# the new version is the one `apt-cache policy ffmpeg` names in the base image (docs/OPERATIONS.md).
ARG FFMPEG_VERSION=7:5.1.9-0+deb12u1
RUN apt-get update \
    && apt-get install -y --no-install-recommends "ffmpeg=${FFMPEG_VERSION}" \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /app --shell /usr/sbin/nologin practika

ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=practika_project.production \
    PORT=8000

COPY --from=build /venv /venv
WORKDIR /app
COPY . /app

# Static files are collected into the image, so dynos never write them. Production settings
# refuse to load without a SECRET_KEY; this throwaway one exists only for this RUN line.
# hadolint ignore=DL3064
ARG COLLECTSTATIC_SECRET_KEY=collectstatic-only-not-a-secret
RUN SECRET_KEY="$COLLECTSTATIC_SECRET_KEY" python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/.var \
    && chown practika:practika /app/.var

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/core/health/live/' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["gunicorn", "practika_project.wsgi", "-c", "gunicorn.conf.py"]
