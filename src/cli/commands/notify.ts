/**
 * `drctl notify test PLAN --channel ID`: sends one test message on a channel of the plan now, so a team
 * knows the webhook, the SMTP login or the pager command works before a disaster. The attempt is
 * journaled in the state's `messages` stream like every other message. Exit 0 when it was taken, 1 when
 * the channel failed or the plan has no such channel.
 */
import { stateFlag } from '../state-options.ts';
import { printJson, type RegisterCommand } from '../context.ts';

interface NotifyTestOptions {
  channel: string;
  state: string;
  to?: string[];
  retry?: boolean;
  json?: boolean;
}

export const registerNotify: RegisterCommand = (program, context) => {
  const notify = program.command('notify').description("check the plan's communication channels");
  notify
    .command('test')
    .description('send a test message on one channel of the plan and say whether it was taken')
    .argument('<plan>', 'plan file (YAML)')
    .requiredOption('--channel <id>', 'channel id of communications.channels')
    .option('--to <address...>', 'e-mail addresses the test also goes to (email channels)')
    .option('--retry', "retry as the channel's retry policy says (default: one attempt)")
    .option(...stateFlag('state directory (SQLite) or postgres:// URL; the attempt is journaled there'))
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: NotifyTestOptions) => {
      const [{ loadPlanForCommand }, { openState }, { testChannel }] = await Promise.all([
        import('../load-plan.ts'),
        import('./run-state.ts'),
        import('../../notify/index.ts'),
      ]);
      const plan = await loadPlanForCommand(file);
      const store = await openState({ state: options.state });
      const result = await testChannel(plan, options.channel, {
        store,
        to: options.to ?? [],
        retry: options.retry === true,
      }).finally(() => store.close());
      if (options.json) printJson(context, result);
      else
        context.out.write(
          `sent a test message on ${result.channel} (${result.type}, ${result.target}) in ${result.attempts} attempt${result.attempts === 1 ? '' : 's'}, ${result.ms} ms\n`,
        );
    });
};
