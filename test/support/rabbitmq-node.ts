import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { spawnGroup, type GroupProcess } from './process-group.js';
import { canConnectAmqp } from './rabbitmq-local.js';

const run = promisify(execFile);

/**
 * Where one private node keeps everything it writes, and the ports it owns. Nothing points at
 * the machine's own broker: its node name, ports, config files, data and Erlang cookie all differ.
 */
export interface RabbitMqNodeLayout {
  /** The node's temporary directory; everything below is inside it. */
  dir: string;
  /** `HOME` of the node and its rabbitmqctl: Erlang reads the cookie from `$HOME/.erlang.cookie`. */
  home: string;
  nodeName: string;
  amqpPort: number;
  /** Erlang distribution port (rabbitmqctl talks to the node through it). */
  distPort: number;
  /** The node's own epmd, so that it never registers with (or starts) the machine's. */
  epmdPort: number;
  mnesiaBase: string;
  logBase: string;
  configFile: string;
  /** An empty `conf.d`: the machine's `/etc/rabbitmq/conf.d` is not read. */
  configDir: string;
  advancedConfigFile: string;
  enabledPluginsFile: string;
  /** An empty rabbitmq-env.conf: the machine's (its NODENAME, its ERL_FLAGS) is not sourced. */
  confEnvFile: string;
  /** Where the server script's own output goes. */
  consoleLog: string;
}

/** The layout of a node in `dir` with these ports. */
export function rabbitMqNodeLayout(
  dir: string,
  ports: { amqpPort: number; distPort: number; epmdPort: number },
  nodeName: string,
): RabbitMqNodeLayout {
  return {
    dir,
    home: join(dir, 'home'),
    nodeName,
    ...ports,
    mnesiaBase: join(dir, 'mnesia'),
    logBase: join(dir, 'log'),
    configFile: join(dir, 'rabbitmq.conf'),
    configDir: join(dir, 'conf.d'),
    advancedConfigFile: join(dir, 'advanced.config'),
    enabledPluginsFile: join(dir, 'enabled_plugins'),
    confEnvFile: join(dir, 'rabbitmq-env.conf'),
    consoleLog: join(dir, 'console.log'),
  };
}

/** The node's rabbitmq.conf: one AMQP listener on loopback, and nothing else of the machine's. */
export function rabbitMqConfig(layout: RabbitMqNodeLayout): string {
  return [
    `listeners.tcp.1 = 127.0.0.1:${layout.amqpPort}`,
    // guest/guest, from loopback only (RabbitMQ's default), as on the machine's broker.
    'loopback_users.guest = true',
    '',
  ].join('\n');
}

/**
 * The environment of the node's scripts. The inherited `RABBITMQ_*` and `ERL_*` variables go:
 * they could name the machine's node, its files or its epmd. rabbitmq-env reads each setting
 * from `RABBITMQ_<NAME>` first, then from the conf env file, so every path is given here.
 */
export function rabbitMqNodeEnv(
  layout: RabbitMqNodeLayout,
  inherited: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(inherited)) {
    if (key.startsWith('RABBITMQ_') || key.startsWith('ERL_') || key === 'HOME') continue;
    env[key] = value;
  }
  const onLoopback = '-kernel inet_dist_use_interface {127,0,0,1}';
  return {
    ...env,
    HOME: layout.home,
    ERL_EPMD_ADDRESS: '127.0.0.1',
    ERL_EPMD_PORT: String(layout.epmdPort),
    RABBITMQ_CONF_ENV_FILE: layout.confEnvFile,
    RABBITMQ_NODENAME: layout.nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(layout.amqpPort),
    RABBITMQ_DIST_PORT: String(layout.distPort),
    RABBITMQ_CONFIG_FILE: layout.configFile,
    RABBITMQ_CONFIG_FILES: layout.configDir,
    RABBITMQ_ADVANCED_CONFIG_FILE: layout.advancedConfigFile,
    RABBITMQ_ENABLED_PLUGINS_FILE: layout.enabledPluginsFile,
    RABBITMQ_MNESIA_BASE: layout.mnesiaBase,
    RABBITMQ_LOG_BASE: layout.logBase,
    RABBITMQ_PID_FILE: join(layout.dir, 'rabbitmq.pid'),
    // The distribution port listens on every interface unless told otherwise.
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: onLoopback,
    RABBITMQ_CTL_ERL_ARGS: onLoopback,
  };
}

