# onset, built from source. For users; the tests do not need Docker.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/onset

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /var/lib/onset --create-home onset
COPY --from=build /src/target/release/onset /usr/local/bin/onset
USER onset
WORKDIR /var/lib/onset
ENV ONSET_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["onset"]
CMD ["serve"]
