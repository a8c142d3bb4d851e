# One image for the Python services: `gudang collector`, `gudang api`,
# `gudang edge`, `gudang sim` (docker-compose.yml picks the command).

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/gudang
COPY pyproject.toml README.md LICENSE ./
COPY gudang ./gudang
COPY edge ./edge
COPY collector ./collector
COPY api ./api
COPY firmware-sim ./firmware-sim
# A wheel install: no build tools, compilers or sources reach the final image.
RUN /opt/gudang/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/gudang/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --home-dir /var/lib/gudang --create-home \
      --groups dialout gudang
COPY --from=build /opt/gudang /opt/gudang
COPY examples /usr/share/gudang/examples
ENV PATH=/opt/gudang/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GUDANG_LOG_FORMAT=json \
    GUDANG_COLLECTOR_SPOOL=/var/lib/gudang/collector-spool.db \
    GUDANG_COLLECTOR_STATE=/var/lib/gudang/collector-state.db \
    GUDANG_EDGE_OUTBOX=/var/lib/gudang/edge-outbox.db \
    GUDANG_API__STATE_FILE=/var/lib/gudang/api-state.db
USER gudang
WORKDIR /var/lib/gudang
VOLUME ["/var/lib/gudang"]
EXPOSE 8000
ENTRYPOINT ["gudang"]
CMD ["--help"]
