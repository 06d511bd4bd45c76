/** Seed 000's contact listing: who a recovery relies on besides its executors and approvers. */
export const CONTACT_CATEGORIES = [
  'business-sme',
  'technical-sme',
  'upstream-support',
  'downstream-support',
  'vendor',
] as const;
