import { mkdtemp, rm, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  rabbitMqConfig,
  rabbitMqNodeEnv,
  rabbitMqNodeLayout,
  rabbitMqScriptsDir,
} from '../support/rabbitmq-node.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const layout = rabbitMqNodeLayout(
  '/tmp/rabbitmq-node-x',
  { amqpPort: 41001, distPort: 41002, epmdPort: 41003 },
  'test-1234@localhost',
);

describe('a private RabbitMQ node’s files and environment', () => {
  it('keeps every path inside its own directory', () => {
    const paths = [
      layout.home,
      layout.mnesiaBase,
      layout.logBase,
      layout.configFile,
      layout.configDir,
      layout.advancedConfigFile,
      layout.enabledPluginsFile,
      layout.confEnvFile,
      layout.consoleLog,
    ];
    for (const path of paths) expect(path.startsWith('/tmp/rabbitmq-node-x/')).toBe(true);
  });

  it('listens for AMQP on loopback at its own port only', () => {
    expect(rabbitMqConfig(layout)).toBe(
      'listeners.tcp.1 = 127.0.0.1:41001\nloopback_users.guest = true\n',
    );
  });

  it('names every file, port and the node, and drops what points at the machine’s broker', () => {
    const env = rabbitMqNodeEnv(layout, {
      PATH: '/usr/bin',
      HOME: '/root',
      RABBITMQ_NODENAME: 'rabbit@localhost',
      RABBITMQ_MNESIA_BASE: '/var/lib/rabbitmq/mnesia',
      ERL_FLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      ERL_EPMD_PORT: '4369',
    });
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: layout.home,
      ERL_EPMD_ADDRESS: '127.0.0.1',
      ERL_EPMD_PORT: '41003',
      RABBITMQ_CONF_ENV_FILE: layout.confEnvFile,
      RABBITMQ_NODENAME: 'test-1234@localhost',
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: '41001',
      RABBITMQ_DIST_PORT: '41002',
      RABBITMQ_CONFIG_FILE: layout.configFile,
      RABBITMQ_CONFIG_FILES: layout.configDir,
      RABBITMQ_ADVANCED_CONFIG_FILE: layout.advancedConfigFile,
      RABBITMQ_ENABLED_PLUGINS_FILE: layout.enabledPluginsFile,
      RABBITMQ_MNESIA_BASE: layout.mnesiaBase,
      RABBITMQ_LOG_BASE: layout.logBase,
      RABBITMQ_PID_FILE: '/tmp/rabbitmq-node-x/rabbitmq.pid',
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    });
  });
});

describe('rabbitMqScriptsDir', () => {
  it('takes RABBITMQ_SCRIPTS_DIR as given', async () => {
    expect(await rabbitMqScriptsDir({ RABBITMQ_SCRIPTS_DIR: '/opt/rabbitmq/sbin' })).toBe(
      '/opt/rabbitmq/sbin',
    );
  });

  it('otherwise finds the scripts, never a wrapper that switches user', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rabbitmq-scripts-'));
    dirs.push(dir);
    const sbin = join(dir, 'sbin');
    await mkdir(sbin);
    await writeFile(join(sbin, 'rabbitmq-server'), '#!/bin/sh\n');
    await chmod(join(sbin, 'rabbitmq-server'), 0o755);
    const found = await rabbitMqScriptsDir({ PATH: `${join(dir, 'none')}:${sbin}` });
    // Debian's real scripts win over anything on PATH; elsewhere the PATH entry is used.
    expect(['/usr/lib/rabbitmq/bin', sbin]).toContain(found);
  });
});
