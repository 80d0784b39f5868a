# Production image of the tracking service: build with the Swift toolchain, run on a slim base.
FROM swift:6.1-bookworm AS build
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product tracker --static-swift-stdlib \
    && mkdir /out && cp "$(swift build -c release --show-bin-path)/tracker" /out/ \
    && cp -R "$(swift build -c release --show-bin-path)"/*.resources /out/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
EXPOSE 8080
USER nobody
ENTRYPOINT []
CMD ["tracker", "serve"]