/**
 * The directory of RabbitMQ's real scripts: `RABBITMQ_SCRIPTS_DIR` (which rabbitmq-env reads
 * too), else Debian's `/usr/lib/rabbitmq/bin`, else the resolved `rabbitmq-server` on `PATH`.
 * Debian's `/usr/sbin/rabbitmq-server` is a wrapper that, run as root, switches to the rabbitmq
 * user and its HOME (the machine's cookie), so it is never the one used.
 */
export async function rabbitMqScriptsDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const configured = env.RABBITMQ_SCRIPTS_DIR;
  if (configured !== undefined && configured !== '') return configured;
  const debian = '/usr/lib/rabbitmq/bin';
  if (await exists(join(debian, 'rabbitmq-server'))) return debian;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'rabbitmq-server');
    if (dir !== '' && (await exists(candidate))) return dirname(await realpath(candidate));
  }
  throw new Error(
    'no rabbitmq-server found: install RabbitMQ, or set RABBITMQ_SCRIPTS_DIR to the directory ' +
      'that holds its rabbitmq-server and rabbitmqctl scripts',
  );
}

export interface RabbitMqNodeOptions {
  /** Parent of the node's temporary directory. Default: the OS temp directory. */
  baseDir?: string;
  /** Start of the Erlang node name; a random suffix keeps parallel nodes apart. */
  namePrefix?: string;
  /** Give up (and kill the node) after this long. Default: 60 000 ms. */
  startTimeoutMs?: number;
}

/** What one start took. */
export interface RabbitMqStartReport {
  /** Milliseconds from spawn until an AMQP connection opened. */
  startupMs: number;
}

/**
 * A RabbitMQ node of the test's own, on free ports, that it may stop, kill and restart without
 * touching the machine's shared broker. Its queues and messages survive restarts (and kills, as
 * far as RabbitMQ recovers them); `cleanup()` removes everything.
 */
export interface RabbitMqNode {
  /** `amqp://guest:guest@127.0.0.1:<port>`; the same across restarts. */
  readonly url: string;
  readonly amqpPort: number;
  readonly distPort: number;
  readonly nodeName: string;
  readonly dir: string;
  /** The node's own log file (RabbitMQ's, not the script's console). */
  readonly logFile: string;
  readonly running: boolean;
  start(): Promise<RabbitMqStartReport>;
  /** A clean shutdown (SIGTERM, as `rabbitmqctl stop` would); SIGKILL after 30 s. */
  stop(): Promise<void>;
  /** SIGKILL to the node's process group: a crash, with no chance to close connections. */
  kill(): Promise<void>;
  /** stop(), then start() on the same ports with the same data. */
  restart(): Promise<RabbitMqStartReport>;
  /** Runs rabbitmqctl against this node (e.g. `['list_queues']`) and returns its output. */
  ctl(args: readonly string[]): Promise<string>;
  /** Stops the node and its epmd, and removes its directory. */
  cleanup(): Promise<void>;
}

