/**
 * `drctl init [DIR] --tier N [--strategy S] [--name NAME]`: a starting plan.yaml for a tier and a strategy,
 * with seed 002's suggested actions for that strategy as steps to fill in. It never overwrites a plan.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import type { Strategy, TierLevel } from '../../plan/model.ts';
import { SUGGESTED_STRATEGY, scaffoldPlan } from '../../plan/scaffold.ts';
import { STRATEGIES } from '../../plan/strategies.ts';
import { printJson, type RegisterCommand } from '../context.ts';

interface InitFlags {
  tier: string;
  strategy?: string;
  name?: string;
  json?: boolean;
}

export const registerInit: RegisterCommand = (program, context) => {
  program
    .command('init')
    .description('write a starting plan.yaml for a tier and a strategy')
    .argument('[dir]', 'directory to write plan.yaml in', '.')
    .requiredOption(
      '-t, --tier <tier>',
      'criticality tier: 0 mission critical, 1 business critical, 2 business operational, 3 administrative',
    )
    .option(
      '-s, --strategy <strategy>',
      `${STRATEGIES.join(', ')} (default: the one seed 002 suggests for the tier)`,
    )
    .option('-n, --name <name>', 'plan name (default: the directory name)')
    .option('--json', 'print what was written as JSON')
    .action(async (dir: string, flags: InitFlags) => {
      if (!/^[0-3]$/.test(flags.tier)) {
        throw new UsageError('DRCTL_INIT_TIER', `tier must be 0, 1, 2 or 3, not "${flags.tier}"`, {
          hint: '0 mission critical, 1 business critical, 2 business operational, 3 administrative',
        });
      }
      const tier = Number(flags.tier) as TierLevel;
      const strategy = (flags.strategy ?? SUGGESTED_STRATEGY[tier]) as Strategy;
      if (!STRATEGIES.includes(strategy)) {
        throw new UsageError('DRCTL_INIT_STRATEGY', `unknown strategy "${flags.strategy}"`, {
          hint: `use one of ${STRATEGIES.join(', ')}`,
        });
      }
      const target = resolve(dir);
      const file = join(target, 'plan.yaml');
      const name = flags.name ?? (basename(target).replace(/[^A-Za-z0-9._-]+/g, '-') || 'my-service');
      await mkdir(target, { recursive: true });
      try {
        // 'wx' fails when the file exists, so two inits racing cannot both write
        await writeFile(file, scaffoldPlan({ tier, strategy, name }), { flag: 'wx' });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') {
          throw new UsageError(
            'DRCTL_INIT_EXISTS',
            `${file} already exists; drctl init never overwrites a plan`,
            {
              hint: 'pick another directory, or move the existing plan.yaml away first',
              cause: error,
            },
          );
        }
        throw new UsageError('DRCTL_INIT_WRITE', `cannot write ${file}: ${code ?? String(error)}`, {
          hint: 'choose a writable directory',
          cause: error,
        });
      }
      if (flags.json) printJson(context, { file, tier, strategy, name });
      else
        context.out.write(
          `wrote ${file} (tier ${tier}, ${strategy})\nnext: drctl validate ${file} && drctl analyze ${file}\n`,
        );
    });
};
