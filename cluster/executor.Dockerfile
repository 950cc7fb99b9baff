# Executor image for OORL's reward workers: Debian 12 with bubblewrap and every toolchain the sandbox
# judges (Prolog, Python, C++, Java, JavaScript, TypeScript, Go, Rust, PHP, Bash, C#), plus the oorl
# package with what a reward worker imports. The package lists are the ones cluster/setup.sh installs
# (cluster/packages/apt.txt and npm.txt), read the same way. Build from the repository root:
#
#   docker build -f cluster/executor.Dockerfile -t oorl/executor:0.1.0 .
#
# The Ray and Python versions must match the cluster's (see cluster/README.md, "Reward workers").
# The GPU image (cluster/gpu.Dockerfile) is built FROM this one, so both have the same Python, Ray
# and toolchains. wget is for KubeRay's health probes, rsync for the Ray cluster launcher.
FROM debian:12

ARG RAY_VERSION=2.60.0
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8

COPY cluster/packages/ /opt/oorl/packages/

# Debian packages: every entry of apt.txt ("package" or "package:command"; the package is what installs).
RUN apt-get update \
 && grep -v '^\s*#' /opt/oorl/packages/apt.txt | grep -v '^\s*$' | cut -d: -f1 \
    | xargs apt-get install -y --no-install-recommends ca-certificates python3-venv wget rsync \
 && rm -rf /var/lib/apt/lists/*

# Global npm packages: every entry of npm.txt.
RUN grep -v '^\s*#' /opt/oorl/packages/npm.txt | grep -v '^\s*$' | xargs npm install -g --no-fund --no-audit \
 && npm cache clean --force

# The project, with the dependencies a reward worker needs (not the training stack).
COPY pyproject.toml README.md /opt/oorl/src/
COPY oorl/ /opt/oorl/src/oorl/
RUN python3 -m venv /opt/oorl/venv \
 && /opt/oorl/venv/bin/pip install --no-cache-dir "ray[default]==${RAY_VERSION}" "pydantic>=2.7" "pyyaml>=6" \
        "typer>=0.12" "rich>=13" numpy \
 && /opt/oorl/venv/bin/pip install --no-cache-dir --no-deps /opt/oorl/src
ENV PATH=/opt/oorl/venv/bin:$PATH
# KubeRay (`bash -lc`) and the cluster launcher (`bash --login`) start Ray in login shells, where Debian's
# /etc/profile resets PATH; put the venv back for them.
RUN echo 'export PATH=/opt/oorl/venv/bin:$PATH' > /etc/profile.d/oorl.sh

# Prebuild the Rust crates and Go packages once (into /var/cache/oorl/sandbox) and print the toolchains.
# The jail itself cannot run during `docker build`; check it on a node with `oorl doctor`.
RUN oorl doctor --no-check

WORKDIR /opt/oorl
CMD ["oorl", "doctor"]
