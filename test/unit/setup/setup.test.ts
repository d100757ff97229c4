import { describe, expect, it } from 'vitest';
import { interviewSetup } from '../../../src/cli/setup-interview.js';
import type { SetupFlags } from '../../../src/cli/setup-interview.js';
import {
  buildSetupConfig,
  checkSetupAnswers,
  defaultDomainWhitelist,
  redactSetupConfig,
  renderSetupConfig,
  resolveSetupPaths,
  SETUP_SCHEMA_URL,
} from '../../../src/core/setup/index.js';
import { createTestPki } from '../../support/test-pki.js';
import type { SetupAnswers } from '../../../src/core/setup/index.js';
import { isGatewayError } from '../../../src/core/errors.js';
import { scriptedPrompter } from './scripted-prompter.js';

const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0ITEyMzQ=';

function answers(overrides: Partial<SetupAnswers> = {}): SetupAnswers {
  return {
    upstreamUrl: 'https://hosted.mender.io',
    upstreamCa: undefined,
    gatewayName: 'gateway.site.test',
    gatewayIp: '10.0.0.1',
    httpsPort: 443,
    createCerts: true,
    certDir: '/etc/mender-gw/pki',
    serverCert: undefined,
    serverKey: undefined,
    artifactsProxy: true,
    domainWhitelist: ['s3.amazonaws.com'],
    cache: true,
    cachePath: '/var/cache/mender-gateway',
    signatureSecret: SECRET,
    mtls: false,
    mtlsCa: undefined,
    menderUsername: undefined,
    menderPassword: undefined,
    systemId: undefined,
    keepCaKey: true,
    ...overrides,
  };
}

function failure(fn: () => unknown): { code: string; message: string; details: unknown } {
  try {
    fn();
  } catch (err) {
    if (!isGatewayError(err)) throw err;
    return { code: err.code, message: err.message, details: err.details };
  }
  throw new Error('expected a failure');
}

describe('buildSetupConfig', () => {
  it('the whole document, in a stable key order', () => {
    expect(renderSetupConfig(buildSetupConfig(answers()))).toBe(`{
  "$schema": "${SETUP_SCHEMA_URL}",
  "UpstreamServer": {
    "URL": "https://hosted.mender.io"
  },
  "HTTP": {
    "Enabled": false
  },
  "HTTPS": {
    "Enabled": true,
    "Listen": ":443",
    "MinimumTLSVersion": "1.2",
    "ServerCertificate": "/etc/mender-gw/pki/server.crt",
    "ServerKey": "/etc/mender-gw/pki/server.key"
  },
  "Features": {
    "ArtifactsProxy": {
      "Enabled": true,
      "GatewayURL": "https://gateway.site.test",
      "DomainWhitelist": [
        "s3.amazonaws.com"
      ],
      "ArtifactsCache": {
        "Enabled": true,
        "Path": "/var/cache/mender-gateway",
        "SignatureSecret": "${SECRET}",
        "LinkExpireDuration": "24h"
      }
    },
    "mTLS": {
      "Enabled": false
    },
    "DeviceSystem": {
      "Enabled": false
    }
  }
}
`);
  });

  it('mTLS with the created CA and its loopback health listener, Device System, IPv6 listen address, a custom port, an upstream CA', () => {
    const config = buildSetupConfig(
      answers({
        gatewayIp: 'fd00::1',
        listenAddress: 'fd00::1',
        httpsPort: 8443,
        upstreamCa: '/etc/ssl/upstream-ca.pem',
        mtls: true,
        menderUsername: 'gw@example.com',
        menderPassword: 'pw',
        systemId: 'ward-7',
      }),
    );
    expect(config).toMatchObject({
      UpstreamServer: { URL: 'https://hosted.mender.io', CACertificate: '/etc/ssl/upstream-ca.pem' },
      HTTP: { Enabled: true, Listen: '127.0.0.1:8080' },
      HTTPS: { Listen: '[fd00::1]:8443' },
      Features: {
        ArtifactsProxy: { GatewayURL: 'https://gateway.site.test:8443' },
        mTLS: {
          Enabled: true,
          CACertificate: '/etc/mender-gw/pki/ca.crt',
          MenderUsername: 'gw@example.com',
          MenderPassword: 'pw',
        },
        DeviceSystem: { Enabled: true, SystemID: 'ward-7' },
      },
    });
    expect(JSON.stringify(redactSetupConfig(config))).not.toMatch(/"pw"|c2VjcmV0/);
  });

  it('existing certificate files, no proxy, all interfaces', () => {
    const config = buildSetupConfig(
      answers({
        createCerts: false,
        serverCert: '/srv/server.crt',
        serverKey: '/srv/server.key',
        gatewayIp: undefined,
        artifactsProxy: false,
        cache: false,
      }),
    );
    expect(config).toMatchObject({
      HTTPS: { Listen: ':443', ServerCertificate: '/srv/server.crt', ServerKey: '/srv/server.key' },
      Features: { ArtifactsProxy: { Enabled: false, GatewayURL: 'https://gateway.site.test' } },
    });
  });

  it('resolveSetupPaths makes every path absolute', () => {
    const resolved = resolveSetupPaths(
      answers({ certDir: 'pki', cachePath: 'cache', upstreamCa: 'up.pem', mtlsCa: '../ca.pem' }),
      '/work/site',
    );
    expect(resolved).toMatchObject({
      certDir: '/work/site/pki',
      cachePath: '/work/site/cache',
      upstreamCa: '/work/site/up.pem',
      mtlsCa: '/work/ca.pem',
    });
  });
});

