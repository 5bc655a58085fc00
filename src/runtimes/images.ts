// Every image modelship renders into a model pod, by default: the model servers and the init
// containers that fetch and unpack the model. Each can be replaced operator-wide (flags and
// environment variables of src/cli/options.ts, the chart's `images` values), for example by a
// mirror in an air-gapped cluster; a ModelDeployment's spec.pod.image replaces the server's.
//
// Pinned by digest (`name:tag@sha256:…`): a tag can be moved to other bytes (`google/cloud-sdk:slim`
// does, with every Cloud SDK release), and the rendered pod template, hence the revision, must mean
// the same bytes on every node and after every reschedule. The tag is kept for the reader; the
// digest decides what is pulled. The digests were taken from public records (each line says which),
// not resolved against the registries from here; `hack/release/pin-images.sh --check` verifies them
// and `hack/release/pin-images.sh` pins the ones still given by tag (docs/runtimes.md#images).

export type ImageName =
  'triton' | 'torchserve' | 'fetchS3' | 'fetchGs' | 'fetchHttps' | 'fetchPvc' | 'unpack';

export const DEFAULT_IMAGES: Readonly<Record<ImageName, string>> = {
  // Not yet pinned: no public record of the multi-platform digest of these tags was found (one of
  // the amd64 manifest only, which would not pull on arm64). Release tags that NVIDIA and PyTorch do
  // not move; hack/release/pin-images.sh pins them where a registry can be reached.
  triton: 'nvcr.io/nvidia/tritonserver:24.08-py3',
  torchserve: 'pytorch/torchserve:0.12.0-cpu',
  // The digest that several independent repositories pin for this tag (index digest, as `crane copy`
  // and `docker pull` report it).
  fetchS3: 'amazon/aws-cli:2.17.0@sha256:643507c10ada7964ca6157b3d799f030b90577643da9955d319a77399ed80d73',
  // The build of the moving `slim` tag that a `docker pull` log (2026) printed as its digest, and
  // that another repository pins; it has `gcloud storage`.
  fetchGs: 'google/cloud-sdk:slim@sha256:e379150995766ed2575edcfc6183e6fe212ed7def3465e7aad0b59d7de8392da',
  // The digest that several independent repositories pin for this tag.
  fetchHttps:
    'curlimages/curl:8.10.1@sha256:d9b4541e214bcd85196d6e92e2753ac6d0ea699f0af5741f8c6cccbfcf00ef4b',
  // docker-library/repo-info (the Docker official images' own record), repos/busybox/remote/1.37.0.md:
  // the OCI index of all platforms.
  fetchPvc: 'busybox:1.37.0@sha256:9db7b59979c38555a39def84a31fb98b5296952f9e3afd4f6f11f05b07adfab0',
  unpack: 'busybox:1.37.0@sha256:9db7b59979c38555a39def84a31fb98b5296952f9e3afd4f6f11f05b07adfab0',
};

/** `name[:tag]@sha256:<64 hex>`: a reference that cannot move. */
export function isPinned(image: string): boolean {
  return /^[^@\s]+@sha256:[0-9a-f]{64}$/.test(image);
}
