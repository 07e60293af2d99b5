import type Database from 'better-sqlite3';
import type { AppContext } from '../context.js';

/**
 * A store over the state database, made once per open database (a store creates its tables on
 * first use and prepares its statements once) and found again through the context.
 */
export function perStateDb<T>(make: (db: Database.Database) => T): (ctx: AppContext) => T {
  const made = new WeakMap<object, T>();
  return (ctx) => {
    const state = ctx.state();
    let s = made.get(state);
    if (s === undefined) {
      s = make(state.db);
      made.set(state, s);
    }
    return s;
  };
}

/**
 * What a read-only view reads from the state database, or `empty` when it cannot be read (none
 * yet, or unreadable): audit and account status show the rest rather than fail.
 */
export function storedOr<T>(read: () => T, empty: T): T {
  try {
    return read();
  } catch {
    return empty;
  }
}
