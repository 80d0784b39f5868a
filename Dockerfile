# Production image of the tracking service: `tracker` (serve, migrate, token) with the dispatcher dashboard.
#
#   docker build -t distribution-tracker .          # or `docker compose build` (docker-compose.yml)
#
# Three stages: the Swift build (with the C libraries' headers), the dashboard build (scripts/build-dashboard),
# and a slim runtime with the C libraries' shared objects only. Not built on the development machine (no Docker
# engine there); Tests/SystemTests/test_deploy.py checks what can be checked without one: every C library of
# Package.swift's system-library targets has its -dev package here and its runtime package below, every shared
# library the locally built `tracker` needs comes from a runtime package, the dashboard directory and data
# directory agree with the configuration keys, and the health check's route exists.

# ---------------------------------------------------------------------------------------------------------------
# Build: the release `tracker` with the Swift runtime linked in statically.
# Swift 6.3, the compiler CI builds and tests with: Package.swift's tools version is 6.1, but the dependencies'
# current releases need 6.2 (hummingbird, swift-configuration, async-http-client, ... declare swift-tools-version
# 6.2), so a 6.1 image would not resolve them.
# ---------------------------------------------------------------------------------------------------------------
FROM swift:6.3-bookworm AS build
# The system-library targets of Package.swift: pkg-config finds sqlite3 (CSQLite3), rdkafka (CRdKafka), libpq
# (CLibpq) and odbc (CODBC); CHiredis links hiredis from the default paths.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends \
        pkg-config libsqlite3-dev librdkafka-dev libpq-dev libhiredis-dev unixodbc-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, in their own layer: re-resolved only when Package.swift changes. Package.resolved is not
# copied (.dockerignore): the project does not commit it, and a developer machine's copy may pin mirror commits.
COPY Package.swift ./
RUN swift package resolve
# Test targets are declared in Package.swift, so their directories must exist; they are not built.
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product tracker --static-swift-stdlib
# The binary, its resource bundles (found next to the executable: DistributionTracker_HTTPAdapters.resources
# holds openapi.yaml) and the static backtracer for readable crash reports.
RUN mkdir /staging \
    && bin="$(swift build -c release --show-bin-path)" \
    && cp "$bin/tracker" /staging/ \
    && cp -R "$bin"/*.resources /staging/ \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/

# ---------------------------------------------------------------------------------------------------------------
# Dashboard: scripts/build-dashboard, as in CI: hash-pinned wheels from PyPI (React, Leaflet, socket.io-client
# and the deno type checker), `deno check`, then Debian's esbuild into Dashboard/dist. The deno wheel's pinned
# hash is the x86_64 one: build on amd64 (or pass --skip-check to the script).
# ---------------------------------------------------------------------------------------------------------------
FROM debian:bookworm AS dashboard
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends esbuild unzip python3-pip ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/build-dashboard ./scripts/
COPY Dashboard ./Dashboard
RUN scripts/build-dashboard

# ---------------------------------------------------------------------------------------------------------------
# Runtime: Debian 12 slim with the shared libraries `tracker` links (the -dev packages above, minus headers).
# ---------------------------------------------------------------------------------------------------------------
FROM debian:bookworm-slim
# libsqlite3-0 (CSQLite3), librdkafka1 (CRdKafka), libpq5 (CLibpq), libhiredis0.14 (CHiredis), libodbc2
# (CODBC: unixODBC's driver manager); libstdc++6 (the Swift runtime links it even when static); tzdata for
# Foundation's time zones; ca-certificates for TLS to PostgreSQL/Kafka/Redis proxies; curl for HEALTHCHECK.
# tdsodbc: FreeTDS's ODBC driver for `tracker.source=sqlserver` (ADR 0012), registered as {FreeTDS} in
# /etc/odbcinst.ini by its package, so TRACKER_SQLSERVER_ODBC can say `Driver={FreeTDS};...` with no file of
# the operator's. Microsoft's ODBC Driver 18 is not in Debian: derive an image that adds msodbcsql18 to use it.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends \
        libsqlite3-0 librdkafka1 libpq5 libhiredis0.14 libodbc2 libstdc++6 \
        tdsodbc \
        tzdata ca-certificates curl \
    && odbcinst -q -d -n FreeTDS >/dev/null \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so a volume's ownership means the same thing on every host and in every release.
RUN groupadd --system --gid 10001 tracker \
    && useradd --system --uid 10001 --gid tracker --home-dir /var/lib/tracker --no-create-home \
        --shell /usr/sbin/nologin tracker \
    && mkdir -p /var/lib/tracker \
    && chown tracker:tracker /var/lib/tracker
COPY --from=build /staging/ /usr/local/bin/
COPY --from=dashboard /src/Dashboard/dist /usr/local/share/tracker/dashboard
# tracker.data.dir (local mode's SQLite files; unused when broker, store and source are all remote), the
# dashboard (dashboard.dir), and a listener reachable from outside the container (http.host).
ENV TRACKER_DATA_DIR=/var/lib/tracker \
    DASHBOARD_DIR=/usr/local/share/tracker/dashboard \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/bin/swift-backtrace-static
WORKDIR /var/lib/tracker
USER tracker:tracker
VOLUME ["/var/lib/tracker"]
EXPOSE 8080
# Liveness only: /health/ready (dependencies) is what the compose stack's depends_on waits for.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${HTTP_PORT:-8080}/health/live" >/dev/null || exit 1
# SIGTERM (docker stop) is a graceful stop: dashboards disconnected, consumers stopped, producer flushed.
STOPSIGNAL SIGTERM
CMD ["tracker", "serve"]
