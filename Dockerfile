# invitd in a container: a static binary on a distroless base, run as a
# non-root user, with the SQLite database on a volume.
#
#   docker build -t invitd .
#   docker run -p 8080:8080 -v invitd-data:/data \
#     -e INVITD_BASE_URL=https://invite.example.com invitd
#
# The first start prints the first admin key in the container's log.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/invitd ./cmd/invitd
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/invitd /usr/local/bin/invitd
# The nonroot user (65532) owns the volume's directory.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV INVITD_DB=sqlite:/data/invitd.db \
    INVITD_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/invitd", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/invitd"]
CMD ["serve"]
