#!/bin/sh
# Install fastport with its runtime dependencies only into a new virtual environment.
# Used by the Dockerfile's build stage and by .ci/run, so both do the same thing.
#   deploy/install.sh PREFIX      (run from the repository's root)
set -eu
prefix=${1:?usage: deploy/install.sh PREFIX}
python3 -m venv "$prefix"
"$prefix/bin/pip" install --no-cache-dir --quiet ./protos/python ./clients/python .
cp deploy/healthcheck.py "$prefix/healthcheck.py"
"$prefix/bin/fastport" --version
