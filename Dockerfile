# The pipeline's one image: every part is an `iiot` command (simulate, stream, sink, db migrate,
# dashboards build, topics create), so deploy/compose (and any orchestrator) only picks the
# command. The build context is the repo root; .dockerignore lets in only what `pip install .`
# needs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Every dependency ships manylinux wheels for CPython 3.11, so no compiler is needed. The
# versions are constraints.txt's, the ones the tests ran with (`make lock` refreshes them),
# not whatever is newest on build day. The source only builds the wheel; it does not stay in
# the image. The simulator runs as pure Python here: its mypyc compilation is a
# `make install` step of the development machines (simulators/native.py), and .dockerignore
# keeps their compiled files out of the context.
COPY . /tmp/src
RUN pip install -c /tmp/src/constraints.txt /tmp/src && rm -rf /tmp/src

# Not root, and a numeric uid so Kubernetes' runAsNonRoot can verify it. /var/lib/iiot holds
# what the parts keep: the simulator's spool, Faust's data dir (the working directory), the
# Grafana provisioning that `iiot dashboards build` writes. Directories made here give their
# owner to the named volumes mounted on them.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/iiot --create-home iiot \
    && mkdir -p /var/lib/iiot/spool \
        /var/lib/iiot/grafana/provisioning /var/lib/iiot/grafana/dashboards \
    && chown -R 10001:10001 /var/lib/iiot
USER 10001:10001
WORKDIR /var/lib/iiot

ENTRYPOINT ["iiot"]
CMD ["--help"]
