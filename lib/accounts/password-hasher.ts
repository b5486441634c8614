import { randomUUID } from 'node:crypto';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { Counter, type Registry } from 'prom-client';
import { policy } from '../policy/policy.js';

/** @node-rs/argon2 declares its algorithms as an ambient const enum, which isolated modules
 *  cannot reference by name; 2 is its Argon2id member (the library's default as well). */
const ARGON2ID: Algorithm = 2;

export interface Argon2idParameters {
  memoryCostKiB: number;
  timeCost: number;
  parallelism: number;
}

/**
 * argon2id password hashing. Hashes are PHC strings carrying their own parameters and salt.
 *
 * @node-rs/argon2 rather than `argon2` (node-argon2): it ships one prebuilt package per
 * platform through the registry and has no install script, so `npm install` in the node:20
 * bookworm image needs no compiler and no script approval; node-argon2 0.45.1's bundled
 * linux-x64 glibc binary crashed (SIGSEGV) on load on Debian bookworm here. Hashing runs off
 * the event loop (libuv's thread pool).
 */
export class PasswordHasher {
  readonly #options: {
    algorithm: Algorithm;
    memoryCost: number;
    timeCost: number;
    parallelism: number;
  };
  /** A real hash of a random password, verified against when the account does not exist.
   *  Made at construction, so that even the first unknown username costs no extra hash. */
  readonly #decoy: Promise<string>;
  /** Every argon2id verification, real or decoy: equal counts for wrong passwords and unknown
   *  usernames are the observable proof that both paths do the same work. */
  readonly #verifications: Counter | undefined;

  constructor(
    parameters: Argon2idParameters = policy.accounts.passwords.argon2id,
    registry?: Registry,
  ) {
    this.#verifications = registry
      ? new Counter({
          name: 'auth_password_verifications_total',
          help: 'argon2id password verifications, including the decoy ones for unknown usernames',
          registers: [registry],
        })
      : undefined;
    this.#options = {
      algorithm: ARGON2ID,
      memoryCost: parameters.memoryCostKiB,
      timeCost: parameters.timeCost,
      parallelism: parameters.parallelism,
    };
    this.#decoy = this.hash(randomUUID());
    // Awaited by every unknown-username login; this only keeps a failure (which would surface
    // there) from also being reported as an unhandled rejection.
    this.#decoy.catch(() => {});
  }

  hash(password: string): Promise<string> {
    return hash(password, this.#options);
  }

  /** True when `password` matches; false for a mismatch or a malformed stored hash. */
  async verify(storedHash: string, password: string): Promise<boolean> {
    this.#verifications?.inc();
    try {
      return await verify(storedHash, password);
    } catch {
      return false;
    }
  }

  /**
   * Spends what verify() spends, for a login whose account does not exist, so that the answer
   * time does not tell an attacker which usernames exist. Always false.
   */
  async verifyWithoutAccount(password: string): Promise<false> {
    await this.verify(await this.#decoy, password);
    return false;
  }
}