/** Prepares a private node's directory and ports, and starts its epmd; call start() next. */
export async function createRabbitMqNode(options: RabbitMqNodeOptions = {}): Promise<RabbitMqNode> {
  const scripts = await rabbitMqScriptsDir();
  const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), 'rabbitmq-node-'));
  const suffix = randomBytes(4).toString('hex');
  const nodeName = `${options.namePrefix ?? 'test'}-${suffix}@localhost`;
  let layout = rabbitMqNodeLayout(
    dir,
    { amqpPort: await freePort(), distPort: await freePort(), epmdPort: await freePort() },
    nodeName,
  );
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let epmd: GroupProcess | undefined;
  let server: GroupProcess | undefined;
  let everStarted = false;
  let removed = false;

  const writeFiles = async (): Promise<void> => {
    await mkdir(layout.home, { recursive: true });
    await mkdir(layout.configDir, { recursive: true });
    const cookie = join(layout.home, '.erlang.cookie');
    if (!(await exists(cookie))) {
      // Erlang refuses a cookie file that others may read.
      await writeFile(cookie, randomBytes(20).toString('hex').toUpperCase(), { mode: 0o400 });
    }
    await writeFile(layout.configFile, rabbitMqConfig(layout));
    await writeFile(layout.enabledPluginsFile, '[].\n');
    await writeFile(layout.confEnvFile, '');
  };

  const startEpmd = async (): Promise<void> => {
    if (epmd !== undefined && !epmd.exited) return;
    const env = rabbitMqNodeEnv(layout);
    const child = await spawnGroup(
      'epmd',
      ['-port', String(layout.epmdPort), '-address', '127.0.0.1'],
      { cwd: dir, env, logFile: join(dir, 'epmd.log') },
    );
    epmd = child;
    const deadline = Date.now() + 10_000;
    while (!(await canConnectTcp(layout.epmdPort))) {
      if (child.exited || Date.now() > deadline) {
        throw new Error(
          `epmd did not listen on ${layout.epmdPort}: ${await tail(join(dir, 'epmd.log'))}`,
        );
      }
      await sleep(50);
    }
  };

  const startOnce = async (): Promise<RabbitMqStartReport> => {
    await writeFiles();
    await startEpmd();
    const started = Date.now();
    const current = await spawnGroup(join(scripts, 'rabbitmq-server'), [], {
      cwd: dir,
      env: rabbitMqNodeEnv(layout),
      logFile: layout.consoleLog,
    });
    server = current;
    const url = urlOf(layout.amqpPort);
    const deadline = started + timeoutMs;
    for (;;) {
      if (current.exited) {
        await current.stop(0);
        throw new NodeStartError(
          `RabbitMQ node ${nodeName} exited during start-up (${dir}):\n${await startupLog(layout)}`,
        );
      }
      if (await canConnectAmqp(url)) break;
      if (Date.now() > deadline) {
        await current.stop(10_000);
        throw new Error(
          `RabbitMQ node ${nodeName} did not accept AMQP within ${timeoutMs} ms:\n${await startupLog(layout)}`,
        );
      }
      await sleep(100);
    }
    everStarted = true;
    return { startupMs: Date.now() - started };
  };

  const start = async (): Promise<RabbitMqStartReport> => {
    if (removed) throw new Error(`RabbitMQ node ${nodeName} was cleaned up`);
    if (server !== undefined && !server.exited) throw new Error(`${nodeName} is running already`);
    // A port taken between our probe and the node's bind: before the first start the node has
    // no clients yet, so it may move to other ports; afterwards its URL must stay.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await startOnce();
      } catch (error) {
        const clash = error instanceof NodeStartError && /eaddrinuse/i.test(error.message);
        if (everStarted || !clash || attempt >= 3) throw error;
        await epmd?.stop(5_000);
        layout = rabbitMqNodeLayout(
          dir,
          { amqpPort: await freePort(), distPort: await freePort(), epmdPort: await freePort() },
          nodeName,
        );
      }
    }
  };

  const stop = async (): Promise<void> => {
    await server?.stop(30_000);
  };

  return {
    get url() {
      return urlOf(layout.amqpPort);
    },
    get amqpPort() {
      return layout.amqpPort;
    },
    get distPort() {
      return layout.distPort;
    },
    nodeName,
    dir,
    get logFile() {
      return join(layout.logBase, `${nodeName}.log`);
    },
    get running() {
      return server !== undefined && !server.exited;
    },
    start,
    stop,
    async kill() {
      await server?.kill();
    },
    async restart() {
      await stop();
      return start();
    },
    async ctl(args) {
      const { stdout } = await run(join(scripts, 'rabbitmqctl'), ['-n', nodeName, ...args], {
        env: rabbitMqNodeEnv(layout),
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    },
    async cleanup() {
      if (removed) return;
      removed = true;
      await stop();
      await epmd?.stop(5_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

class NodeStartError extends Error {}

function urlOf(port: number): string {
  return `amqp://guest:guest@127.0.0.1:${port}`;
}

/** The script's console (boot errors land there) and the node's own log. */
async function startupLog(layout: RabbitMqNodeLayout): Promise<string> {
  return [
    `console (${layout.consoleLog}):`,
    await tail(layout.consoleLog),
    `node log (${join(layout.logBase, `${layout.nodeName}.log`)}):`,
    await tail(join(layout.logBase, `${layout.nodeName}.log`)),
  ].join('\n');
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(none)';
  }
}

function canConnectTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.setTimeout(1_000, () => {
      done(false);
    });
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
