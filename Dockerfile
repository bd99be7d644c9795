# syntax=docker/dockerfile:1
# adpc-edge for x86-64 hosts with an NVIDIA GPU (CUDA 12, cuDNN 9), the default bundle inside.
#
#   docker build -t adpc-edge .
#   docker run --gpus all -p 8080:8080 adpc-edge
#
# Build arguments: ORT_INSTALL=skip builds without internet beyond the npm registry (CPU and
# WebGPU only); TENSORRT=true adds the TensorRT 10 runtime libraries for ADPC_PROVIDER=tensorrt.
# The start-up log says which execution providers are live. Details: docs/DEPLOY.md.

ARG NODE_VERSION=20
ARG UBUNTU_VERSION=22.04
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

FROM node:${NODE_VERSION}-bookworm-slim AS node

# Built on the runtime image's Ubuntu, so that the native addon links against the glibc and
# libstdc++ it will run with.
FROM ubuntu:${UBUNTU_VERSION} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY scripts/build-native.mjs scripts/
COPY native/binding.gyp native/
COPY native/src native/src
COPY native/kernels native/kernels
# npm's install step would skip the native executor quietly if it failed to build: the
# image builds it in strict mode instead, so a broken toolchain stops the build.
RUN ADPC_NATIVE=off npm ci --omit=dev --no-audit --no-fund \
 && npm run build:native
# The CUDA and TensorRT provider libraries come from onnxruntime's own packages, outside the
# npm registry (which is why .npmrc skips this step in npm ci).
ARG ORT_INSTALL=cuda12
RUN if [ "$ORT_INSTALL" != skip ]; then \
      ONNXRUNTIME_NODE_INSTALL="$ORT_INSTALL" node node_modules/onnxruntime-node/script/install; \
    fi \
 && cd node_modules/onnxruntime-node/bin/napi-v6 \
 && rm -rf darwin win32 linux/arm64

FROM ${CUDA_IMAGE} AS runtime
# tini is PID 1: it hands SIGTERM to node (which drains) and reaps what node does not.
# libvulkan1 lets onnxruntime's WebGPU provider reach the GPU over Vulkan.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini libvulkan1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ARG TENSORRT=false
RUN if [ "$TENSORRT" = true ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends libnvinfer10 libnvinfer-plugin10 libnvonnxparsers10 \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin adpc
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/native/build/Release/adpc_native.node native/build/Release/
COPY package.json tsconfig.json ./
COPY bin bin
COPY src src
COPY server server
COPY web web
COPY models/cityscapes-classes.json models/
COPY models/default models/default
COPY deploy/healthcheck.mjs deploy/
# graphics: the NVIDIA container runtime mounts the Vulkan driver only when asked for it.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    ADPC_PROVIDER=auto \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 CMD ["node", "deploy/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--initial-heap-size=64", "--import", "tsx", "server/main.ts"]
