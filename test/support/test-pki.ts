import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertPair {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
  /**
   * Serial number as upper-case hex, exactly as Node's `X509Certificate.serialNumber` and
   * `openssl x509 -serial` print it (the blacklist file format, docs/protocol.md §3.3).
   */
  serial: string;
}

export type ClientKeyType = 'ec' | 'rsa' | 'ed25519';

export interface IssueClientOptions {
  /** Key of the leaf; the CA signs with ECDSA P-256/SHA-256 whatever the leaf key is. Default `ec`. */
  keyType?: ClientKeyType;
  /** Validity from now (ignored with `notAfterPast`). Default 365. */
  days?: number;
  /** Issue an already expired certificate (valid from 2 days ago until 1 day ago). */
  notAfterPast?: boolean;
  /**
   * Add an extendedKeyUsage extension. Default none: the docs' example leaf certificates carry no
   * EKU (docs/protocol.md §3.3), and Go only insists on clientAuth when an EKU is present.
   */
  extKeyUsage?: 'clientAuth' | 'serverAuth';
}

export interface TestPki {
  /** Private temp folder holding every key and certificate of this PKI. */
  dir: string;
  /** Self-signed EC P-256 root, `basicConstraints=critical,CA:true`. */
  ca: CertPair;
  issueServer(name: string, sans: { dns?: string[]; ips?: string[] }): Promise<CertPair>;
  issueClient(commonName: string, opts?: IssueClientOptions): Promise<CertPair>;
  cleanup(): Promise<void>;
}

