#!/bin/sh
# Stands in for the Triton image's /opt/nvidia/nvidia_entrypoint.sh (see
# test/harness/dataplane/images.ts): the image's script prints a banner, sets up CUDA forward
# compatibility, then execs its arguments. Without a GPU there is nothing to set up.
exec "$@"