describe('checkSetupAnswers', () => {
  it('lists every problem in one error', () => {
    const error = failure(() =>
      checkSetupAnswers(
        answers({
          upstreamUrl: 'hosted.mender.io',
          gatewayName: 'gate_way',
          gatewayIp: '10.0.0.300',
          createCerts: false,
          mtls: true,
        }),
      ),
    );
    expect(error.code).toBe('MGW_SETUP_INVALID_INPUT');
    expect((error.details as { problems: { message: string }[] }).problems.map((p) => p.message)).toEqual([
      'upstream URL "hosted.mender.io" is not an absolute URL',
      'gateway name: "gate_way" is not a valid host name (label "gate_way")',
      'gateway address: "10.0.0.300" is not an IP address',
      'the server certificate is missing',
      'the server key is missing',
      'the CA of the device certificates is missing',
      'the Mender user for preauthorization is missing',
      'the Mender password is missing',
    ]);
  });

  it('the cache needs the proxy; the proxy needs storage domains; the secret must be usable', () => {
    expect(failure(() => checkSetupAnswers(answers({ artifactsProxy: false, cache: true }))).message).toBe(
      'the artifacts cache needs the artifacts proxy',
    );
    expect(failure(() => checkSetupAnswers(answers({ domainWhitelist: [] }))).message).toBe(
      'the artifacts proxy has no storage domains to download from',
    );
    expect(failure(() => checkSetupAnswers(answers({ signatureSecret: 'c2hvcnQ=' }))).message).toBe(
      'the signature secret is not base64 of at least 16 bytes',
    );
  });

  it('canonical forms: trailing slash dropped, name lower-cased, IPv6 compressed', () => {
    expect(
      checkSetupAnswers(
        answers({
          upstreamUrl: 'https://mender.example.com/',
          gatewayName: 'GW.Site.Test',
          gatewayIp: 'FD00:0::1',
        }),
      ),
    ).toMatchObject({
      upstreamUrl: 'https://mender.example.com',
      gatewayName: 'gw.site.test',
      gatewayIp: 'fd00::1',
    });
  });

  it('defaultDomainWhitelist: hosted Mender storage, else the upstream host', () => {
    expect(defaultDomainWhitelist('https://eu.hosted.mender.io')).toEqual([
      's3.amazonaws.com',
      'cloudflarestorage.com',
      'blob.core.windows.net',
    ]);
    expect(defaultDomainWhitelist('https://Mender.Example.com:8443')).toEqual(['mender.example.com']);
  });
});

