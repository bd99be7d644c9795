// The images' HEALTHCHECK: exit 0 when GET /healthz answers 200 within the timeout, 1 otherwise.
// Node is in every image and curl is not; the port comes from PORT, as for the server.
const port = process.env.PORT || '8080';
const timeoutMs = Number(process.env.ADPC_HEALTHCHECK_TIMEOUT_MS || 3000);
try {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
  process.exit(res.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
