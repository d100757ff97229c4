import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { confirm, input, password, select } from '@inquirer/prompts';
import { GatewayError, toGatewayError } from '../core/errors.js';
import {
  checkCacheDirectory,
  checkCaKeyOut,
  checkMtlsCaFile,
  checkServerCertificateFile,
  checkServerCertificateNames,
  checkServerKeyFile,
  checkUpstreamCaFile,
  resolveServiceGroup,
  checkGatewayIp,
  checkGatewayName,
  checkNonEmpty,
  checkPort,
  checkSignatureSecret,
  checkUpstreamUrl,
  defaultDomainWhitelist,
  generateSignatureSecret,
  parseDomainWhitelist,
  SETUP_DEFAULTS,
  setupCertificatePaths,
} from '../core/setup/index.js';
import type { SetupAnswers } from '../core/setup/index.js';
import { validateWith } from './cert-issue.js';

/**
 * The `config init` interview: every answer comes from its flag when given, else from a
 * prompt in an interactive session, else from its default, or, when it has none, it is
 * reported missing (all missing flags in one error). The prompts are behind
 * {@link SetupPrompter} so tests can answer them without a terminal.
 */

/** A prompt validator: true, or why the answer is refused (the prompt then asks again). */
export type Validator = (value: string) => string | true | Promise<string | true>;

/** A validator from an async core check that throws GatewayError. */
export function validateAsync(check: (value: string) => Promise<unknown>): Validator {
  return async (value) => {
    try {
      await check(value);
      return true;
    } catch (err) {
      const error = toGatewayError(err);
      return error.hint === undefined ? error.message : `${error.message} (${error.hint})`;
    }
  };
}

/** The four @inquirer/prompts the wizard uses; tests pass a scripted fake. */
export interface SetupPrompter {
  input(question: {
    message: string;
    default?: string;
    /** Refuse an empty answer (default true). */
    required?: boolean;
    validate?: Validator;
  }): Promise<string>;
  password(question: { message: string; validate?: Validator }): Promise<string>;
  confirm(question: { message: string; default: boolean }): Promise<boolean>;
  select<T extends string>(question: {
    message: string;
    choices: { name: string; value: T; description?: string }[];
    default?: T;
  }): Promise<T>;
}

export const inquirerSetupPrompter: SetupPrompter = {
  input: (question) =>
    input({
      message: question.message,
      required: question.required ?? true,
      ...(question.default === undefined ? {} : { default: question.default }),
      ...(question.validate === undefined ? {} : { validate: question.validate }),
    }),
  password: (question) =>
    // No mask: echoing one "*" per character would show the password's length.
    password({
      message: question.message,
      ...(question.validate === undefined ? {} : { validate: question.validate }),
    }),
  confirm: (question) => confirm({ message: question.message, default: question.default }),
  select: (question) =>
    select({
      message: question.message,
      choices: question.choices,
      ...(question.default === undefined ? {} : { default: question.default }),
    }),
};

/** The command's flags as the interview reads them (undefined = not given). */
export interface SetupFlags {
  out: string;
  'upstream-url'?: string | undefined;
  'upstream-ca'?: string | undefined;
  'gateway-name'?: string | undefined;
  'gateway-ip'?: string | undefined;
  'https-port'?: number | undefined;
  'create-certs'?: boolean | undefined;
  'cert-dir'?: string | undefined;
  'server-cert'?: string | undefined;
  'server-key'?: string | undefined;
  'artifacts-proxy'?: boolean | undefined;
  'domain-whitelist'?: string[] | undefined;
  'enable-cache'?: boolean | undefined;
  'cache-path'?: string | undefined;
  'signature-secret'?: string | undefined;
  mtls?: boolean | undefined;
  'mtls-ca'?: string | undefined;
  'mender-username'?: string | undefined;
  'mender-password'?: string | undefined;
  'system-id'?: string | undefined;
  'listen-address'?: string | undefined;
  'health-port'?: number | undefined;
  'service-group'?: string | undefined;
  'ca-key-out'?: string | undefined;
  'keep-ca-key'?: boolean | undefined;
}

