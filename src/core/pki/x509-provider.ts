/**
 * The one place that loads @peculiar/x509. It resolves its ASN.1 helpers through tsyringe,
 * which throws "tsyringe requires a reflect polyfill" unless `reflect-metadata` is loaded
 * first (docs/decisions.md §8), and it must run on Node's WebCrypto. Every
 * module under `src/core/pki/` imports `x509` from here, never from the package directly.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509 };
