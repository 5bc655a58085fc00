// Test models for metric analysis (tests and benchmarks): Triton Python-backend models whose latency
// and error share are set. Plain TypeScript, no test framework (the benchmarks import it too).

/**
 * The add model with a behaviour to test metric analysis on: each request takes `latencyMs` (a
 * sleep; a request's parameter latency_ms overrides it), and every `failEvery`-th request (counted
 * per server) fails: execute() raises, which Triton answers with an error (HTTP 500) and counts in
 * nv_inference_request_failure (a response carrying an error it would count as a success).
 * Same interface and outputs as addModel.
 */
export function tunableModel(version: string, o: { latencyMs?: number; failEvery?: number } = {}): string {
  return `import json
import threading
import time

import numpy as np
import triton_python_backend_utils as pb_utils

VERSION = ${JSON.stringify(version)}
LATENCY_S = ${(o.latencyMs ?? 0) / 1000}
FAIL_EVERY = ${o.failEvery ?? 0}


class TritonPythonModel:
    def initialize(self, args):
        self.count = 0
        self.lock = threading.Lock()

    def execute(self, requests):
        responses = []
        for request in requests:
            with self.lock:
                self.count += 1
                n = self.count
            # A request can set its own latency (KServe v2 request parameter latency_ms): a test makes
            # a revision slow at a moment of its choosing.
            delay = LATENCY_S
            try:
                params = json.loads(request.parameters() or "{}")
                if "latency_ms" in params:
                    delay = float(params["latency_ms"]) / 1000.0
            except Exception:
                pass
            if delay > 0:
                time.sleep(delay)
            if FAIL_EVERY > 0 and n % FAIL_EVERY == 0:
                # Raised, not returned as a response with an error: Triton counts a raised request in
                # nv_inference_request_failure (reason BACKEND), a response with an error as a success.
                raise pb_utils.TritonModelException("request %d failed on purpose (a test model: one in %d fails)" % (n, FAIL_EVERY))
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            out = pb_utils.Tensor("OUTPUT0", (x + 1).astype(np.float32))
            ver = pb_utils.Tensor("MODEL_VERSION", np.array([VERSION.encode()], dtype=np.object_))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out, ver]))
        return responses
`;
}

/** A model whose every request takes `latencyMs` (tunableModel). */
export function slowModel(version: string, latencyMs: number): string {
  return tunableModel(version, { latencyMs });
}

/** A model of which one request in `failEvery` fails (tunableModel): 20 gives 5 % errors. */
export function flakyModel(version: string, failEvery: number): string {
  return tunableModel(version, { failEvery });
}