export interface InterviewOptions {
  interactive: boolean;
  prompter?: SetupPrompter | undefined;
  /** Base for the default --cert-dir (next to --out); default `process.cwd()`. */
  cwd?: string | undefined;
  /** Source of the generated SignatureSecret; tests make it deterministic. */
  generateSecret?: (() => string) | undefined;
}

const optional = (value: string): string | undefined => (value.trim() === '' ? undefined : value.trim());

/** Collect the answers; throws MGW_SETUP_INVALID_INPUT naming every missing flag when not interactive. */
export async function interviewSetup(flags: SetupFlags, options: InterviewOptions): Promise<SetupAnswers> {
  const ask = options.prompter ?? inquirerSetupPrompter;
  const interactive = options.interactive;
  const cwd = options.cwd ?? process.cwd();
  const missing: string[] = [];

  const required = async (
    value: string | undefined,
    flag: string,
    question: { message: string; default?: string; validate?: Validator },
  ): Promise<string> => {
    if (value !== undefined) return value;
    if (!interactive) {
      missing.push(flag);
      return '';
    }
    return (await ask.input({ ...question, required: true })).trim();
  };
  const boolean = async (
    value: boolean | undefined,
    message: string,
    fallback: boolean,
  ): Promise<boolean> => {
    if (value !== undefined) return value;
    return interactive ? ask.confirm({ message, default: fallback }) : fallback;
  };

  // The upstream server.
  const upstreamUrl = await required(flags['upstream-url'], '--upstream-url', {
    message: 'Upstream Mender server URL',
    default: 'https://hosted.mender.io',
    validate: validateWith(checkUpstreamUrl),
  });
  // Paths typed at a prompt are checked as given (relative to the working directory).
  const abs = (value: string): string => resolve(cwd, value.trim());
  let upstreamCa = flags['upstream-ca'];
  if (upstreamCa === undefined && interactive) {
    upstreamCa = optional(
      await ask.input({
        message: 'PEM file of a private CA that signs the upstream server (empty: the system CAs)',
        required: false,
        validate: (value) =>
          value.trim() === '' ? true : validateAsync((v) => checkUpstreamCaFile(abs(v)))(value),
      }),
    );
  }

  // How devices reach the gateway.
  const gatewayName = await required(flags['gateway-name'], '--gateway-name', {
    message: 'DNS name devices use to reach this gateway (e.g. gateway.site.example)',
    validate: validateWith(checkGatewayName),
  });
  let gatewayIp = flags['gateway-ip'];
  if (gatewayIp === undefined && interactive) {
    gatewayIp = optional(
      await ask.input({
        message:
          'IP address devices use to reach this gateway, for its certificate and hosts files (empty: none; the gateway listens on all interfaces either way)',
        required: false,
        validate: (value) => (value.trim() === '' ? true : validateWith(checkGatewayIp)(value)),
      }),
    );
  }
  let httpsPort = flags['https-port'];
  if (httpsPort === undefined) {
    httpsPort = interactive
      ? checkPort(
          await ask.input({
            message: 'HTTPS port devices connect to',
            default: String(SETUP_DEFAULTS.httpsPort),
            validate: validateWith(checkPort),
          }),
        )
      : SETUP_DEFAULTS.httpsPort;
  }

  // The gateway's TLS certificate.
  let createCerts = flags['create-certs'];
  if (
    createCerts === undefined &&
    (flags['server-cert'] !== undefined || flags['server-key'] !== undefined)
  ) {
    createCerts = false;
  }
  if (createCerts === undefined) {
    if (interactive) {
      createCerts =
        (await ask.select({
          message: 'TLS certificate of the gateway',
          choices: [
            {
              name: 'Create a new CA and a server certificate',
              value: 'create',
              description: 'Devices then trust the new CA (ServerCertificate in mender.conf).',
            },
            { name: 'Use an existing certificate and key', value: 'existing' },
          ],
          default: 'create',
        })) === 'create';
    } else {
      missing.push('--create-certs or --server-cert/--server-key');
      createCerts = false;
    }
  }
  const defaultCertDir = join(dirname(resolve(cwd, flags.out)), SETUP_DEFAULTS.certDirName);
  let certDir = flags['cert-dir'] ?? defaultCertDir;
  let serverCert = flags['server-cert'];
  let serverKey = flags['server-key'];
  if (createCerts) {
    if (flags['cert-dir'] === undefined && interactive) {
      certDir = (
        await ask.input({ message: 'Directory for the CA and server certificate', default: defaultCertDir })
      ).trim();
    }
  } else if (!missing.includes('--create-certs or --server-cert/--server-key')) {
    serverCert = await required(serverCert, '--server-cert', {
      message: `Server certificate (PEM file, chain allowed) for ${gatewayName}`,
      validate: validateAsync(async (value) => {
        await checkServerCertificateFile(abs(value));
        await checkServerCertificateNames(abs(value), gatewayName, gatewayIp);
      }),
    });
    const certificate = serverCert;
    serverKey = await required(serverKey, '--server-key', {
      message: 'Server private key (PEM file)',
      validate: validateAsync((value) => checkServerKeyFile(abs(value), abs(certificate))),
    });
  }
  let caKeyOut = flags['ca-key-out'];
  const keepCaKey = flags['keep-ca-key'] ?? false;
  if (createCerts && caKeyOut === undefined && !keepCaKey) {
    if (interactive) {
      const configFolder = dirname(resolve(cwd, flags.out));
      caKeyOut = (
        await ask.input({
          message: `File for the CA private key; take it off the gateway afterwards (not in ${configFolder})`,
          default: join(homedir(), 'mender-gw-ca', 'ca.key'),
          validate: validateWith((value) => {
            checkCaKeyOut(value);
            const path = abs(value);
            if (path.startsWith(`${configFolder}/`) || path.startsWith(`${resolve(cwd, certDir)}/`)) {
              throw new GatewayError('MGW_SETUP_INVALID_INPUT', `${path} is beside the configuration`, {
                hint: 'Choose a folder outside it, e.g. on removable media.',
              });
            }
            const certificate = path.replace(/\.key$/, '.crt');
            for (const file of [path, certificate]) {
              if (existsSync(file)) {
                throw new GatewayError('MGW_SETUP_INVALID_INPUT', `${file} already exists`, {
                  hint: 'Choose another file name; an existing CA is never replaced.',
                });
              }
            }
          }),
        })
      ).trim();
    } else if (!missing.includes('--create-certs or --server-cert/--server-key')) {
      missing.push('--ca-key-out PATH (or --keep-ca-key)');
    }
  }

  // Artifacts proxy and cache.
  const artifactsProxy = await boolean(
    flags['artifacts-proxy'],
    'Route artifact downloads through the gateway (artifacts proxy)?',
    true,
  );
  let domainWhitelist = flags['domain-whitelist'] ?? [];
  let cache = false;
  let cachePath = flags['cache-path'] ?? SETUP_DEFAULTS.cachePath;
  if (artifactsProxy) {
    if (flags['domain-whitelist'] === undefined) {
      const suggested = defaultDomainWhitelist(upstreamUrl);
      domainWhitelist = interactive
        ? parseDomainWhitelist(
            await ask.input({
              message: 'Storage host names the gateway may download artifacts from (comma-separated)',
              default: suggested.join(', '),
              validate: validateWith(parseDomainWhitelist),
            }),
          )
        : suggested;
    } else {
      domainWhitelist = parseDomainWhitelist(domainWhitelist.join(','));
    }
    cache = await boolean(flags['enable-cache'], 'Cache artifacts on disk?', true);
    if (cache && flags['cache-path'] === undefined && interactive) {
      cachePath = (
        await ask.input({
          message: 'Cache directory',
          default: SETUP_DEFAULTS.cachePath,
          validate: validateAsync((value) => checkCacheDirectory(abs(value))),
        })
      ).trim();
    }
  } else if (flags['enable-cache'] === true) {
    cache = true; // refused by checkSetupAnswers with a hint
  }
  const signatureSecretGenerated = flags['signature-secret'] === undefined;
  const signatureSecret =
    flags['signature-secret'] === undefined
      ? (options.generateSecret ?? generateSignatureSecret)()
      : checkSignatureSecret(flags['signature-secret']);

  // mTLS.
  const mtls = await boolean(
    flags.mtls,
    'Require device client certificates (mTLS) and auto-accept the devices they identify?',
    false,
  );
  let mtlsCa = flags['mtls-ca'];
  let menderUsername = flags['mender-username'];
  let menderPassword = flags['mender-password'];
  if (mtls) {
    const certsUndecided = missing.includes('--create-certs or --server-cert/--server-key');
    const checkCa = validateAsync((value) => checkMtlsCaFile(abs(value)));
    if (mtlsCa === undefined && !createCerts && !certsUndecided) {
      mtlsCa = await required(undefined, '--mtls-ca', {
        message: 'CA certificate that signs the device certificates',
        validate: checkCa,
      });
    } else if (mtlsCa === undefined && createCerts && interactive) {
      mtlsCa = optional(
        await ask.input({
          message: 'CA certificate that signs the device certificates (empty: the CA created above)',
          required: false,
          validate: (value) => (value.trim() === '' ? true : checkCa(value)),
        }),
      );
    }
    menderUsername = await required(menderUsername, '--mender-username', {
      message: 'Mender user the gateway logs in as to preauthorize devices',
    });
    if (menderPassword === undefined) {
      if (interactive) {
        menderPassword = await ask.password({
          message: `Password of ${menderUsername}`,
          validate: validateWith((v) => checkNonEmpty(v, 'the password', 'Type the password.')),
        });
      } else {
        missing.push('--mender-password (or env MTLS_MENDER_PASSWORD)');
      }
    }
  }

  // Device System.
  let systemId = flags['system-id'];
  if (
    systemId === undefined &&
    interactive &&
    (await ask.confirm({
      message: 'Add a gateway system ID to the inventory of every device (Device System)?',
      default: false,
    }))
  ) {
    systemId = await required(undefined, '--system-id', { message: 'System ID' });
  }

  // Who may read the configuration and the server key.
  let serviceGroup = flags['service-group'];
  if (serviceGroup === undefined && interactive) {
    serviceGroup = optional(
      await ask.input({
        message:
          'Group of the service user that must read the configuration and server key (e.g. mender-gw; empty: root only)',
        required: false,
        validate: (value) =>
          value.trim() === '' ? true : validateAsync((v) => resolveServiceGroup(v))(value),
      }),
    );
  }

  if (missing.length > 0) {
    throw new GatewayError('MGW_SETUP_INVALID_INPUT', `missing required input: ${missing.join(', ')}`, {
      hint: 'Pass them as flags (prompts are offered only in an interactive terminal without --no-prompt, --json or CI).',
      details: { missing },
    });
  }

  return {
    upstreamUrl,
    upstreamCa,
    gatewayName,
    gatewayIp,
    httpsPort,
    createCerts,
    certDir: createCerts ? certDir : defaultCertDir,
    serverCert: createCerts ? undefined : serverCert,
    serverKey: createCerts ? undefined : serverKey,
    artifactsProxy,
    domainWhitelist,
    cache,
    cachePath,
    signatureSecret,
    signatureSecretGenerated,
    mtls,
    mtlsCa: mtls ? mtlsCa : undefined,
    menderUsername: mtls ? menderUsername : undefined,
    menderPassword: mtls ? menderPassword : undefined,
    systemId,
    listenAddress: flags['listen-address'],
    healthPort: flags['health-port'],
    serviceGroup,
    caKeyOut: createCerts && !keepCaKey ? caKeyOut : undefined,
    keepCaKey: createCerts ? keepCaKey : undefined,
  };
}

/** The created CA (when --create-certs), for the next-steps text. */
export function createdCaPath(answers: SetupAnswers): string | undefined {
  return answers.createCerts ? setupCertificatePaths(resolve(answers.certDir)).caCert : undefined;
}
