// `queuectl config get|set|unset|list`.

import pc from 'picocolors';
import { CONFIG_KEYS, KEY_NAMES, normalizeKey, parseConfigValue, readConfigFile, show, updateConfig } from '../../config.js';
import { InputError } from '../../errors.js';
import type { Context } from '../context.js';
import { printJson, table } from '../format.js';

export const CONFIG_ACTIONS = ['get', 'set', 'unset', 'list'] as const;

export async function configCommand(ctx: Context, action: string | undefined, args: string[], flags: { json?: boolean }): Promise<void> {
  // Values come from argv as typed: cac would turn "1.50" into 1.5 and "007" into 7.
  const at = ctx.argv.indexOf(action ?? 'list');
  const raw = at >= 0 ? ctx.argv.slice(at + 1).filter((a) => !a.startsWith('--')) : args.map(String);
  const store = await ctx.store();
  switch (action ?? 'list') {
    case 'get': {
      if (raw.length !== 1) throw new InputError('Expected one key: queuectl config get KEY');
      const key = normalizeKey(raw[0]);
      const values = await readConfigFile(store);
      const value = values[key] ?? CONFIG_KEYS[key].default;
      if (flags.json) return printJson(ctx.out, { key, value, default: CONFIG_KEYS[key].default, set: key in values });
      ctx.out(show(key, value));
      return;
    }
    case 'set': {
      if (raw.length !== 2) throw new InputError('Expected a key and a value: queuectl config set KEY VALUE');
      const key = normalizeKey(raw[0]);
      const value = parseConfigValue(key, raw[1]);
      await updateConfig(store, key, value);
      ctx.out(`${key} = ${show(key, value)}`);
      return;
    }
    case 'unset': {
      if (raw.length !== 1) throw new InputError('Expected one key: queuectl config unset KEY');
      const key = normalizeKey(raw[0]);
      await updateConfig(store, key, undefined);
      ctx.out(`${key} = ${show(key, CONFIG_KEYS[key].default)} (default)`);
      return;
    }
    case 'list': {
      const values = await readConfigFile(store);
      if (flags.json) {
        return printJson(ctx.out, Object.fromEntries(KEY_NAMES.map((k) => [k, { value: values[k] ?? CONFIG_KEYS[k].default, default: CONFIG_KEYS[k].default, set: k in values, help: CONFIG_KEYS[k].help }])));
      }
      const rows = KEY_NAMES.map((k) => [
        k,
        k in values ? pc.bold(show(k, values[k]!)) : show(k, CONFIG_KEYS[k].default),
        show(k, CONFIG_KEYS[k].default),
        CONFIG_KEYS[k].help,
      ]);
      for (const line of table(['KEY', 'VALUE', 'DEFAULT', 'MEANING'], rows)) ctx.out(line);
      return;
    }
    default:
      throw new InputError(`Unknown config action "${action}"; expected one of ${CONFIG_ACTIONS.join(', ')}`);
  }
}
