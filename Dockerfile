# frontdesk as a container: the static release binary alone in an empty image
# (no shell, no libc, no package manager), run as an unprivileged user, with
# its data on a volume. Build the binary first, then the image:
#
#   cargo build --release
#   podman build -t frontdesk .          (or: docker build -t frontdesk .)
#
# Run it with docker-compose.yml, or:
#   podman run -d --name frontdesk -p 80:80 -p 443:443 -v frontdesk-data:/data \
#     -e FRONTDESK_TLS_MODE=acme -e FRONTDESK_TLS_DOMAINS=desk.example.com \
#     -e FRONTDESK_TLS_ACME_EMAIL=you@example.com frontdesk
FROM scratch

COPY target/x86_64-unknown-linux-gnu/release/frontdesk /frontdesk
# The volume's mount point, owned by the user below so a new volume is writable.
COPY --chown=65532:65532 packaging/container/data /data

# Plain HTTP on 3000 unless TLS is configured; with TLS, 443 and 80.
# (Docker and Podman let unprivileged users bind low ports inside the container.)
ENV FRONTDESK_DATA_DIR=/data \
    FRONTDESK_BIND=0.0.0.0 \
    PORT=3000
EXPOSE 3000 80 443
VOLUME ["/data"]
USER 65532:65532

# The binary asks its own /health (https first when TLS is on); no curl needed.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["/frontdesk", "health"]
# SIGTERM: stop accepting, let calls and requests finish (shutdown_grace_secs).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/frontdesk"]
CMD ["serve"]
