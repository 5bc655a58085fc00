// The data plane's image catalogue: no container engine runs here and no registry is reachable, so
// an image is emulated by what a local install provides at the paths the image has them, plus the
// image's configuration (entrypoint, cmd, env). The container's root filesystem is the host's, with
// these paths added (sandbox.ts), so a command of the image finds what it would find in the image.
//
// An image not in this list cannot be "pulled": the pod shows ErrImagePull / ImagePullBackOff with a
// message naming the image, as a kubelet shows for an image that does not exist. Pure: the host
// paths come in as arguments.

/** What the host provides for the images (from the data plane's config). */
export interface ImageHost {
  /** The Triton tree of hack/tools/triton.sh (bin/tritonserver, lib/, backends/python/), if installed. */
  tritonDir?: string;
  /** The CA bundle the curl image trusts: the system's plus the data plane's model-store CA. */
  caBundle?: string;
  /** PyPI's awscli installed for the system Python (hack/tools/awscli.sh), if installed. */
  awscliDir?: string;
  /** hack/dataplane/image-files: small files the images have (Triton's entrypoint script). */
  filesDir: string;
}

/** How to run a container of one image here. */
export interface ResolvedImage {
  /** The catalogue entry that matched, for messages. */
  entry: string;
  /** The image's ENTRYPOINT and CMD: Kubernetes' command replaces the first, args the second. */
  entrypoint: string[];
  cmd: string[];
  /** The image's environment (the container's env overrides it). */
  env: Record<string, string>;
  /** Container path -> host path (file or directory), bound read-only into the container. */
  paths: Record<string, string>;
}

export type ImageResolution = { ok: true; image: ResolvedImage } | { ok: false; reason: string };

interface Entry {
  /** The reference pattern, for messages: what a user reads in the failure. */
  pattern: string;
  match: RegExp;
  resolve: (host: ImageHost) => ImageResolution;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// A tag, or a digest, or both; no tag means latest.
const TAG = '(?::[\\w][\\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?';

const CATALOGUE: Entry[] = [
  {
    // NVIDIA's Triton image: the server under /opt/tritonserver (its libraries in lib/, backends in
    // backends/), started through /opt/nvidia/nvidia_entrypoint.sh, which execs its arguments.
    // The wheel's server is Triton 2.51 (release 24.10) whatever the tag asks for.
    pattern: 'nvcr.io/nvidia/tritonserver:<tag>',
    match: new RegExp(`^nvcr\\.io/nvidia/tritonserver${TAG}$`),
    resolve: (host) =>
      host.tritonDir === undefined
        ? {
            ok: false,
            reason: 'Triton is not installed on this data plane (bash hack/tools/triton.sh installs it)',
          }
        : {
            ok: true,
            image: {
              entry: 'nvcr.io/nvidia/tritonserver',
              entrypoint: ['/opt/nvidia/nvidia_entrypoint.sh'],
              cmd: [],
              env: {
                PATH: `/opt/tritonserver/bin:${PATH}`,
                // The backend stubs' RPATH points into the wheel's layout; the image sets the same.
                LD_LIBRARY_PATH: '/opt/tritonserver/lib',
              },
              paths: {
                '/opt/tritonserver': host.tritonDir,
                '/opt/nvidia/nvidia_entrypoint.sh': `${host.filesDir}/nvidia_entrypoint.sh`,
              },
            },
          },
  },
  {
    // curl's official image: CURL_CA_BUNDLE=/cacert.pem. Emulated as a platform team's mirror of
    // it that trusts the cluster's private CA too (modelship offers no way to give the fetch a CA).
    pattern: 'curlimages/curl:<tag>',
    match: new RegExp(`^(?:docker\\.io/)?curlimages/curl${TAG}$`),
    resolve: (host) =>
      host.caBundle === undefined
        ? { ok: false, reason: 'the data plane has no CA bundle for the curl image' }
        : {
            ok: true,
            image: {
              entry: 'curlimages/curl',
              entrypoint: ['/entrypoint.sh'],
              cmd: ['curl'],
              env: { PATH, CURL_CA_BUNDLE: '/cacert.pem' },
              paths: { '/cacert.pem': host.caBundle },
            },
          },
  },
  {
    // The AWS CLI image: `aws` at /usr/local/bin/aws, also its entrypoint. AWS CLI v2 is not on
    // PyPI; v1 (the same `aws s3 cp` and AWS_* environment) stands in.
    pattern: 'amazon/aws-cli:<tag>',
    match: new RegExp(`^(?:docker\\.io/|public\\.ecr\\.aws/)?amazon/aws-cli${TAG}$`),
    resolve: (host) =>
      host.awscliDir === undefined
        ? {
            ok: false,
            reason: 'the AWS CLI is not installed on this data plane (bash hack/tools/awscli.sh installs it)',
          }
        : {
            ok: true,
            image: {
              entry: 'amazon/aws-cli',
              entrypoint: ['/usr/local/bin/aws'],
              cmd: [],
              env: { PATH },
              paths: { '/usr/local/aws-cli': host.awscliDir, '/usr/local/bin/aws': `${host.filesDir}/aws` },
            },
          },
  },
  {
    // BusyBox: sh, tar, gzip, sha256sum, cp: the host's coreutils, tar and gzip stand in.
    pattern: 'busybox:<tag>',
    match: new RegExp(`^(?:docker\\.io/)?(?:library/)?busybox${TAG}$`),
    resolve: () => ({
      ok: true,
      image: { entry: 'busybox', entrypoint: [], cmd: ['sh'], env: { PATH }, paths: {} },
    }),
  },
];

/** The catalogue's patterns, for messages and docs. */
export const KNOWN_IMAGES: readonly string[] = CATALOGUE.map((e) => e.pattern);

export function resolveImage(image: string, host: ImageHost): ImageResolution {
  const entry = CATALOGUE.find((e) => e.match.test(image));
  if (!entry) {
    return {
      ok: false,
      reason:
        `image "${image}" is not in the data plane's image catalogue ` +
        `(test/harness/dataplane/images.ts knows ${KNOWN_IMAGES.join(', ')})`,
    };
  }
  const r = entry.resolve(host);
  return r.ok ? r : { ok: false, reason: `image "${image}": ${r.reason}` };
}

/**
 * The argv a container runs, as the container runtime builds it: `command` replaces the image's
 * ENTRYPOINT (and drops its CMD), `args` replaces the CMD.
 */
export function containerArgv(
  image: ResolvedImage,
  command: string[] | undefined,
  args: string[] | undefined,
): string[] {
  if (command && command.length > 0) return [...command, ...(args ?? [])];
  return [...image.entrypoint, ...(args && args.length > 0 ? args : image.cmd)];
}
