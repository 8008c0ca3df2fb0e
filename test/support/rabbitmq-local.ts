import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { connect } from 'amqplib';

const run = promisify(execFile);

/** The broker the tests use when `AMQP_URL` is not set: the machine's local RabbitMQ. */
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** Whether an AMQP connection to `url` can be opened (and is closed again) right now. */
export async function canConnectAmqp(url: string): Promise<boolean> {
  try {
    const connection = await connect(url, { timeout: 3_000 });
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the local RabbitMQ answers: starts it with `rabbitmq-server -detached` when it is
 * down and waits for it. It is left running afterwards, because other test runs share it.
 */
export async function ensureLocalRabbitMq(
  url: string = DEFAULT_AMQP_URL,
  timeoutMs = 90_000,
): Promise<void> {
  if (await canConnectAmqp(url)) return;
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    throw new Error(`RabbitMQ at ${host} does not answer, and only a local one can be started`);
  }
  try {
    await run('rabbitmq-server', ['-detached']);
  } catch (error) {
    throw new Error('RabbitMQ is down and `rabbitmq-server -detached` failed', { cause: error });
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnectAmqp(url)) return;
    await sleep(500);
  }
  throw new Error(`RabbitMQ did not accept connections within ${timeoutMs} ms after starting it`);
}
