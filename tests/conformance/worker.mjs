// The official worker, unmodified, pointed at the fake control plane.
// Runs until SIGTERM; the environment names the fake and the workdir.
import Anthropic from '@anthropic-ai/sdk';
import { EnvironmentWorker } from '@anthropic-ai/sdk/helpers/beta/environments';

const client = new Anthropic({
  baseURL: process.env.ANTHROPIC_BASE_URL,
  apiKey: 'unused-by-the-worker',
  maxRetries: 2,
});
const worker = new EnvironmentWorker({
  client,
  environmentId: process.env.ANTHROPIC_ENVIRONMENT_ID,
  environmentKey: process.env.ANTHROPIC_ENVIRONMENT_KEY,
  workdir: process.env.WORKDIR,
  maxIdleMs: Number(process.env.MAX_IDLE_MS || 3000),
});
const ac = new AbortController();
process.on('SIGTERM', () => ac.abort());
try {
  await worker.run(ac.signal);
} catch (e) {
  if (!ac.signal.aborted) {
    console.error(e);
    process.exit(1);
  }
}
