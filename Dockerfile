# logtoguard serve as a container: a static binary on a distroless base, run
# as a non-root user.
#
#   docker build -t logtoguard .
#   docker run --rm -p 9090:9090 -v "$PWD/logtoguard.yaml:/etc/logtoguard/logtoguard.yaml:ro" logtoguard
#
# The configuration must listen on 0.0.0.0 (listen: 0.0.0.0:9090) to be
# reached from outside the container. deploy/kubernetes/ has the manifests.
FROM golang:1.25-bookworm AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/logtoguard ./cmd/logtoguard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/logtoguard /logtoguard
USER nonroot:nonroot
ENV LOGTOGUARD_CONFIG=/etc/logtoguard/logtoguard.yaml
EXPOSE 9090 9091
ENTRYPOINT ["/logtoguard", "serve"]
