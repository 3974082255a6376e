// `queuectl config list|get|set|unset`. Values arrive as typed ("1.50", "007") and are validated by
// the core's parseConfigValue.

import { CONFIG_KEYS, type ConfigKey, KEY_NAMES, normalizeKey, parseConfigValue, readConfigFile, show, updateConfig } from '../../config.js';
import { type Context, flag } from '../context.js';
import { pc, printJson, table } from '../format.js';
import type { Input } from '../spec.js';

/** The JSON of one key, as get, set and unset print it. */
function keyJson(key: ConfigKey, value: number | boolean | undefined) {
  return { key, value: value ?? CONFIG_KEYS[key].default, default: CONFIG_KEYS[key].default, set: value !== undefined };
}

export async function configGet(ctx: Context, input: Input): Promise<void> {
  const key = normalizeKey(input.args[0]);
  const values = await readConfigFile(await ctx.store());
  if (flag(input, 'json')) return printJson(ctx.out, keyJson(key, values[key]));
  ctx.out(show(key, values[key] ?? CONFIG_KEYS[key].default));
}

/** Validates before the lock is taken: a refused value leaves config.json (or its absence) as it was. */
export async function configSet(ctx: Context, input: Input): Promise<void> {
  const key = normalizeKey(input.args[0]);
  const value = parseConfigValue(key, input.args[1]);
  await updateConfig(await ctx.store(), key, value);
  if (flag(input, 'json')) return printJson(ctx.out, keyJson(key, value));
  ctx.out(`${key} = ${show(key, value)}`);
}

export async function configUnset(ctx: Context, input: Input): Promise<void> {
  const key = normalizeKey(input.args[0]);
  await updateConfig(await ctx.store(), key, undefined);
  if (flag(input, 'json')) return printJson(ctx.out, keyJson(key, undefined));
  ctx.out(`${key} = ${show(key, CONFIG_KEYS[key].default)} (default)`);
}

export async function configList(ctx: Context, input: Input): Promise<void> {
  const values = await readConfigFile(await ctx.store());
  if (flag(input, 'json')) {
    return printJson(ctx.out, Object.fromEntries(KEY_NAMES.map((k) => {
      const { value, default: def, set } = keyJson(k, values[k]);
      return [k, { value, default: def, set, help: CONFIG_KEYS[k].help }];
    })));
  }
  const rows = KEY_NAMES.map((k) => [
    k,
    k in values ? pc.bold(show(k, values[k]!)) : show(k, CONFIG_KEYS[k].default),
    show(k, CONFIG_KEYS[k].default),
    CONFIG_KEYS[k].help,
  ]);
  for (const line of table(['KEY', 'VALUE', 'DEFAULT', 'MEANING'], rows, ctx.columns)) ctx.out(line);
}
