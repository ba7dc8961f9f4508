# FluxWeb: build with the .NET 10 SDK, run self-contained on CUDA 13 + cuDNN 9 (ONNX Runtime 1.31's GPU build).
#   docker build -t fluxweb .
#   docker run --gpus all -p 5000:5000 -v fluxweb-data:/data -v fluxweb-models:/models fluxweb
# The app writes only to /data, /models and /tmp, so it also runs with a read-only root file system:
#   docker run --read-only --tmpfs /tmp --gpus all -p 5000:5000 -v fluxweb-data:/data -v fluxweb-models:/models fluxweb
# A web node and GPU workers on PostgreSQL, one cluster: docker-compose.yml.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props FluxWeb.sln appsettings.json ./
COPY wwwroot/ wwwroot/
COPY migrations/ migrations/
COPY src/ src/
RUN dotnet publish src/FluxWeb.Host/FluxWeb.Host.csproj -c Release -r linux-x64 --self-contained true -o /app

FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04 AS runtime
# ICU for culture-aware text, curl for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libicu74 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/fluxweb fluxweb \
    && mkdir -p /data /models \
    && chown fluxweb:fluxweb /data /models
COPY --from=build /app /app
# Image filtering is on from the first start: nsfwjs's classifier is downloaded from the npm registry
# (sha512-checked), converted to ONNX and checked at build time, outside the /models volume.
ENV Provenance__Filters__ClassifierDirectory=/opt/fluxweb/safety
RUN /app/fluxweb safety install --data /tmp/fluxweb-build --models /tmp/fluxweb-build/models \
    && rm -rf /tmp/fluxweb-build
# The app's files live in /app (its content root, whatever the working directory); nothing it
# writes goes there or to HOME: data and keys to /data, models to /models, temporary files and
# the CUDA kernel cache to /tmp.
# Inference__Device=Cuda: a container that cannot use its GPU refuses to start and says why (driver, architecture,
# missing --gpus) instead of serving a CPU fallback on which the bf16 models cannot run.
ENV FluxWeb__DataDirectory=/data \
    FluxWeb__ModelsDirectory=/models \
    Inference__Device=Cuda \
    Urls=http://+:5000 \
    CUDA_CACHE_PATH=/tmp/cuda-cache \
    Logging__Console__FormatterName=json \
    DOTNET_gcServer=0
# 5000: the web app (Urls). 11111 and 30000: Orleans' silo-to-silo and gateway ports (Cluster:SiloPort,
# Cluster:GatewayPort), which the other nodes of a cluster must reach (docker-compose.yml, README "More GPUs, more boxes").
EXPOSE 5000 11111 30000
VOLUME ["/data", "/models"]
USER fluxweb
WORKDIR /home/fluxweb
HEALTHCHECK --interval=30s --timeout=5s --retries=5 CMD curl -fsS http://localhost:5000/healthz || exit 1
ENTRYPOINT ["/app/fluxweb"]
CMD ["serve"]
