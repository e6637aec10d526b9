# syntax=docker/dockerfile:1
# Build: the README's build command, in a Rust image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin todo-api

# Run: a small Debian image, a non-root user, the binary alone.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --create-home todo
COPY --from=build /src/target/release/todo-api /usr/local/bin/todo-api
USER todo
WORKDIR /data
ENV HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=sqlite:/data/todo.db
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=5s --retries=3 CMD ["todo-api", "check"]
ENTRYPOINT ["todo-api"]
CMD ["serve"]