/** `openssl genpkey` arguments per key type. RSA is 2048 bits: 3072 costs seconds per key in tests. */
const KEYGEN_ARGS: Record<ClientKeyType, string[]> = {
  ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pkeyopt', 'ec_param_enc:named_curve'],
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  ed25519: ['-algorithm', 'ED25519'],
};

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd, env: { ...process.env, OPENSSL_CONF: '/dev/null' } });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0] ?? ''} failed: ${stderr || String(error)}`, { cause: error });
  }
}

/** A positive 128-bit serial (high bit cleared so DER needs no sign byte; never zero). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex').toUpperCase();
}

/** `openssl ca` date format (GeneralizedTime, UTC). */
function caDate(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60) || 'cert';
}

/** A config of our own so the machine's openssl.cnf (and its default extensions) never leaks in. */
function reqConfig(commonName: string, extensions = ''): string {
  // Quote-free DN values: openssl config treats `#` and `$` specially, so escape them.
  const cn = commonName.replace(/[\\$#]/g, (c) => `\\${c}`);
  return `[req]\ndistinguished_name = dn\nprompt = no\nutf8 = yes\n[dn]\nCN = ${cn}\n${extensions}`;
}

/**
 * A throw-away CA driven through the `openssl` CLI (no network, no native deps). Everything is
 * EC P-256 / SHA-256 signed so that Node's OpenSSL and Go 1.19 (the real mender client 3.4)
 * accept it. Each leaf is issued with `openssl ca` and a one-shot database folder of its own,
 * which lets concurrent issuances (and parallel test files) never share mutable files, and
 * lets us set explicit validity dates (expired certificates for mTLS tests).
 */
export async function createTestPki(opts: { dir?: string; name?: string } = {}): Promise<TestPki> {
  const parent = opts.dir ?? tmpdir();
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, 'mender-gw-pki-'));
  const caName = opts.name ?? 'mender-gw test CA';
  let counter = 0;

  const caKeyPath = join(dir, 'ca.key');
  const caCertPath = join(dir, 'ca.crt');
  const caConf = join(dir, 'ca.cnf');
  await writeFile(
    caConf,
    reqConfig(
      caName,
      '[v3_ca]\nbasicConstraints = critical,CA:true\nkeyUsage = critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier = hash\n',
    ),
  );
  await openssl(['genpkey', ...KEYGEN_ARGS.ec, '-out', caKeyPath], dir);
  const caSerial = randomSerial();
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      caKeyPath,
      '-sha256',
      '-days',
      '3650',
      '-set_serial',
      `0x${caSerial}`,
    ].concat(['-config', caConf, '-extensions', 'v3_ca', '-out', caCertPath]),
    dir,
  );
  const ca: CertPair = {
    certPath: caCertPath,
    keyPath: caKeyPath,
    certPem: await readFile(caCertPath, 'utf8'),
    keyPem: await readFile(caKeyPath, 'utf8'),
    serial: caSerial,
  };

  async function issue(
    commonName: string,
    keyType: ClientKeyType,
    extensions: string[],
    validity: { start: Date; end: Date },
  ): Promise<CertPair> {
    counter += 1;
    const base = join(dir, `${slug(commonName)}-${counter}`);
    const work = `${base}.db`;
    await mkdir(work);
    const keyPath = `${base}.key`;
    const certPath = `${base}.crt`;
    const csrPath = join(work, 'req.csr');
    const reqConf = join(work, 'req.cnf');
    const signConf = join(work, 'sign.cnf');
    const serial = randomSerial();
    await writeFile(reqConf, reqConfig(commonName));
    await writeFile(join(work, 'index.txt'), '');
    await writeFile(join(work, 'serial'), `${serial}\n`);
    await writeFile(
      signConf,
      [
        '[ca]',
        'default_ca = ca_default',
        '[ca_default]',
        `database = ${join(work, 'index.txt')}`,
        `new_certs_dir = ${work}`,
        `serial = ${join(work, 'serial')}`,
        'default_md = sha256',
        'policy = policy_any',
        'unique_subject = no',
        'copy_extensions = none',
        'email_in_dn = no',
        '[policy_any]',
        'commonName = supplied',
        '[leaf]',
        ...extensions,
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        '',
      ].join('\n'),
    );
    await openssl(['genpkey', ...KEYGEN_ARGS[keyType], '-out', keyPath], dir);
    await openssl(['req', '-new', '-key', keyPath, '-config', reqConf, '-out', csrPath], dir);
    await openssl(
      [
        'ca',
        '-batch',
        '-notext',
        '-config',
        signConf,
        '-cert',
        ca.certPath,
        '-keyfile',
        ca.keyPath,
        '-in',
        csrPath,
      ].concat([
        '-out',
        certPath,
        '-extensions',
        'leaf',
        '-startdate',
        caDate(validity.start),
        '-enddate',
        caDate(validity.end),
      ]),
      dir,
    );
    await rm(work, { recursive: true, force: true });
    return {
      certPath,
      keyPath,
      certPem: await readFile(certPath, 'utf8'),
      keyPem: await readFile(keyPath, 'utf8'),
      serial,
    };
  }

  const DAY = 86_400_000;
  // Back-date a minute so a certificate is usable at once even with coarse clocks.
  const fromNow = (days: number): { start: Date; end: Date } => ({
    start: new Date(Date.now() - 60_000),
    end: new Date(Date.now() + days * DAY),
  });

  return {
    dir,
    ca,
    issueServer(name, sans) {
      const altNames = [
        ...(sans.dns ?? []).map((d) => `DNS:${d}`),
        ...(sans.ips ?? []).map((ip) => `IP:${ip}`),
      ];
      if (altNames.length === 0) throw new Error('issueServer needs at least one SAN: Go ignores the CN');
      return issue(
        name,
        'ec',
        [
          'basicConstraints = critical,CA:false',
          'keyUsage = critical,digitalSignature',
          'extendedKeyUsage = serverAuth',
          `subjectAltName = ${altNames.join(',')}`,
        ],
        fromNow(825),
      );
    },
    issueClient(commonName, options = {}) {
      const extensions = ['basicConstraints = CA:false'];
      if (options.extKeyUsage !== undefined) extensions.push(`extendedKeyUsage = ${options.extKeyUsage}`);
      const validity = options.notAfterPast
        ? { start: new Date(Date.now() - 2 * DAY), end: new Date(Date.now() - DAY) }
        : fromNow(options.days ?? 365);
      return issue(commonName, options.keyType ?? 'ec', extensions, validity);
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
