/**
 * Secrets written into the plan. drctl redacts them everywhere it writes, but the plan file itself is
 * in git, in CI logs and on laptops: a password belongs in the environment or a file the plan names.
 */
import { inlineCredentials } from '../../plan/secrets.ts';
import type { Rule } from '../context.ts';
import { finding } from '../findings.ts';

export const inlineSecrets: Rule = (context, report) => {
  for (const credential of inlineCredentials(context.plan))
    report(
      finding(
        'DRCTL_SECRET_INLINE',
        credential.at,
        `a password is written inline in the plan (${credential.text}); anyone who can read the plan file can read it`,
        'leave the password out of the URL and give it through the environment (PGPASSWORD, named in secrets.env) or a file named in secrets.file; see docs/plan.md#secrets',
      ),
    );
};