describe('interviewSetup', () => {
  const out = '/srv/gw/mender-gateway.conf';

  it('non-interactive: every missing required flag in one error', async () => {
    const error = await interviewSetup({ out, mtls: true }, { interactive: false }).catch(
      (err: unknown) => err,
    );
    expect(isGatewayError(error) && error.code).toBe('MGW_SETUP_INVALID_INPUT');
    expect((error as Error).message).toBe(
      'missing required input: --upstream-url, --gateway-name, --create-certs or --server-cert/--server-key, --mender-username, --mender-password (or env MTLS_MENDER_PASSWORD)',
    );
  });

  it('non-interactive: flags and defaults', async () => {
    const flags: SetupFlags = {
      out,
      'upstream-url': 'https://hosted.mender.io',
      'gateway-name': 'gateway.site.test',
      'create-certs': true,
      'keep-ca-key': true,
    };
    expect(await interviewSetup(flags, { interactive: false, generateSecret: () => SECRET })).toEqual(
      answers({
        gatewayIp: undefined,
        certDir: '/srv/gw/pki',
        domainWhitelist: ['s3.amazonaws.com', 'cloudflarestorage.com', 'blob.core.windows.net'],
        signatureSecretGenerated: true,
        keepCaKey: true,
        caKeyOut: undefined,
        listenAddress: undefined,
        healthPort: undefined,
        serviceGroup: undefined,
      }),
    );
  });

  it('interactive: asks what the flags leave open, in order, and nothing else', async () => {
    const prompter = scriptedPrompter([
      { input: /^Upstream Mender server URL/, answer: 'https://mender.example.com' },
      { input: /private CA/, answer: '' },
      { input: /^DNS name devices use/, answer: 'gateway.site.test' },
      { input: /^IP address devices use/, answer: 'fd00::1' },
      { input: /^HTTPS port/, answer: '8443' },
      { select: /^TLS certificate/, answer: 'create' },
      { input: /^Directory for the CA/, answer: '' },
      { input: /^File for the CA private key/, answer: '/media/usb/ca.key' },
      { confirm: /artifacts proxy/, answer: 'default' },
      { input: /^Storage host names/, answer: '' },
      { confirm: /^Cache artifacts/, answer: true },
      { input: /^Cache directory/, answer: '/tmp/mgw-unit-cache' },
      { confirm: /mTLS/, answer: true },
      { input: /^CA certificate that signs the device certificates/, answer: '' },
      { input: /^Mender user/, answer: 'gw@example.com' },
      { password: /^Password of gw@example.com/, answer: 's3cret' },
      { confirm: /Device System/, answer: true },
      { input: /^System ID/, answer: 'ward-7' },
      { input: /^Group of the service user/, answer: '' },
    ]);
    const result = await interviewSetup(
      { out },
      { interactive: true, prompter, generateSecret: () => SECRET },
    );
    expect(prompter.remaining()).toBe(0);
    expect(result).toEqual(
      answers({
        upstreamUrl: 'https://mender.example.com',
        gatewayIp: 'fd00::1',
        httpsPort: 8443,
        certDir: '/srv/gw/pki',
        domainWhitelist: ['mender.example.com'],
        cachePath: '/tmp/mgw-unit-cache',
        mtls: true,
        menderUsername: 'gw@example.com',
        menderPassword: 's3cret',
        systemId: 'ward-7',
        signatureSecretGenerated: true,
        keepCaKey: false,
        caKeyOut: '/media/usb/ca.key',
        listenAddress: undefined,
        healthPort: undefined,
        serviceGroup: undefined,
      }),
    );
  });

  it('interactive with flags given: only the open questions; files checked as typed', async () => {
    const pki = await createTestPki();
    const server = await pki.issueServer('gateway.site.test', { dns: ['gateway.site.test'] });
    const other = await pki.issueServer('other.site.test', { dns: ['other.site.test'] });
    const prompter = scriptedPrompter([
      { input: /private CA/, answer: server.keyPath, refused: /holds no PEM certificate/ },
      { input: /private CA/, answer: '' },
      { input: /^IP address devices use/, answer: '' },
      { input: /^Server certificate/, answer: other.certPath, refused: /does not cover the gateway name/ },
      { input: /^Server certificate/, answer: server.certPath },
      { input: /^Server private key/, answer: other.keyPath, refused: /does not match/ },
      { input: /^Server private key/, answer: server.keyPath },
      { confirm: /Device System/, answer: false },
      { input: /^Group of the service user/, answer: 'no-such-group-here', refused: /there is no group/ },
      { input: /^Group of the service user/, answer: '' },
    ]);
    const result = await interviewSetup(
      {
        out,
        'upstream-url': 'https://hosted.mender.io',
        'gateway-name': 'gateway.site.test',
        'https-port': 443,
        'create-certs': false,
        'artifacts-proxy': false,
        mtls: false,
      },
      { interactive: true, prompter, generateSecret: () => SECRET },
    );
    await pki.cleanup();
    expect(prompter.remaining()).toBe(0);
    expect(result).toMatchObject({
      gatewayIp: undefined,
      createCerts: false,
      serverCert: server.certPath,
      artifactsProxy: false,
      cache: false,
    });
  });

  it('mTLS CA typed at the prompt: a server certificate is refused, a CA accepted', async () => {
    const pki = await createTestPki();
    const server = await pki.issueServer('gateway.site.test', { dns: ['gateway.site.test'] });
    const prompter = scriptedPrompter([
      {
        input: /^CA certificate that signs the device certificates/,
        answer: server.certPath,
        refused: /is not a CA certificate/,
      },
      { input: /^CA certificate that signs the device certificates/, answer: pki.ca.certPath },
    ]);
    const result = await interviewSetup(
      {
        out,
        'upstream-url': 'https://hosted.mender.io',
        'upstream-ca': pki.ca.certPath,
        'gateway-name': 'gateway.site.test',
        'gateway-ip': '10.0.0.1',
        'https-port': 443,
        'server-cert': server.certPath,
        'server-key': server.keyPath,
        'artifacts-proxy': false,
        mtls: true,
        'mender-username': 'gw@example.com',
        'mender-password': 'pw',
        'system-id': 'ward-7',
        'service-group': 'root',
      },
      { interactive: true, prompter, generateSecret: () => SECRET },
    );
    await pki.cleanup();
    expect(prompter.remaining()).toBe(0);
    expect(result.mtlsCa).toBe(pki.ca.certPath);
  });

  it('Ctrl-C in a prompt rejects with ExitPromptError (the command exits 130)', async () => {
    const prompter = scriptedPrompter([{ ctrlC: true }]);
    const error = await interviewSetup({ out }, { interactive: true, prompter }).catch((err: unknown) => err);
    expect((error as Error).name).toBe('ExitPromptError');
  });

  it('an interactive answer goes through the same check as the flag', async () => {
    const prompter = scriptedPrompter([
      { input: /^Upstream Mender server URL/, answer: 'ftp://mender.example.com' },
    ]);
    await expect(interviewSetup({ out }, { interactive: true, prompter })).rejects.toThrow(
      /refused: upstream URL "ftp:\/\/mender.example.com" uses ftp:/,
    );
  });
});
