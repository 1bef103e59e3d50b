# syntax=docker/dockerfile:1
#
# One image for every role of signaalnet:
#
#   docker build -t signaalnet:0.1.0 .
#   docker run signaalnet:0.1.0 node         --config /etc/signaalnet/node.toml
#   docker run signaalnet:0.1.0 transcryptor --config /etc/signaalnet/transcryptor.toml
#   docker run signaalnet:0.1.0 coordinator  --config /etc/signaalnet/coordinator.toml
#
# The ceremony and certificate commands (`keys …`, `policy …`, `audit …`) run from the same
# image. The runtime image is distroless: no shell, no package manager, user 65532 (nonroot).
# There is no HEALTHCHECK: every role serves grpc.health.v1 over mTLS only, so health is checked
# by the orchestrator with grpc_health_probe (bundled below; deploy/compose, deploy/k8s,
# docs/operations.md "Health").
#
# Keep SIGNAALNET_VERSION equal to the version in Cargo.toml (tests/deploy.rs checks it; the
# build stops if the binary reports another).

ARG RUST_VERSION=1.95.0
ARG GO_VERSION=1.24
ARG SIGNAALNET_VERSION=0.1.0
ARG GRPC_HEALTH_PROBE_VERSION=v0.4.34

# --- build the signaalnet binary at the toolchain of rust-toolchain.toml ---------------------
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
ARG RUST_VERSION
ARG SIGNAALNET_VERSION
# Use the image's toolchain as it is: rust-toolchain.toml names the same version, and would
# otherwise make rustup fetch rustfmt and clippy, which a release build does not need.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} \
    CARGO_TERM_COLOR=never
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit); the binary is copied out of
# the cached target directory, which is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin signaalnet \
    && install -D -m 0755 target/release/signaalnet /out/signaalnet
RUN test "$(/out/signaalnet --version)" = "signaalnet ${SIGNAALNET_VERSION}" \
    || { echo "SIGNAALNET_VERSION=${SIGNAALNET_VERSION} but the binary says: $(/out/signaalnet --version)" >&2; exit 1; }
# The directories a role writes to, owned by the runtime user: a named volume mounted there
# starts with this owner, so the role can create its 0700 data and secrets directories.
RUN mkdir -p /out/var/lib/signaalnet /out/etc/signaalnet \
    && chown -R 65532:65532 /out/var/lib/signaalnet \
    && chmod 0700 /out/var/lib/signaalnet

# --- grpc_health_probe, built from source (a Go module), for exec health checks over mTLS ----
FROM docker.io/library/golang:${GO_VERSION}-bookworm AS probe
ARG GRPC_HEALTH_PROBE_VERSION
RUN CGO_ENABLED=0 GOBIN=/out go install \
    "github.com/grpc-ecosystem/grpc-health-probe@${GRPC_HEALTH_PROBE_VERSION}" \
    && mv /out/grpc-health-probe /out/grpc_health_probe

# --- the runtime image ------------------------------------------------------------------------
# glibc and libgcc (ring, the bundled SQLite), CA certificates, tzdata; nothing else.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG SIGNAALNET_VERSION
LABEL org.opencontainers.image.title="signaalnet" \
      org.opencontainers.image.description="Pseudonymous hit/no-hit signalling between Dutch chain partners against human trafficking: partner node, transcryptor and coordinator" \
      org.opencontainers.image.version="${SIGNAALNET_VERSION}" \
      org.opencontainers.image.licenses="EUPL-1.2" \
      org.opencontainers.image.documentation="docs/operations.md"
COPY --from=build /out/signaalnet /usr/local/bin/signaalnet
COPY --from=probe /out/grpc_health_probe /usr/local/bin/grpc_health_probe
COPY --from=build --chown=65532:65532 /out/var/lib/signaalnet /var/lib/signaalnet
COPY --from=build /out/etc/signaalnet /etc/signaalnet
USER 65532:65532
WORKDIR /var/lib/signaalnet
# Node 7301, transcryptor 7101, coordinator 7200 (deploy/organisations); the port a role listens
# on is its configuration's `listen`.
EXPOSE 7101 7200 7301
ENTRYPOINT ["/usr/local/bin/signaalnet"]
CMD ["--help"]
